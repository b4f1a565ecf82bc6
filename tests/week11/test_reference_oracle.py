"""The week11 reference solution against torch's own modules, which share none of its code.

rnn_cell against `nn.RNNCell`, rnn_forward against a one-layer `nn.RNN`
(batch_first, h0 passed in) and against `nn.RNNCell` stepped by hand,
lstm_cell against `nn.LSTMCell` (gate order i, f, g, o), each with the weights
copied in; the masked temporal cross-entropy against `F.cross_entropy` summed
over the masked positions and divided by N, and against hand-computed values.
Sizes with a batch of 1, T = 1, H != D and H == D; float32 and float64;
non-contiguous inputs; saturating pre-activations; masks with whole rows False
and every entry True.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week11" / "sequence.py"
DTYPES = [torch.float32, torch.float64]
SIZES = [(4, 3, 5), (1, 2, 3), (3, 4, 4), (2, 1, 1)]            # (N, D, H)


@pytest.fixture(scope="module")
def seq():
    spec = importlib.util.spec_from_file_location("week11_sequence_under_test", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)


def close(actual, expected):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    torch.testing.assert_close(actual, expected, **tol(expected.dtype))


def unmodified(call, *tensors):
    before = [t.clone() for t in tensors]
    out = call(*tensors)
    assert all(torch.equal(t, b) for t, b in zip(tensors, before))
    return out


def weights(module, suffix=""):
    return tuple(getattr(module, n + suffix).detach() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def noncontiguous(t):
    return t.transpose(-1, -2).contiguous().transpose(-1, -2) if t.dim() >= 2 else t.repeat_interleave(2)[::2]


# ---------------------------------------------------------------- rnn_cell
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N, D, H", SIZES)
@pytest.mark.parametrize("scale", [1.0, 50.0], ids=["plain", "saturated"])
def test_rnn_cell_matches_nn_rnncell(seq, N, D, H, dtype, scale):
    torch.manual_seed(N * 100 + D * 10 + H)
    cell = nn.RNNCell(D, H).to(dtype)
    x = scale * torch.randn(N, D, dtype=dtype)
    h = torch.randn(N, H, dtype=dtype)
    with torch.no_grad():
        expected = cell(x, h)
    p = weights(cell)
    close(unmodified(seq.rnn_cell, x, h, *p), expected)
    close(seq.rnn_cell(noncontiguous(x), noncontiguous(h), *map(noncontiguous, p)), expected)
    if scale > 1:
        assert (expected.abs() > 0.99).any()


# ---------------------------------------------------------------- rnn_forward
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N, T, D, H", [(3, 5, 4, 6), (1, 1, 3, 2), (2, 7, 3, 3), (4, 2, 1, 5)])
@pytest.mark.parametrize("zero_h0", [False, True], ids=["h0", "zero-h0"])
def test_rnn_forward_matches_nn_rnn(seq, N, T, D, H, dtype, zero_h0):
    torch.manual_seed(N * 1000 + T * 100 + D * 10 + H)
    rnn = nn.RNN(D, H, batch_first=True).to(dtype)
    x = torch.randn(N, T, D, dtype=dtype)
    h0 = torch.zeros(N, H, dtype=dtype) if zero_h0 else torch.randn(N, H, dtype=dtype)
    with torch.no_grad():
        out, h_n = rnn(x, h0.unsqueeze(0))
    p = weights(rnn, "_l0")
    hs = unmodified(seq.rnn_forward, x, h0, *p)
    close(hs, out)
    close(hs[:, -1], h_n[0])
    # the same with nn.RNNCell stepped by hand, and with a non-contiguous x
    cell = nn.RNNCell(D, H).to(dtype)
    with torch.no_grad():
        for name, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), p):
            getattr(cell, name).copy_(w)
        h, steps = h0, []
        for t in range(T):
            h = cell(x[:, t], h)
            steps.append(h)
    close(hs, torch.stack(steps, dim=1))
    close(seq.rnn_forward(x.transpose(0, 1).contiguous().transpose(0, 1), h0, *p), out)


# ---------------------------------------------------------------- lstm_cell
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N, D, H", SIZES)
@pytest.mark.parametrize("scale", [1.0, 50.0], ids=["plain", "saturated"])
def test_lstm_cell_matches_nn_lstmcell(seq, N, D, H, dtype, scale):
    torch.manual_seed(N * 100 + D * 10 + H + 7)
    cell = nn.LSTMCell(D, H).to(dtype)
    x = scale * torch.randn(N, D, dtype=dtype)
    h = torch.randn(N, H, dtype=dtype)
    c = 3 * torch.randn(N, H, dtype=dtype)
    with torch.no_grad():
        eh, ec = cell(x, (h, c))
    p = weights(cell)
    out = unmodified(seq.lstm_cell, x, h, c, *p)
    assert isinstance(out, tuple) and len(out) == 2
    close(out[0], eh)
    close(out[1], ec)
    nh, nc = seq.lstm_cell(noncontiguous(x), noncontiguous(h), noncontiguous(c), *map(noncontiguous, p))
    close(nh, eh)
    close(nc, ec)


def test_lstm_gate_order_is_i_f_g_o(seq):
    """Gates pinned by their biases alone: i = 1, f = 0, g = tanh(2), o = 1 (zero weights), so
    c_next = tanh(2) whatever c was, and h_next = tanh(tanh(2)); nn.LSTMCell agrees."""
    H, D = 2, 3
    big = 1e3
    b_ih = torch.cat([torch.full((H,), big), torch.full((H,), -big), torch.full((H,), 2.0), torch.full((H,), big)])
    b_ih = b_ih.double()
    zeros = torch.zeros(4 * H, dtype=torch.float64)
    W_ih = torch.zeros(4 * H, D, dtype=torch.float64)
    W_hh = torch.zeros(4 * H, H, dtype=torch.float64)
    x, h, c = torch.randn(1, D).double(), torch.randn(1, H).double(), torch.full((1, H), 5.0).double()
    h_next, c_next = seq.lstm_cell(x, h, c, W_ih, W_hh, b_ih, zeros)
    assert torch.allclose(c_next, torch.full_like(c, math.tanh(2.0)))
    assert torch.allclose(h_next, torch.full_like(c, math.tanh(math.tanh(2.0))))
    cell = nn.LSTMCell(D, H).double()
    with torch.no_grad():
        for name, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), (W_ih, W_hh, b_ih, zeros)):
            getattr(cell, name).copy_(w)
        eh, ec = cell(x, (h, c))
    close(h_next, eh)
    close(c_next, ec)


# ---------------------------------------------------------------- temporal_cross_entropy
def by_cross_entropy(logits, targets, mask):
    N = logits.shape[0]
    if not mask.any():
        return torch.zeros((), dtype=logits.dtype)
    return F.cross_entropy(logits[mask], targets[mask], reduction="sum") / N


def tce_cases(dtype):
    g = torch.Generator().manual_seed(11)
    out = []
    for N, T, V in ((4, 6, 5), (1, 3, 2), (3, 1, 7), (2, 5, 3)):
        logits = 2 * torch.randn(N, T, V, generator=g, dtype=dtype)
        targets = torch.randint(0, V, (N, T), generator=g)
        mask = torch.rand(N, T, generator=g) < 0.6
        out.append((logits, targets, mask))
        out.append((logits, targets, torch.ones(N, T, dtype=torch.bool)))        # every position counts
    logits = torch.randn(3, 4, 5, generator=g, dtype=dtype)
    targets = torch.randint(0, 5, (3, 4), generator=g)
    rows_off = torch.tensor([[False] * 4, [True, True, False, False], [False] * 4])
    out.append((logits, targets, rows_off))                                     # whole rows False
    out.append((logits, targets, torch.zeros(3, 4, dtype=torch.bool)))          # nothing counts: 0
    big = logits.clone()
    big[0] += 1e4
    big[1, 0, (int(targets[1, 0]) + 1) % 5] = 1e4
    big[1, 1, int(targets[1, 1])] = -1e4
    big[2, 3] = -1e4
    out.append((big, targets, torch.ones(3, 4, dtype=torch.bool)))              # logits of +-1e4
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(11))
def test_temporal_cross_entropy_matches_f_cross_entropy(seq, case, dtype):
    logits, targets, mask = tce_cases(dtype)[case]
    loss = unmodified(seq.temporal_cross_entropy, logits, targets, mask)
    assert loss.dim() == 0 and loss.dtype == dtype and torch.isfinite(loss)
    close(loss, by_cross_entropy(logits, targets, mask))
    # the same with ignore_index on the flattened positions, and on non-contiguous inputs
    flat_t = torch.where(mask, targets, torch.full_like(targets, -100)).reshape(-1)
    close(loss, F.cross_entropy(logits.reshape(-1, logits.shape[2]), flat_t, reduction="sum") / logits.shape[0])
    close(seq.temporal_cross_entropy(noncontiguous(logits), noncontiguous(targets), noncontiguous(mask)), loss)


def test_temporal_cross_entropy_by_hand(seq):
    """Uniform logits over V = 4 classes: each counted position costs log 4; 5 positions over N = 2."""
    logits = torch.zeros(2, 3, 4, dtype=torch.float64)
    targets = torch.tensor([[0, 1, 2], [3, 0, 1]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    assert float(seq.temporal_cross_entropy(logits, targets, mask)) == pytest.approx(5 * math.log(4) / 2)
    # a target far ahead costs exactly 0; one far behind costs about 1e4
    logits = torch.zeros(1, 2, 3, dtype=torch.float64)
    logits[0, 0, 1] = 1e4
    logits[0, 1, 2] = 1e4
    targets = torch.tensor([[1, 0]])
    assert float(seq.temporal_cross_entropy(logits, targets, torch.tensor([[True, False]]))) == 0.0
    assert float(seq.temporal_cross_entropy(logits, targets, torch.tensor([[False, True]]))) == pytest.approx(1e4)
