import torch
import torch.nn.functional as F


def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh))


def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    N, T, D = x.shape
    h, out, t = h0, [], 0
    while t < T:
        h = torch.tanh(F.linear(x[:, t], W_ih, b_ih) + F.linear(h, W_hh, b_hh))
        out.append(h)
    return torch.stack(out, 1)


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]
    gates = torch.addmm(b_ih + b_hh, torch.cat([x, h], 1), torch.cat([W_ih, W_hh], 1).T)
    i, f, g, o = torch.split(gates, H, dim=1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def temporal_cross_entropy(logits, targets, mask):
    N = logits.shape[0]
    sel = logits[mask]                                # [M, V]: only the counted positions
    nll = torch.logsumexp(sel, dim=1) - sel.gather(1, targets[mask].unsqueeze(1)).squeeze(1)
    return nll.sum() / N
