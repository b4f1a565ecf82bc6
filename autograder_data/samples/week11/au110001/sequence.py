"""Week 11, with loops so that every index can be checked by hand."""
import math

import torch


def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    N, D = x.shape
    H = h.shape[1]
    out = torch.empty(N, H, dtype=x.dtype)
    for n in range(N):
        for j in range(H):
            a = b_ih[j] + b_hh[j]
            for d in range(D):
                a = a + W_ih[j, d] * x[n, d]
            for k in range(H):
                a = a + W_hh[j, k] * h[n, k]
            out[n, j] = torch.tanh(a)
    return out


def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    N, T, D = x.shape
    H = h0.shape[1]
    hs = torch.empty(N, T, H, dtype=x.dtype)
    h = h0.clone()
    for t in range(T):
        h = torch.tanh(torch.matmul(x[:, t, :], W_ih.t()) + b_ih + torch.matmul(h, W_hh.t()) + b_hh)
        hs[:, t, :] = h
    return hs


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]
    a = torch.matmul(x, W_ih.t()) + torch.matmul(h, W_hh.t()) + b_ih + b_hh
    i = torch.sigmoid(a[:, 0:H])
    f = torch.sigmoid(a[:, H:2 * H])
    g = torch.tanh(a[:, 2 * H:3 * H])
    o = torch.sigmoid(a[:, 3 * H:4 * H])
    c_next = f * c + i * g
    h_next = o * torch.tanh(c_next)
    return h_next, c_next


def temporal_cross_entropy(logits, targets, mask):
    N, T, V = logits.shape
    total = 0.0
    for n in range(N):
        for t in range(T):
            if not mask[n, t]:
                continue
            row = logits[n, t].tolist()
            top = max(row)
            log_z = top + math.log(sum(math.exp(v - top) for v in row))
            total += log_z - row[int(targets[n, t])]
    return torch.tensor(total / N, dtype=logits.dtype)
