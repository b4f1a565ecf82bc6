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
    cell = torch.nn.LSTMCell(W_ih.shape[1], h.shape[1]).to(x.dtype)
    with torch.no_grad():
        cell.weight_ih.copy_(W_ih)
        cell.weight_hh.copy_(W_hh)
        cell.bias_ih.copy_(b_ih)
        cell.bias_hh.copy_(b_hh)
        return cell(x, (h, c))


def temporal_cross_entropy(logits, targets, mask):
    N = logits.shape[0]
    sel = logits[mask]                                # [M, V]: only the counted positions
    nll = torch.logsumexp(sel, dim=1) - sel.gather(1, targets[mask].unsqueeze(1)).squeeze(1)
    return nll.sum() / N
