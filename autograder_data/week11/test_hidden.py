"""Week 11 hidden tests: run only by `dlgrade grade`.

Each function's points are split over values on random inputs, a batch of 1,
H != D and H == D, one step (T = 1), float32 and float64, non-contiguous
inputs (transposed and sliced views, sent with their strides), h0 and c zero
and non-zero, pre-activations large enough that tanh and sigmoid saturate,
masks with whole rows False and all True, logits of +-1e4, and inputs left
unmodified. No test calls one student function to test another.

Points: rnn_cell 3, rnn_forward 4, lstm_cell 4, temporal_cross_entropy 4
(15 in all).
"""

import pytest
import torch

from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


def tol(dtype):
    """Tolerances for a loss compared as a number (a 0-d tensor or a Python float both pass)."""
    return dict(rtol=1e-4, atol=1e-6) if dtype == f32 else dict(rtol=1e-7, atol=1e-10)


def params(rng, D, H, dtype, gates=1, scale=0.5):
    """W_ih [gH, D], W_hh [gH, H], b_ih [gH], b_hh [gH], each entry of size about `scale`."""
    return tuple(scale * torch.randn(*s, dtype=dtype, generator=rng)
                 for s in ((gates * H, D), (gates * H, H), (gates * H,), (gates * H,)))


# ---------------------------------------------------------------- wrong answers, for hints
def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh, *, no_b_hh=False, no_b_ih=False, whh_t=False, wih_t=False,
             no_tanh=False):
    """One RNN step done right, or wrong in the way the flags say."""
    a = x @ (W_ih if wih_t else W_ih.T) + h @ (W_hh if whh_t else W_hh.T)
    a = a + (0 if no_b_ih else b_ih) + (0 if no_b_hh else b_hh)
    return a if no_tanh else torch.tanh(a)


RNN_CELL_HINTS = {
    "b_hh is missing: h_next = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh) has both biases": dict(no_b_hh=True),
    "b_ih is missing: h_next = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh) has both biases": dict(no_b_ih=True),
    "W_hh is used transposed: the recurrent term is h @ W_hh.T (W_hh[j, k] maps h[k] to row j)": dict(whh_t=True),
    "W_ih is used transposed: W_ih is [H, D], the input term is x @ W_ih.T": dict(wih_t=True),
    "tanh is missing: h_next is tanh of the pre-activation": dict(no_tanh=True),
}


def rnn_run(x, h0, W_ih, W_hh, b_ih, b_hh, *, shifted=False, zero_h0=False, **step_flags):
    """All hidden states done right or wrong; shifted: [h0, h_0, ..., h_{T-2}] (the state before each step)."""
    h = torch.zeros_like(h0) if zero_h0 else h0
    states = []
    for t in range(x.shape[1]):
        if shifted:
            states.append(h)
        h = rnn_step(x[:, t], h, W_ih, W_hh, b_ih, b_hh, **step_flags)
        if not shifted:
            states.append(h)
    return torch.stack(states, dim=1)


RNN_FORWARD_HINTS = {
    "the states are shifted by one step: hs[:, t] is the state AFTER reading x[:, t] (h0 is not in the output)":
        dict(shifted=True),
    "h0 is ignored: the first step must start from the given h0, not from zeros": dict(zero_h0=True),
    "b_hh is missing in the recurrence: each step adds both biases": dict(no_b_hh=True),
    "W_hh is used transposed in the recurrence: the recurrent term is h @ W_hh.T": dict(whh_t=True),
}


def check_states(out, expected, x, h0, params_, name="hs"):
    """rnn_forward's answer: every state, with hints for the common mistakes."""
    N, T, H = expected.shape
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (N, H) and T > 1:
        fail(f"{name} has shape {list(out.shape)}, expected {[N, T, H]}: rnn_forward must return EVERY hidden "
             "state [N, T, H], not only the last one")
    if isinstance(out, (tuple, list)):
        fail(f"{name} should be one tensor of shape {[N, T, H]} (every hidden state), got a "
             f"{type(out).__name__} of {len(out)} items")
    check(out, expected, name=name,
          hints={text: (lambda f=flags: rnn_run(x, h0, *params_, **f)) for text, flags in RNN_FORWARD_HINTS.items()})


def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh, *, order="ifgo", use_h=False, no_tanh_c=False, no_b_hh=False,
              tanh_all=False):
    """One LSTM step done right, or wrong: `order` names the gates as the answer reads the four blocks."""
    a = x @ W_ih.T + b_ih + h @ W_hh.T + (0 if no_b_hh else b_hh)
    blocks = dict(zip(order, a.chunk(4, dim=1)))
    act = torch.tanh if tanh_all else torch.sigmoid
    i, f, g, o = act(blocks["i"]), act(blocks["f"]), torch.tanh(blocks["g"]), act(blocks["o"])
    c_next = f * (h if use_h else c) + i * g
    h_next = o * (c_next if no_tanh_c else torch.tanh(c_next))
    return h_next, c_next


LSTM_HINTS = {
    "the gates are in the wrong order: torch's order along the 4H axis is i, f, g, o (not i, f, o, g)":
        dict(order="ifog"),
    "the gates are in the wrong order: torch's order along the 4H axis is i, f, g, o (not f, i, g, o)":
        dict(order="figo"),
    "the gates are in the wrong order: torch's order along the 4H axis is i, f, g, o (not i, g, f, o)":
        dict(order="igfo"),
    "the cell update uses h instead of c: c_next = f * c + i * g": dict(use_h=True),
    "tanh is missing in the output: h_next = o * tanh(c_next)": dict(no_tanh_c=True),
    "b_hh is missing: the pre-activations add both biases": dict(no_b_hh=True),
    "the gate g is a tanh, but i, f and o are sigmoids": dict(tanh_all=True),
}


def check_lstm(out, expected, args, name="(h_next, c_next)"):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"a {type(out).__name__} of {len(out)} items" if isinstance(out, (tuple, list)) else (
            "None (did the function forget to return?)" if out is None else f"a {type(out).__name__}")
        fail(f"lstm_cell should return a tuple (h_next, c_next), got {got}")
    check(tuple(out), expected, name=name,
          hints={text: (lambda f=flags: lstm_step(*args, **f)) for text, flags in LSTM_HINTS.items()})


def ce_terms(logits, targets):
    """-log p[n, t, targets[n, t]], stable, in float64: [N, T]."""
    lg = logits.double()
    lp = lg - lg.amax(dim=2, keepdim=True)
    lp = lp - lp.exp().sum(dim=2, keepdim=True).log()
    return -lp.gather(2, targets.unsqueeze(2)).squeeze(2)


def check_tce(out, expected, logits, targets, mask, dtype):
    if isinstance(out, torch.Tensor) and out.numel() != 1:
        fail(f"temporal_cross_entropy should return one number (a 0-d tensor), got a tensor of shape {list(out.shape)}")
    if isinstance(out, torch.Tensor) and not torch.isfinite(out).all() or isinstance(out, float) and (
            out != out or abs(out) == float("inf")):
        fail("temporal_cross_entropy is not finite (inf or NaN): exp of large logits overflows, log of a "
             "probability that underflowed to 0, or a division by a count of 0; subtract the max and work "
             "with log-probabilities")
    N, T = targets.shape
    terms = lambda: ce_terms(logits, targets)  # noqa: E731
    count = int(mask.sum())
    hints = {
        "divided by the number of counted positions (a mean over the mask); the contract divides the sum by N":
            lambda: float((terms() * mask).sum()) / count if count else None,
        "the mask is ignored: positions where mask is False must not count":
            lambda: float(terms().sum()) / N,
        "divided by N*T (a mean over all positions); the contract divides the sum over the mask by N":
            lambda: float((terms() * mask).sum()) / (N * T),
        "not divided by N: the loss is the sum over the counted positions divided by N":
            lambda: float((terms() * mask).sum()),
    }
    check(out, float(expected), name="loss", **tol(dtype), hints=hints)


def run_tce(student, reference, logits, targets, mask, sent=None):
    args = (logits, targets, mask) if sent is None else sent
    out = student.temporal_cross_entropy(*args)
    check_unmodified(student)
    check_tce(out, reference.temporal_cross_entropy(logits, targets, mask), logits, targets, mask, logits.dtype)


def transposed(t):
    """The same values as a non-contiguous view (its last two dimensions swapped, then swapped back)."""
    return t.transpose(-1, -2).contiguous().transpose(-1, -2)


def sliced(t, dim=0):
    """The same values as a non-contiguous view: every other entry of a tensor twice as large along dim."""
    shape = list(t.shape)
    shape[dim] *= 2
    big = torch.zeros(shape, dtype=t.dtype)
    index = [slice(None)] * t.dim()
    index[dim] = slice(0, None, 2)
    big[tuple(index)] = t
    return big[tuple(index)]


# ------------------------------------------------------------------ rnn_cell (3)
def run_rnn_cell(student, reference, x, h, p, sent=None):
    args = (x, h, *p) if sent is None else sent
    out = student.rnn_cell(*args)
    check_unmodified(student)
    check(out, reference.rnn_cell(x, h, *p), name="h_next",
          hints={t: (lambda f=f: rnn_step(x, h, *p, **f)) for t, f in RNN_CELL_HINTS.items()})


@pytest.mark.function("rnn_cell")
@pytest.mark.points(1)
def test_rnn_cell_values(student, reference, rng):
    """N = 6, D = 5, H = 3, a non-zero h, float64"""
    run_rnn_cell(student, reference, torch.randn(6, 5, dtype=f64, generator=rng),
                 torch.randn(6, 3, dtype=f64, generator=rng), params(rng, 5, 3, f64))


@pytest.mark.function("rnn_cell")
@pytest.mark.points(0.5)
def test_rnn_cell_edge_sizes(student, reference, rng):
    """H == D (where a transposed W_ih has the right shape); a batch of 1; H = 1; D = 1; float32"""
    for n, d, hd in ((3, 4, 4), (1, 4, 3), (5, 3, 1), (4, 1, 6)):
        run_rnn_cell(student, reference, torch.randn(n, d, dtype=f32, generator=rng),
                     torch.randn(n, hd, dtype=f32, generator=rng), params(rng, d, hd, f32))


@pytest.mark.function("rnn_cell")
@pytest.mark.points(0.5)
def test_rnn_cell_views(student, reference, rng):
    """non-contiguous x, h, W_ih, W_hh and biases (transposed and sliced views), float64"""
    x = torch.randn(4, 3, dtype=f64, generator=rng)
    h = torch.randn(4, 5, dtype=f64, generator=rng)
    p = params(rng, 3, 5, f64)
    run_rnn_cell(student, reference, x, h, p,
                 sent=(transposed(x), sliced(h, 1), transposed(p[0]), sliced(p[1], 0), sliced(p[2]), sliced(p[3])))


@pytest.mark.function("rnn_cell")
@pytest.mark.points(0.5)
def test_rnn_cell_saturated(student, reference, rng):
    """pre-activations of size 1e2 to 1e4, where tanh is exactly +-1; float32 and float64"""
    for dtype, scale in ((f32, 1e2), (f64, 1e4)):
        run_rnn_cell(student, reference, scale * torch.randn(5, 3, dtype=dtype, generator=rng),
                     scale * torch.randn(5, 4, dtype=dtype, generator=rng), params(rng, 3, 4, dtype, scale=1.0))


@pytest.mark.function("rnn_cell")
@pytest.mark.points(0.5)
def test_rnn_cell_zeros(student, reference, rng):
    """h = 0 (the first step of a sequence); then x = 0 and h = 0: h_next = tanh(b_ih + b_hh); float64"""
    p = params(rng, 3, 4, f64)
    run_rnn_cell(student, reference, torch.randn(5, 3, dtype=f64, generator=rng), torch.zeros(5, 4, dtype=f64), p)
    run_rnn_cell(student, reference, torch.zeros(2, 3, dtype=f64), torch.zeros(2, 4, dtype=f64), p)


# ------------------------------------------------------------------ rnn_forward (4)
def run_rnn(student, reference, x, h0, p, sent=None):
    args = (x, h0, *p) if sent is None else sent
    out = student.rnn_forward(*args)
    check_unmodified(student)
    check_states(out, reference.rnn_forward(x, h0, *p), x, h0, p)


@pytest.mark.function("rnn_forward")
@pytest.mark.points(1)
def test_rnn_forward_values(student, reference, rng):
    """N = 3, T = 6, D = 4, H = 5, a non-zero h0, float64"""
    run_rnn(student, reference, torch.randn(3, 6, 4, dtype=f64, generator=rng),
            torch.randn(3, 5, dtype=f64, generator=rng), params(rng, 4, 5, f64))


@pytest.mark.function("rnn_forward")
@pytest.mark.points(1)
def test_rnn_forward_edge_sizes(student, reference, rng):
    """one step (T = 1); a batch of 1; H = 1; H == D; float32"""
    for n, t, d, hd in ((4, 1, 3, 2), (1, 5, 2, 3), (3, 4, 2, 1), (2, 3, 4, 4)):
        run_rnn(student, reference, torch.randn(n, t, d, dtype=f32, generator=rng),
                torch.randn(n, hd, dtype=f32, generator=rng), params(rng, d, hd, f32))


@pytest.mark.function("rnn_forward")
@pytest.mark.points(0.5)
def test_rnn_forward_zero_h0(student, reference, rng):
    """h0 = 0, float64"""
    run_rnn(student, reference, torch.randn(2, 5, 3, dtype=f64, generator=rng), torch.zeros(2, 4, dtype=f64),
            params(rng, 3, 4, f64))


@pytest.mark.function("rnn_forward")
@pytest.mark.points(0.5)
def test_rnn_forward_views(student, reference, rng):
    """x a permuted view of a [T, N, D] tensor, h0 transposed, W_hh sliced; float64"""
    x = torch.randn(3, 4, 2, dtype=f64, generator=rng)
    h0 = torch.randn(3, 5, dtype=f64, generator=rng)
    p = params(rng, 2, 5, f64)
    x_view = x.transpose(0, 1).contiguous().transpose(0, 1)
    run_rnn(student, reference, x, h0, p, sent=(x_view, transposed(h0), p[0], sliced(p[1], 1), p[2], p[3]))


@pytest.mark.function("rnn_forward")
@pytest.mark.points(1)
def test_rnn_forward_long_saturated(student, reference, rng):
    """T = 30 with inputs of size 1e2 (every state saturates at +-1), float32; T = 12 with large weights, float64"""
    run_rnn(student, reference, 1e2 * torch.randn(2, 30, 3, dtype=f32, generator=rng),
            torch.randn(2, 4, dtype=f32, generator=rng), params(rng, 3, 4, f32))
    run_rnn(student, reference, torch.randn(3, 12, 2, dtype=f64, generator=rng),
            torch.randn(3, 3, dtype=f64, generator=rng), params(rng, 2, 3, f64, scale=5.0))


# ------------------------------------------------------------------ lstm_cell (4)
def run_lstm(student, reference, args, sent=None):
    out = student.lstm_cell(*(args if sent is None else sent))
    check_unmodified(student)
    check_lstm(out, reference.lstm_cell(*args), args)


def lstm_args(rng, n, d, hd, dtype, *, scale=0.5, zero=False):
    x = torch.randn(n, d, dtype=dtype, generator=rng)
    h = torch.zeros(n, hd, dtype=dtype) if zero else torch.randn(n, hd, dtype=dtype, generator=rng)
    c = torch.zeros(n, hd, dtype=dtype) if zero else 2 * torch.randn(n, hd, dtype=dtype, generator=rng)
    return (x, h, c, *params(rng, d, hd, dtype, gates=4, scale=scale))


@pytest.mark.function("lstm_cell")
@pytest.mark.points(1)
def test_lstm_cell_values(student, reference, rng):
    """N = 5, D = 3, H = 4, non-zero h and c, float64"""
    run_lstm(student, reference, lstm_args(rng, 5, 3, 4, f64, scale=1.0))


@pytest.mark.function("lstm_cell")
@pytest.mark.points(1)
def test_lstm_cell_edge_sizes(student, reference, rng):
    """a batch of 1; H = 1; D = 1; H == D; float32"""
    for n, d, hd in ((1, 3, 2), (4, 2, 1), (3, 1, 3), (2, 3, 3)):
        run_lstm(student, reference, lstm_args(rng, n, d, hd, f32, scale=1.0))


@pytest.mark.function("lstm_cell")
@pytest.mark.points(0.5)
def test_lstm_cell_zero_state(student, reference, rng):
    """h = c = 0 (the first step); float64"""
    run_lstm(student, reference, lstm_args(rng, 4, 3, 2, f64, scale=1.0, zero=True))


@pytest.mark.function("lstm_cell")
@pytest.mark.points(0.5)
def test_lstm_cell_views(student, reference, rng):
    """non-contiguous x, h, c, W_ih, W_hh and biases; float64"""
    args = lstm_args(rng, 3, 4, 2, f64, scale=1.0)
    x, h, c, W_ih, W_hh, b_ih, b_hh = args
    run_lstm(student, reference, args, sent=(transposed(x), sliced(h, 1), transposed(c), transposed(W_ih),
                                             sliced(W_hh, 0), sliced(b_ih), sliced(b_hh)))


@pytest.mark.function("lstm_cell")
@pytest.mark.points(1)
def test_lstm_cell_saturated(student, reference, rng):
    """pre-activations of size 1e2 to 1e4 (every gate exactly 0 or 1) and a cell state of size 1e3;
    float32 and float64"""
    for dtype, scale in ((f32, 1e2), (f64, 1e4)):
        x, h, c, *p = lstm_args(rng, 4, 3, 2, dtype, scale=1.0)
        run_lstm(student, reference, (scale * x, h, 1e3 * c, *p))


# ------------------------------------------------------------------ temporal_cross_entropy (4)
def masks(rng, n, t):
    return torch.rand(n, t, generator=rng) < 0.6


@pytest.mark.function("temporal_cross_entropy")
@pytest.mark.points(1)
def test_temporal_cross_entropy_values(student, reference, rng):
    """N = 4, T = 6, V = 5, a random mask, float64"""
    mask = masks(rng, 4, 6)
    mask[0, 0] = True
    run_tce(student, reference, 2 * torch.randn(4, 6, 5, dtype=f64, generator=rng),
            torch.randint(0, 5, (4, 6), generator=rng), mask)


@pytest.mark.function("temporal_cross_entropy")
@pytest.mark.points(1)
def test_temporal_cross_entropy_masks(student, reference, rng):
    """every position counts; whole rows False (padding only); one position in all; float64"""
    logits = torch.randn(3, 4, 6, dtype=f64, generator=rng)
    targets = torch.randint(0, 6, (3, 4), generator=rng)
    run_tce(student, reference, logits, targets, torch.ones(3, 4, dtype=torch.bool))
    run_tce(student, reference, logits, targets, torch.tensor([[False] * 4, [True, True, False, False], [False] * 4]))
    one = torch.zeros(3, 4, dtype=torch.bool)
    one[2, 3] = True
    run_tce(student, reference, logits, targets, one)


@pytest.mark.function("temporal_cross_entropy")
@pytest.mark.points(1)
def test_temporal_cross_entropy_large_logits(student, reference, rng):
    """logits of +-1e4 where a target's probability underflows to 0, some masked out; float64 and float32"""
    for dtype in (f64, f32):
        logits = torch.randn(3, 4, 5, dtype=dtype, generator=rng)
        targets = torch.randint(0, 5, (3, 4), generator=rng)
        logits[0] += 1e4
        logits[1, 0, (int(targets[1, 0]) + 1) % 5] = 1e4       # a wrong class far ahead: a term of about 1e4
        logits[1, 1, int(targets[1, 1])] = -1e4                # the target far behind
        logits[2, 2, int(targets[2, 2])] = 1e4                 # the target far ahead: a term of exactly 0
        logits[2, 3] = -1e4                                    # a masked-out position of huge logits
        mask = torch.ones(3, 4, dtype=torch.bool)
        mask[2, 3] = False
        mask[0, 1] = False
        run_tce(student, reference, logits, targets, mask)


@pytest.mark.function("temporal_cross_entropy")
@pytest.mark.points(0.5)
def test_temporal_cross_entropy_edge_sizes(student, reference, rng):
    """a batch of 1; one step (T = 1); two classes; float32"""
    run_tce(student, reference, torch.randn(1, 5, 3, dtype=f32, generator=rng),
            torch.randint(0, 3, (1, 5), generator=rng), torch.tensor([[True, False, True, True, False]]))
    run_tce(student, reference, torch.randn(4, 1, 6, dtype=f32, generator=rng),
            torch.randint(0, 6, (4, 1), generator=rng), torch.tensor([[True], [False], [True], [True]]))
    run_tce(student, reference, torch.randn(3, 5, 2, dtype=f32, generator=rng),
            torch.randint(0, 2, (3, 5), generator=rng), masks(rng, 3, 5))


@pytest.mark.function("temporal_cross_entropy")
@pytest.mark.points(0.5)
def test_temporal_cross_entropy_views(student, reference, rng):
    """logits a permuted view of [N, V, T] scores, targets and mask sliced views; float64"""
    logits = torch.randn(3, 5, 4, dtype=f64, generator=rng)
    targets = torch.randint(0, 4, (3, 5), generator=rng)
    mask = masks(rng, 3, 5)
    mask[:, 0] = True
    run_tce(student, reference, logits, targets, mask,
            sent=(transposed(logits), sliced(targets, 1), sliced(mask, 0)))
