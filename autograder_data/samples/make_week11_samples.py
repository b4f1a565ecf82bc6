#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week11/: a sample class for week11 (`sequence.py`).

    python autograder_data/samples/make_week11_samples.py

Deterministic (running it twice gives the same bytes); standard library only.

- correct (au110001-au110005): plain loops over the batch, the time steps and the gates;
  vectorised with F.linear, the input projection of every step at once, torch.split and
  logsumexp; cell classes of its own (named RNNCell and LSTMCell, in a helper module)
  computing in float64 and returning the loss as a Python float; a notebook; a zip.
- wrong (au110006-au110010, au110015): one function broken the way students do (gates read
  as i, f, o, g; only the last state returned; a mean over the mask; nn.LSTMCell with copied
  weights (banned); b_hh forgotten; log(softmax) without the max).
- partial (au110011): two functions still raise NotImplementedError.
- broken (au110012-au110014): a syntax error, a missing function, an endless time loop.
"""

from __future__ import annotations

from pathlib import Path

from samplekit import Entry, notebook_cells_from_module, remove_function, replace_function, replace_text, src, \
    stub, write_class

HERE = Path(__file__).resolve().parent
WEEK = "week11"
FUNCTIONS = ["rnn_cell", "rnn_forward", "lstm_cell", "temporal_cross_entropy"]
ALL = list(FUNCTIONS)

# au110001: explicit loops, every index written out.
LOOPS = src('''
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
''')

# au110002: vectorised, different from the reference at every step.
VECTORISED = src('''
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
        N = logits.shape[0]
        sel = logits[mask]                                # [M, V]: only the counted positions
        nll = torch.logsumexp(sel, dim=1) - sel.gather(1, targets[mask].unsqueeze(1)).squeeze(1)
        return nll.sum() / N
''')

# au110003: cell classes of its own, in a helper module (named like torch's, but its own);
# float64 inside, cast back; the loss as a Python float.
OWN_CELLS = src('''
    """Cell classes like the lecture's, written by hand."""
    import torch


    class RNNCell:
        def __init__(self, W_ih, W_hh, b_ih, b_hh):
            self.W_ih, self.W_hh = W_ih.double(), W_hh.double()
            self.b = (b_ih + b_hh).double()

        def __call__(self, x, h):
            return torch.tanh(x.double() @ self.W_ih.T + h.double() @ self.W_hh.T + self.b)


    class LSTMCell:
        def __init__(self, W_ih, W_hh, b_ih, b_hh):
            self.W = torch.cat([W_ih, W_hh], dim=1).double()
            self.b = (b_ih + b_hh).double()

        def __call__(self, x, h, c):
            z = torch.cat([x, h], dim=1).double() @ self.W.T + self.b
            i, f, g, o = z.chunk(4, dim=1)
            c2 = f.sigmoid() * c.double() + i.sigmoid() * g.tanh()
            return o.sigmoid() * c2.tanh(), c2


    def log_softmax_last(s):
        m = s.max(dim=-1, keepdim=True).values
        return s - m - (s - m).exp().sum(dim=-1, keepdim=True).log()
''')
OWN = src('''
    """Week 11 with cell objects, like the lecture notes."""
    import torch

    from cells import LSTMCell, RNNCell, log_softmax_last


    def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
        return RNNCell(W_ih, W_hh, b_ih, b_hh)(x, h).to(x.dtype)


    def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
        cell = RNNCell(W_ih, W_hh, b_ih, b_hh)
        h, states = h0, []
        for t in range(x.shape[1]):
            h = cell(x[:, t], h)
            states.append(h)
        return torch.stack(states, dim=1).to(x.dtype)


    def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
        h2, c2 = LSTMCell(W_ih, W_hh, b_ih, b_hh)(x, h, c)
        return h2.to(x.dtype), c2.to(x.dtype)


    def temporal_cross_entropy(logits, targets, mask):
        lp = log_softmax_last(logits.double())
        picked = torch.take_along_dim(lp, targets[..., None], dim=-1)[..., 0]
        return -(picked * mask.double()).sum().item() / logits.shape[0]
''')

BASE = VECTORISED


def build_class() -> list[Entry]:
    e = []
    e.append(Entry("au110001", "folder", "correct", [],
                   "plain loops: every unit of the RNN cell by hand, a per-position loop with math.log in the loss",
                   files={"sequence.py": LOOPS}))
    e.append(Entry("au110002", "folder", "correct", [],
                   "vectorised: F.linear, every step's input term at once, one addmm for the four gates, "
                   "torch.split, logsumexp on the masked positions", files={"sequence.py": VECTORISED}))
    e.append(Entry("au110003", "folder", "correct", [],
                   "cell classes of its own named RNNCell and LSTMCell in a helper module cells.py; float64 inside, "
                   "cast back; the loss as a Python float", files={"sequence.py": OWN, "cells.py": OWN_CELLS}))
    cells = notebook_cells_from_module(VECTORISED, "# Week 11: RNN and LSTM\nau110004", FUNCTIONS, [
        ("markdown", "## Checks against torch"),
        ("code", "ref = torch.nn.LSTMCell(3, 2)\nx, h, c = torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 2)\n"
                 "p = [ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh]\n"
                 "print(torch.allclose(lstm_cell(x, h, c, *p)[0], ref(x, (h, c))[0]))\n"
                 "lg, tg = torch.randn(2, 3, 5), torch.randint(0, 5, (2, 3))\n"
                 "print(temporal_cross_entropy(lg, tg, torch.ones(2, 3, dtype=torch.bool)), "
                 "F.cross_entropy(lg.reshape(6, 5), tg.reshape(6), reduction='sum') / 2)"),
    ])
    e.append(Entry("au110004", "ipynb", "correct", [],
                   "Colab notebook, vectorised; intake drops !pip, %matplotlib and the top-level checks that build "
                   "nn.LSTMCell and call F.cross_entropy (banned inside the functions, not in a check cell)",
                   cells=cells))
    e.append(Entry("au110005", "zip", "correct", [],
                   "zip made like dlgrade submit with two files (sequence.py imports cells.py)",
                   files={"sequence.py": OWN, "cells.py": OWN_CELLS}))

    e.append(Entry("au110006", "folder", "wrong", ["lstm_cell"],
                   "lstm_cell reads the four gates as i, f, o, g instead of torch's i, f, g, o",
                   files={"sequence.py": replace_text(BASE, "i, f, g, o = torch.split(gates, H, dim=1)",
                                                      "i, f, o, g = torch.split(gates, H, dim=1)")}))
    e.append(Entry("au110007", "folder", "wrong", ["rnn_forward"],
                   "rnn_forward returns only the last hidden state [N, H], like nn.RNN's h_n",
                   files={"sequence.py": replace_text(BASE, "return torch.stack(out, 1)", "return h")}))
    e.append(Entry("au110008", "folder", "wrong", ["temporal_cross_entropy"],
                   "temporal_cross_entropy averages over the counted positions instead of dividing by N",
                   files={"sequence.py": replace_text(BASE, "return nll.sum() / N", "return nll.mean()")}))
    e.append(Entry("au110009", "folder", "wrong", ["lstm_cell"],
                   "lstm_cell copies the weights into nn.LSTMCell (values right): banned, scores 0 as banned",
                   files={"sequence.py": replace_function(BASE, '''
                       def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
                           cell = torch.nn.LSTMCell(W_ih.shape[1], h.shape[1]).to(x.dtype)
                           with torch.no_grad():
                               cell.weight_ih.copy_(W_ih)
                               cell.weight_hh.copy_(W_hh)
                               cell.bias_ih.copy_(b_ih)
                               cell.bias_hh.copy_(b_hh)
                               return cell(x, (h, c))
                   ''')}))
    e.append(Entry("au110010", "folder", "wrong", ["rnn_cell"],
                   "rnn_cell forgets b_hh (rnn_forward adds both biases and is right)",
                   files={"sequence.py": replace_text(BASE, "F.linear(h, W_hh, b_hh)", "F.linear(h, W_hh)")}))
    e.append(Entry("au110011", "folder", "partial", ["lstm_cell", "temporal_cross_entropy"],
                   "rnn_cell and rnn_forward done; lstm_cell and temporal_cross_entropy raise NotImplementedError",
                   files={"sequence.py": stub(LOOPS, "lstm_cell", "temporal_cross_entropy")}))

    e.append(Entry("au110012", "folder", "broken", ALL,
                   "syntax error (a def without its colon): gradable, scores 0 everywhere",
                   files={"sequence.py": replace_text(VECTORISED, "def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):",
                                                      "def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh)")}))
    e.append(Entry("au110013", "folder", "broken", ["rnn_forward"],
                   "rnn_forward is not defined; the other three are right",
                   files={"sequence.py": remove_function(OWN, "rnn_forward"), "cells.py": OWN_CELLS}))
    e.append(Entry("au110014", "folder", "broken", ["rnn_forward"],
                   "rnn_forward walks the time steps with a while loop and forgets t += 1: an endless loop "
                   "(only the rnn_forward tests time out)",
                   files={"sequence.py": replace_function(VECTORISED, '''
                       def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
                           N, T, D = x.shape
                           h, out, t = h0, [], 0
                           while t < T:
                               h = torch.tanh(F.linear(x[:, t], W_ih, b_ih) + F.linear(h, W_hh, b_hh))
                               out.append(h)
                           return torch.stack(out, 1)
                   ''')}))
    e.append(Entry("au110015", "folder", "wrong", ["temporal_cross_entropy"],
                   "temporal_cross_entropy takes log(softmax) of the raw logits: inf and NaN at +-1e4 "
                   "(caught by the hidden tests only)",
                   files={"sequence.py": replace_function(BASE, '''
                       def temporal_cross_entropy(logits, targets, mask):
                           p = logits.exp() / logits.exp().sum(dim=-1, keepdim=True)
                           logp = p.log().gather(2, targets[..., None])[..., 0]
                           return -(logp * mask).sum() / logits.shape[0]
                   ''')}))
    return e


def main() -> None:
    write_class(HERE / WEEK, WEEK, FUNCTIONS, build_class(), "make_week11_samples.py", may_not_compile=("au110012",))


if __name__ == "__main__":
    main()
