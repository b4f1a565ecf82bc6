import torch
import torch.nn.functional as F


def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh))


def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    xw = F.linear(x, W_ih, b_ih + b_hh)              # [N, T, H]: every step's input term at once
    h = h0
    out = []
    for xt in xw.unbind(1):
        h = torch.tanh(xt + h @ W_hh.T)
        out.append(h)
    return torch.stack(out, 1)


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]
    gates = torch.addmm(b_ih + b_hh, torch.cat([x, h], 1), torch.cat([W_ih, W_hh], 1).T)
    i, f, g, o = torch.split(gates, H, dim=1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def temporal_cross_entropy(logits, targets, mask):
    p = logits.exp() / logits.exp().sum(dim=-1, keepdim=True)
    logp = p.log().gather(2, targets[..., None])[..., 0]
    return -(logp * mask).sum() / logits.shape[0]
