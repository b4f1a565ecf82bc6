"""Week 11 with cell objects, like the lecture notes."""
import torch

from cells import LSTMCell, RNNCell, log_softmax_last


def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return RNNCell(W_ih, W_hh, b_ih, b_hh)(x, h).to(x.dtype)


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    h2, c2 = LSTMCell(W_ih, W_hh, b_ih, b_hh)(x, h, c)
    return h2.to(x.dtype), c2.to(x.dtype)


def temporal_cross_entropy(logits, targets, mask):
    lp = log_softmax_last(logits.double())
    picked = torch.take_along_dim(lp, targets[..., None], dim=-1)[..., 0]
    return -(picked * mask.double()).sum().item() / logits.shape[0]
