"""Week 11: recurrent networks by hand: a vanilla RNN cell, an RNN over a whole
sequence, an LSTM cell, and the masked cross-entropy of a sequence of predictions.

Conventions (the same in every function):
- A batch of N sequences of T steps, each step a vector of D features: x is
  `[N, T, D]`; one step is `[N, D]`. Hidden (and LSTM cell) states are `[N, H]`.
- Weights are laid out as in torch's `nn.RNNCell` and `nn.LSTMCell`: W_ih is
  `[H, D]` (or `[4H, D]`), W_hh is `[H, H]` (or `[4H, H]`), so a step computes
  `x @ W_ih.T + b_ih + h @ W_hh.T + b_hh`. Both biases are used.
- Results have the input's dtype and device (float32 or float64). Never modify
  an input in place.
- Banned (the point is to write them): `nn.RNN`, `nn.RNNCell`, `nn.LSTM`,
  `nn.LSTMCell` (and their base classes), `torch.rnn_tanh`, `torch.rnn_tanh_cell`,
  `torch.lstm`, `torch.lstm_cell`, `F.cross_entropy` (and `nn.CrossEntropyLoss`,
  which calls it). Every other spelling of the same torch operators counts too
  (`torch.ops.aten...`, `torch._VF...`): the grader sees the operator.
  Everything else in torch is allowed: `torch.tanh`, `torch.sigmoid`,
  `log_softmax`, `logsumexp`, your own helper functions and classes.
"""

import torch


def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """One step of a vanilla (tanh) RNN, like `nn.RNNCell`.

    Inputs:
    - x: this step's input, shape [N, D]
    - h: the previous hidden state, shape [N, H]
    - W_ih: input-to-hidden weights, shape [H, D]
    - W_hh: hidden-to-hidden weights, shape [H, H]
    - b_ih: shape [H]
    - b_hh: shape [H]

    Returns:
    - h_next: shape [N, H],
        h_next = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
    """
    # TODO: your code here
    raise NotImplementedError("rnn_cell")


def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    """A vanilla (tanh) RNN run over a whole sequence, like a one-layer `nn.RNN`
    with batch_first=True.

    Inputs:
    - x: the inputs, shape [N, T, D] (T >= 1 steps)
    - h0: the initial hidden state, shape [N, H] (not necessarily zero)
    - W_ih [H, D], W_hh [H, H], b_ih [H], b_hh [H]: as in rnn_cell

    Returns:
    - hs: EVERY hidden state, shape [N, T, H]:
        h_t = tanh(x[:, t] @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh),  t = 0..T-1,
      with h_{-1} = h0. hs[:, t] is h_t, the state after reading x[:, t]; h0 itself
      is not part of the output, and hs[:, -1] is the last state.
    """
    # TODO: your code here
    raise NotImplementedError("rnn_forward")


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One step of an LSTM, like `nn.LSTMCell`.

    Inputs:
    - x: this step's input, shape [N, D]
    - h: the previous hidden state, shape [N, H]
    - c: the previous cell state, shape [N, H]
    - W_ih: shape [4H, D]; W_hh: shape [4H, H]; b_ih, b_hh: shape [4H]

    The pre-activations a = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, shape [N, 4H],
    hold the four gates in the order i, f, g, o (torch's order), each H wide:
        i = sigmoid(a[:, 0:H])        input gate
        f = sigmoid(a[:, H:2H])       forget gate
        g = tanh(a[:, 2H:3H])         candidate cell
        o = sigmoid(a[:, 3H:4H])      output gate

    Returns a tuple (h_next, c_next), each of shape [N, H]:
        c_next = f * c + i * g
        h_next = o * tanh(c_next)
    """
    # TODO: your code here
    raise NotImplementedError("lstm_cell")


def temporal_cross_entropy(logits, targets, mask):
    """The cross-entropy of a sequence of predictions, counted only where mask is True.

    Inputs:
    - logits: unnormalised scores, shape [N, T, V] (V classes, e.g. a vocabulary)
    - targets: int64 class indices, shape [N, T], values in 0..V-1 everywhere
      (positions where mask is False hold valid indices too, but do not count)
    - mask: bool, shape [N, T]; True where the position counts (False: padding).
      A whole row may be False, and every entry may be True.

    Returns:
    - loss: a 0-d tensor (a Python float is accepted too):
        loss = (1/N) * sum_{n, t with mask[n, t]} -log softmax(logits[n, t])[targets[n, t]]
      the SUM over the counted positions divided by N, the number of sequences
      (not by the number of counted positions, and not by N*T).

    Stable for logits of +-1e4: compute log-probabilities as
    s - max(s) - log(sum(exp(s - max(s)))), never log(softmax(s)).
    """
    # TODO: your code here
    raise NotImplementedError("temporal_cross_entropy")
