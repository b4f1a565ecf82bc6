"""Week 11 public tests: one per function, run by `dlgrade check week11`.

Every input is drawn from `rng` or built by hand, so the reference's answers
can be recorded by `dlgrade release` and replayed in the student bundle. Each
test checks the mistakes students make most often with its function: H != D
and both biases in the RNN cell; a non-zero h0 and every state returned by
rnn_forward; distinct gates and a non-zero cell state in the LSTM cell; a mask
with a whole row False, a row all True, and a count of positions that is not N
in the loss.
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


@pytest.mark.function("rnn_cell")
@pytest.mark.points(1)
@pytest.mark.public
def test_rnn_cell(student, reference, rng):
    """N = 4, D = 3, H = 5, a non-zero h, float64; then a batch of 1, float32"""
    for dtype, n in ((f64, 4), (f32, 1)):
        x = torch.randn(n, 3, dtype=dtype, generator=rng)
        h = torch.randn(n, 5, dtype=dtype, generator=rng)
        p = params(rng, 3, 5, dtype)
        out = student.rnn_cell(x, h, *p)
        check_unmodified(student)
        check(out, reference.rnn_cell(x, h, *p), name=f"h_next ({str(dtype)[6:]})",
              hints={t: (lambda f=f: rnn_step(x, h, *p, **f)) for t, f in RNN_CELL_HINTS.items()})


@pytest.mark.function("rnn_forward")
@pytest.mark.points(1)
@pytest.mark.public
def test_rnn_forward(student, reference, rng):
    """N = 2, T = 4, D = 3, H = 5, a non-zero h0, float64"""
    x = torch.randn(2, 4, 3, dtype=f64, generator=rng)
    h0 = torch.randn(2, 5, dtype=f64, generator=rng)
    p = params(rng, 3, 5, f64)
    out = student.rnn_forward(x, h0, *p)
    check_unmodified(student)
    check_states(out, reference.rnn_forward(x, h0, *p), x, h0, p)


@pytest.mark.function("lstm_cell")
@pytest.mark.points(1)
@pytest.mark.public
def test_lstm_cell(student, reference, rng):
    """N = 3, D = 4, H = 2, non-zero h and c, a different bias per gate, float64"""
    x = torch.randn(3, 4, dtype=f64, generator=rng)
    h = torch.randn(3, 2, dtype=f64, generator=rng)
    c = torch.randn(3, 2, dtype=f64, generator=rng)
    W_ih, W_hh, b_ih, b_hh = params(rng, 4, 2, f64, gates=4)
    b_ih = b_ih + torch.tensor([1.0, 1.0, -1.0, -1.0, 2.0, 2.0, -2.0, -2.0], dtype=f64)   # gates i, f, g, o
    args = (x, h, c, W_ih, W_hh, b_ih, b_hh)
    out = student.lstm_cell(*args)
    check_unmodified(student)
    check_lstm(out, reference.lstm_cell(*args), args)


@pytest.mark.function("temporal_cross_entropy")
@pytest.mark.points(1)
@pytest.mark.public
def test_temporal_cross_entropy(student, reference, rng):
    """N = 3, T = 5, V = 4: one row all True, one all False, one padded at the end; float64, then float32"""
    for dtype in (f64, f32):
        logits = 2 * torch.randn(3, 5, 4, dtype=dtype, generator=rng)
        targets = torch.randint(0, 4, (3, 5), generator=rng)
        mask = torch.tensor([[True] * 5, [False] * 5, [True, True, True, False, False]])
        run_tce(student, reference, logits, targets, mask)
