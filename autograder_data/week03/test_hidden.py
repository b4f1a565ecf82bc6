"""Week 3 hidden tests: run only by `dlgrade grade`.

Each function's points are split over values on random inputs, a batch of 1
and non-square shapes, inputs of more than two dimensions for the affine layer,
float32 and float64, non-contiguous inputs (transposed and sliced views, sent
with their strides), exact zeros at the ReLU's kink, +-1e3 for the sigmoid,
the cache each forward returns, inputs left unmodified, and for the numerical
gradient: f read through its argument, through x itself, returning a Python
float, a step of the caller's, a view for x, and x put back. A backward test
never calls the student's forward pass.

Points: affine_forward 2, affine_backward 3, relu_forward 1.5, relu_backward 1.5,
sigmoid_forward 2, sigmoid_backward 1.5, numerical_gradient 3, two_layer_net 4.5
(19 in all).
"""

import pytest
import torch

from grader.errors import StudentError
from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


def check_parts(out, expected, names, function, hints=None):
    """Check a tuple answer item by item, naming each item (dx, dw, ...).

    hints: {text: tuple of alternatives (or functions computing them), one per item, None where none}.
    """
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        got = f"a {type(out).__name__} of {len(out)} items" if isinstance(out, (tuple, list)) else (
            "None (did the function forget to return?)" if out is None else f"a {type(out).__name__}")
        fail(f"{function} should return a tuple ({', '.join(names)}), got {got}")
    for i, name in enumerate(names):
        alts = {text: alt[i] for text, alt in (hints or {}).items() if alt[i] is not None}
        check(out[i], expected[i], name=name, hints=alts)


def check_finite(out, function, where):
    if isinstance(out, torch.Tensor) and out.is_floating_point() and not torch.isfinite(out).all():
        fail(f"{function} gives inf or NaN for {where}: exp of a large number overflows (exp(1e3) is inf and "
             "inf / inf is NaN); exponentiate only -|x|, as the stub shows")


def forward_pair(out, function):
    """(out, cache) of a forward function, or a failure that says what came back."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"a {type(out).__name__} of {len(out)} items" if isinstance(out, (tuple, list)) else (
            "None (did the function forget to return?)" if out is None else f"a {type(out).__name__}")
        fail(f"{function} should return a tuple (out, cache), got {got}")
    return out


def numgrad_scenario(module, x, a, kind, h):
    """numerical_gradient of a smooth f at x, in the sandbox; returns the gradient and x afterwards.

    kind "argument": f reads its argument; "closure": f ignores its argument and reads x itself
    (like `lambda _: net.loss()`); "float": f returns a Python float.
    """
    def smooth(z):
        return (a * z * z).sum() + torch.sin(3 * z).sum() + z.reshape(-1)[0] * z.reshape(-1)[-1]

    if kind == "closure":
        def f(_):
            return smooth(x)
    elif kind == "float":
        def f(z):
            return float(smooth(z))
    else:
        f = smooth
    grad = module.numerical_gradient(f, x) if h is None else module.numerical_gradient(f, x, h)
    return {"grad": grad, "x": x}


class NumgradVariant:
    """numerical_gradient done wrong, for hints: the scenario runs it in the trusted process."""

    def __init__(self, rule):
        self.rule = rule

    def numerical_gradient(self, f, x, h=1e-5):
        grad = torch.zeros_like(x)
        flat = x.reshape(-1)
        for i in range(flat.numel()):
            idx = tuple(int(v) for v in torch.unravel_index(torch.tensor(i), x.shape))
            old = x[idx].item()
            if self.rule == "copy":                # perturbs a copy: f reading x itself sees no change
                xp, xm = x.clone(), x.clone()
                xp[idx], xm[idx] = old + h, old - h
                grad[idx] = (float(f(xp)) - float(f(xm))) / (2 * h)
            elif self.rule == "forward":
                base = float(f(x))
                x[idx] = old + h
                grad[idx] = (float(f(x)) - base) / h
                x[idx] = old
            elif self.rule == "h":
                x[idx] = old + h
                fp = float(f(x))
                x[idx] = old - h
                grad[idx] = (fp - float(f(x))) / h
                x[idx] = old
        return grad


NUMGRAD_HINTS = {
    "copy": "f reads x itself, not only its argument: perturb x IN PLACE (x[i] = old + h), then put old back",
    "forward": "that is a forward difference (f(x + h) - f(x)) / h; use the central one, "
               "(f(x + h) - f(x - h)) / (2h)",
    "h": "the central difference is divided by 2h, not h",
}


def check_numgrad(student, reference, x, a, kind, h=None, sent=None):
    """sent: the x the student gets (a view of the same values) when not x itself."""
    got = student.run(numgrad_scenario, x.clone() if sent is None else sent, a, kind, h)
    want = reference.run(numgrad_scenario, x.clone(), a, kind, h)
    back = got["x"]
    slack = 1e-6 if x.dtype == f32 else 1e-12
    if not isinstance(back, torch.Tensor) or back.shape != x.shape or not torch.allclose(
            back.to(f64), x.to(f64), rtol=slack, atol=slack):
        fail("numerical_gradient left x changed: put each entry back to its original value after "
             "evaluating f(x + h) and f(x - h)")
    rtol = 1e-4 if x.dtype == f32 else 1e-6
    hints = {}
    if sent is not None:
        hints["x is a non-contiguous view here, and a reshaped or flattened x (x.reshape(-1)) is then a copy, "
              "not x: index x itself, x[idx] with idx from itertools.product or torch.unravel_index"] = \
            lambda: torch.zeros_like(x)
    hints.update({text: (lambda rule=rule: numgrad_scenario(NumgradVariant(rule), x.clone(), a, kind,
                                                            1e-5 if h is None else h)["grad"])
                  for rule, text in NUMGRAD_HINTS.items()})
    check(got["grad"], want["grad"], name=f"grad ({kind} f)", rtol=rtol, atol=rtol, hints=hints)


def two_layer_params(rng, D, H, C, dtype):
    return {"W1": 0.5 * torch.randn(D, H, dtype=dtype, generator=rng),
            "b1": 0.1 * torch.randn(H, dtype=dtype, generator=rng),
            "W2": 0.5 * torch.randn(H, C, dtype=dtype, generator=rng),
            "b2": 0.1 * torch.randn(C, dtype=dtype, generator=rng)}


def two_layer_variant(params, X, y, reg, rule):
    """two_layer_net done wrong, for hints: (loss, grads)."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    h_in = X @ W1 + b1
    h = h_in.clamp(min=0)
    s = h @ W2 + b2
    N = X.shape[0]
    log_p = s - s.amax(1, keepdim=True)
    log_p = log_p - log_p.exp().sum(1, keepdim=True).log()
    penalty = (W1 * W1).sum() + (W2 * W2).sum()
    k = {"half": 0.5, "no_reg_loss": 0.0}.get(rule, 1.0)
    loss = -log_p[torch.arange(N), y].mean() + k * reg * penalty
    d = log_p.exp()
    d[torch.arange(N), y] -= 1
    d = d / N
    dh = d @ W2.T
    if rule != "no_relu_grad":
        dh = dh * (h_in > 0)
    g = 1.0 if rule in ("half", "reg_grad_no_2") else 2.0
    return float(loss), {"W1": X.T @ dh + g * reg * W1, "b1": dh.sum(0), "W2": h.T @ d + g * reg * W2,
                         "b2": d.sum(0)}


TWO_LAYER_HINTS = {
    "reg_grad_no_2": "the regulariser reg * sum(W ** 2) adds 2 * reg * W to dW, not reg * W",
    "half": "the regulariser is reg * (sum(W1 ** 2) + sum(W2 ** 2)), without a factor 0.5",
    "no_reg_loss": "the loss is missing the regulariser reg * (sum(W1 ** 2) + sum(W2 ** 2))",
    "no_relu_grad": "the gradient went back through the ReLU unmasked: it is 0 where the hidden input is <= 0",
}


def check_two_layer(student, reference, params, X, y, reg, sent=None):
    args = (params, X) if sent is None else sent
    out = student.two_layer_net(*args, y, reg)
    check_unmodified(student)
    loss, grads = reference.two_layer_net(params, X, y, reg)
    if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[1], dict):
        fail(f"with labels y, two_layer_net should return a tuple (loss, grads) with grads a dict, got "
             f"{type(out).__name__}")
    variants = {}

    def variant(rule):
        if rule not in variants:
            variants[rule] = two_layer_variant(params, X, y, reg, rule)
        return variants[rule]

    loss_value = out[0].item() if isinstance(out[0], torch.Tensor) and out[0].numel() == 1 else out[0]
    if isinstance(loss_value, float) and not abs(loss_value) < float("inf"):
        fail("the loss is inf or NaN: exp of large scores overflows; subtract each row's maximum score "
             "before exp and work with log-probabilities")
    tol = dict(rtol=1e-4, atol=1e-6) if X.dtype == f32 else dict(rtol=1e-7, atol=1e-10)
    check(out[0], float(loss), name="loss", **tol,
          hints={text: (lambda rule=rule: variant(rule)[0]) for rule, text in TWO_LAYER_HINTS.items()})
    missing = [k for k in grads if k not in out[1]]
    if missing:
        fail(f"grads is missing the key(s) {', '.join(map(repr, missing))}")
    for key in ("W1", "b1", "W2", "b2"):
        check(out[1][key], grads[key], name=f"grads['{key}']",
              hints={text: (lambda rule=rule, key=key: variant(rule)[1][key])
                     for rule, text in TWO_LAYER_HINTS.items()})


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


def randn(rng, *shape, dtype=f64, scale=1.0):
    return scale * torch.randn(*shape, dtype=dtype, generator=rng)


# ------------------------------------------------------------------ affine_forward (2)
def check_affine_forward(student, reference, x, w, b, sent=None):
    try:
        out = student.affine_forward(*((x, w, b) if sent is None else sent))
    except StudentError as e:
        if "not implemented yet" in str(e):
            raise
        fail(f"{e} (with x of shape {list(x.shape)}{'' if sent is None else ', a non-contiguous view'}: flatten "
             "each example with x.reshape(N, -1); .view fails on a view)")
    check_unmodified(student)
    out = forward_pair(out, "affine_forward")
    ref, _ = reference.affine_forward(x, w, b)
    check(out[0], ref, name="out", hints={"the bias b is missing": lambda: ref - b})
    return out


@pytest.mark.function("affine_forward")
@pytest.mark.points(0.5)
def test_affine_forward_values(student, reference, rng):
    """x [6, 4], w [4, 3], float64"""
    check_affine_forward(student, reference, randn(rng, 6, 4), randn(rng, 4, 3), randn(rng, 3))


@pytest.mark.function("affine_forward")
@pytest.mark.points(0.5)
def test_affine_forward_many_dims(student, reference, rng):
    """x [3, 2, 3, 2] (D = 12), float32; a batch of 1 with x [1, 4, 5]"""
    check_affine_forward(student, reference, randn(rng, 3, 2, 3, 2, dtype=f32), randn(rng, 12, 4, dtype=f32),
                         randn(rng, 4, dtype=f32))
    check_affine_forward(student, reference, randn(rng, 1, 4, 5), randn(rng, 20, 3), randn(rng, 3))


@pytest.mark.function("affine_forward")
@pytest.mark.points(0.5)
def test_affine_forward_views(student, reference, rng):
    """non-contiguous x (a transposed view of [3, 4, 5]), w (transposed) and b (sliced)"""
    x, w, b = randn(rng, 3, 4, 5), randn(rng, 20, 6), randn(rng, 6)
    check_affine_forward(student, reference, x, w, b, sent=(transposed(x), transposed(w), sliced(b)))


@pytest.mark.function("affine_forward")
@pytest.mark.points(0.5)
def test_affine_forward_cache_and_edge_sizes(student, reference, rng):
    """the cache is (x, w, b) with x unflattened; one output; one feature"""
    x, w, b = randn(rng, 2, 3, 2), randn(rng, 6, 1), randn(rng, 1)
    out = check_affine_forward(student, reference, x, w, b)
    check(out[1], (x, w, b), name="cache (the tuple (x, w, b), x in its original shape)")
    check_affine_forward(student, reference, randn(rng, 5, 1), randn(rng, 1, 3), randn(rng, 3))


# ------------------------------------------------------------------ affine_backward (3)
def check_affine_backward(student, reference, rng, x, w, b, sent=None):
    dout = torch.randn(x.shape[0], w.shape[1], dtype=x.dtype, generator=rng)
    args = (dout, (x, w, b)) if sent is None else sent(dout)
    out = student.affine_backward(*args)
    check_unmodified(student)
    dx, dw, db = reference.affine_backward(dout, (x, w, b))
    check_parts(out, (dx, dw, db), ("dx", "dw", "db"), "affine_backward", hints={
        "db is the SUM of dout over the batch, not its mean": (None, None, lambda: db / x.shape[0]),
    })


@pytest.mark.function("affine_backward")
@pytest.mark.points(1)
def test_affine_backward_values(student, reference, rng):
    """x [5, 4], w [4, 3], float64"""
    check_affine_backward(student, reference, rng, randn(rng, 5, 4), randn(rng, 4, 3), randn(rng, 3))


@pytest.mark.function("affine_backward")
@pytest.mark.points(0.5)
def test_affine_backward_many_dims(student, reference, rng):
    """x [3, 2, 2, 3] (dx keeps that shape), float32"""
    check_affine_backward(student, reference, rng, randn(rng, 3, 2, 2, 3, dtype=f32), randn(rng, 12, 5, dtype=f32),
                          randn(rng, 5, dtype=f32))


@pytest.mark.function("affine_backward")
@pytest.mark.points(0.5)
def test_affine_backward_edge_sizes(student, reference, rng):
    """a batch of 1; one output; one feature"""
    check_affine_backward(student, reference, rng, randn(rng, 1, 3, 2), randn(rng, 6, 4), randn(rng, 4))
    check_affine_backward(student, reference, rng, randn(rng, 4, 3), randn(rng, 3, 1), randn(rng, 1))
    check_affine_backward(student, reference, rng, randn(rng, 3, 1), randn(rng, 1, 2), randn(rng, 2))


@pytest.mark.function("affine_backward")
@pytest.mark.points(0.5)
def test_affine_backward_views(student, reference, rng):
    """non-contiguous dout (transposed), x (sliced) and w (transposed)"""
    x, w, b = randn(rng, 4, 3, 2), randn(rng, 6, 5), randn(rng, 5)
    check_affine_backward(student, reference, rng, x, w, b,
                          sent=lambda dout: (transposed(dout), (sliced(x, 1), transposed(w), b)))


@pytest.mark.function("affine_backward")
@pytest.mark.points(0.5)
def test_affine_backward_zeros_and_large(student, reference, rng):
    """an example whose upstream gradient is exactly 0; inputs of size 1e3"""
    x, w, b = randn(rng, 4, 5, scale=1e3), randn(rng, 5, 3), randn(rng, 3)
    dout = randn(rng, 4, 3)
    dout[2] = 0.0
    out = student.affine_backward(dout, (x, w, b))
    check_unmodified(student)
    dx, dw, db = reference.affine_backward(dout, (x, w, b))
    check_parts(out, (dx, dw, db), ("dx", "dw", "db"), "affine_backward")
    if isinstance(out[0], torch.Tensor) and out[0].shape == dx.shape and (out[0][2] != 0).any():
        fail("dx of an example whose upstream gradient is 0 must be exactly 0")


# ------------------------------------------------------------------ relu_forward (1.5)
def check_relu_forward(student, reference, x, sent=None):
    out = student.relu_forward(x if sent is None else sent)
    check_unmodified(student)
    out = forward_pair(out, "relu_forward")
    check(out[0], reference.relu_forward(x)[0], name="out")
    check(out[1], x, name="cache (x itself)")


@pytest.mark.function("relu_forward")
@pytest.mark.points(0.5)
def test_relu_forward_values(student, reference, rng):
    """a [2, 3, 4] float32 input with exact zeros"""
    x = randn(rng, 2, 3, 4, dtype=f32)
    x[1, 1] = 0.0
    check_relu_forward(student, reference, x)


@pytest.mark.function("relu_forward")
@pytest.mark.points(0.5)
def test_relu_forward_views(student, reference, rng):
    """non-contiguous x (a transposed and a sliced view)"""
    x = randn(rng, 4, 5)
    check_relu_forward(student, reference, x, transposed(x))
    check_relu_forward(student, reference, x, sliced(x, 1))


@pytest.mark.function("relu_forward")
@pytest.mark.points(0.5)
def test_relu_forward_extremes(student, reference, rng):
    """values of size 1e30, all negative rows, a single value"""
    x = randn(rng, 3, 4, scale=1e30)
    x[0] = -x[0].abs()
    check_relu_forward(student, reference, x)
    check_relu_forward(student, reference, randn(rng, 1, 1))


# ------------------------------------------------------------------ relu_backward (1.5)
def check_relu_backward(student, reference, dout, x, sent=None):
    dx = student.relu_backward(*((dout, x) if sent is None else sent))
    check_unmodified(student)
    check(dx, reference.relu_backward(dout, x), name="dx", hints={
        "at x exactly 0 the gradient is 0: pass dout only where x > 0, not x >= 0": lambda: dout * (x >= 0),
    })


@pytest.mark.function("relu_backward")
@pytest.mark.points(0.5)
def test_relu_backward_values(student, reference, rng):
    """a [3, 2, 5] float32 input with exact zeros"""
    x = randn(rng, 3, 2, 5, dtype=f32)
    x[0, :, :3] = 0.0
    check_relu_backward(student, reference, randn(rng, 3, 2, 5, dtype=f32), x)


@pytest.mark.function("relu_backward")
@pytest.mark.points(0.5)
def test_relu_backward_views(student, reference, rng):
    """non-contiguous dout (transposed) and x (sliced), with zeros"""
    x = randn(rng, 4, 6)
    x[2, 2:] = 0.0
    dout = randn(rng, 4, 6)
    check_relu_backward(student, reference, dout, x, (transposed(dout), sliced(x, 0)))


@pytest.mark.function("relu_backward")
@pytest.mark.points(0.5)
def test_relu_backward_kink(student, reference, rng):
    """x all zeros and negatives: dx is exactly 0"""
    x = -randn(rng, 3, 4).abs()
    x[:, ::2] = 0.0
    dout = randn(rng, 3, 4)
    check_relu_backward(student, reference, dout, x)


# ------------------------------------------------------------------ sigmoid_forward (2)
def check_sigmoid_forward(student, reference, x, sent=None):
    out = student.sigmoid_forward(x if sent is None else sent)
    check_unmodified(student)
    out = forward_pair(out, "sigmoid_forward")
    check_finite(out[0], "sigmoid_forward", "large |x|")
    check(out[0], reference.sigmoid_forward(x)[0], name="out")
    check(out[1], x, name="cache (x itself)")


@pytest.mark.function("sigmoid_forward")
@pytest.mark.points(0.5)
def test_sigmoid_forward_values(student, reference, rng):
    """moderate values, [3, 5], float64"""
    check_sigmoid_forward(student, reference, randn(rng, 3, 5, scale=4))


@pytest.mark.function("sigmoid_forward")
@pytest.mark.points(0.5)
def test_sigmoid_forward_large(student, reference, rng):
    """values up to +-1e3 (and +-50, +-100), float64 and float32"""
    for dtype in (f64, f32):
        x = randn(rng, 4, 6, dtype=dtype, scale=300)
        x[0] = torch.tensor([1e3, -1e3, 50.0, -50.0, 100.0, -100.0], dtype=dtype)
        check_sigmoid_forward(student, reference, x)


@pytest.mark.function("sigmoid_forward")
@pytest.mark.points(0.5)
def test_sigmoid_forward_views(student, reference, rng):
    """non-contiguous x (a transposed and a sliced view)"""
    x = randn(rng, 5, 3, scale=3)
    check_sigmoid_forward(student, reference, x, transposed(x))
    check_sigmoid_forward(student, reference, x, sliced(x, 1))


@pytest.mark.function("sigmoid_forward")
@pytest.mark.points(0.5)
def test_sigmoid_forward_shapes_and_zeros(student, reference, rng):
    """a 1-d x with exact zeros (sigmoid 0.5) and a 3-d float32 x"""
    x = randn(rng, 7)
    x[::3] = 0.0
    check_sigmoid_forward(student, reference, x)
    check_sigmoid_forward(student, reference, randn(rng, 2, 3, 2, dtype=f32, scale=5))


# ------------------------------------------------------------------ sigmoid_backward (1.5)
def check_sigmoid_backward(student, reference, dout, x, sent=None):
    dx = student.sigmoid_backward(*((dout, x) if sent is None else sent))
    check_unmodified(student)
    check_finite(dx, "sigmoid_backward", "large |x|")
    s = reference.sigmoid_forward(x)[0]
    check(dx, reference.sigmoid_backward(dout, x), name="dx", hints={
        "dout is missing: the chain rule multiplies the local gradient s * (1 - s) by dout": lambda: s * (1 - s),
        "the cache is x, the forward's INPUT: s = sigmoid(x) must be computed from it": lambda: dout * x * (1 - x),
    })


@pytest.mark.function("sigmoid_backward")
@pytest.mark.points(0.5)
def test_sigmoid_backward_values(student, reference, rng):
    """moderate values, [4, 3], float32"""
    check_sigmoid_backward(student, reference, randn(rng, 4, 3, dtype=f32), randn(rng, 4, 3, dtype=f32, scale=3))


@pytest.mark.function("sigmoid_backward")
@pytest.mark.points(0.5)
def test_sigmoid_backward_large(student, reference, rng):
    """values up to +-1e3 and exact zeros, float64 and float32"""
    for dtype in (f64, f32):
        x = randn(rng, 3, 6, dtype=dtype, scale=300)
        x[0] = torch.tensor([1e3, -1e3, 0.0, -40.0, 40.0, -700.0], dtype=dtype)
        check_sigmoid_backward(student, reference, randn(rng, 3, 6, dtype=dtype), x)


@pytest.mark.function("sigmoid_backward")
@pytest.mark.points(0.5)
def test_sigmoid_backward_views(student, reference, rng):
    """non-contiguous dout (sliced) and x (transposed)"""
    x, dout = randn(rng, 3, 5, scale=2), randn(rng, 3, 5)
    check_sigmoid_backward(student, reference, dout, x, (sliced(dout, 1), transposed(x)))


# ------------------------------------------------------------------ numerical_gradient (3)
@pytest.mark.function("numerical_gradient")
@pytest.mark.points(0.5)
def test_numerical_gradient_argument(student, reference, rng):
    """f reads its argument; x [2, 3, 2], float64"""
    check_numgrad(student, reference, randn(rng, 2, 3, 2), randn(rng, 2, 3, 2), "argument")


@pytest.mark.function("numerical_gradient")
@pytest.mark.points(0.75)
def test_numerical_gradient_closure(student, reference, rng):
    """f reads x itself (it ignores its argument): x must be perturbed in place and restored"""
    check_numgrad(student, reference, randn(rng, 4, 3), randn(rng, 4, 3), "closure")
    check_numgrad(student, reference, randn(rng, 5), randn(rng, 5), "closure")


@pytest.mark.function("numerical_gradient")
@pytest.mark.points(0.5)
def test_numerical_gradient_float_and_step(student, reference, rng):
    """f returns a Python float; a step h = 1e-4 of the caller's"""
    check_numgrad(student, reference, randn(rng, 3, 2), randn(rng, 3, 2), "float")
    check_numgrad(student, reference, randn(rng, 2, 4), randn(rng, 2, 4), "argument", h=1e-4)


@pytest.mark.function("numerical_gradient")
@pytest.mark.points(0.75)
def test_numerical_gradient_view(student, reference, rng):
    """x is a non-contiguous view (transposed) that f reads itself: a reshaped copy sees no change"""
    x, a = randn(rng, 3, 4), randn(rng, 3, 4)
    check_numgrad(student, reference, x, a, "closure", sent=transposed(x.clone()))


@pytest.mark.function("numerical_gradient")
@pytest.mark.points(0.5)
def test_numerical_gradient_float32(student, reference, rng):
    """float32 x with a step of 1e-2"""
    check_numgrad(student, reference, randn(rng, 2, 3, dtype=f32), randn(rng, 2, 3, dtype=f32), "argument",
                  h=1e-2)


# ------------------------------------------------------------------ two_layer_net (4.5)
@pytest.mark.function("two_layer_net")
@pytest.mark.points(0.5)
def test_two_layer_net_scores(student, reference, rng):
    """scores without y, float32, 6 examples, D = 4, H = 7, C = 3"""
    params = two_layer_params(rng, 4, 7, 3, f32)
    X = randn(rng, 6, 4, dtype=f32)
    scores = student.two_layer_net(params, X)
    check_unmodified(student)
    check(scores, reference.two_layer_net(params, X), name="scores (no y given)")


@pytest.mark.function("two_layer_net")
@pytest.mark.points(1)
def test_two_layer_net_no_reg(student, reference, rng):
    """loss and gradients with reg = 0, float64"""
    params = two_layer_params(rng, 5, 8, 4, f64)
    check_two_layer(student, reference, params, randn(rng, 7, 5), torch.randint(0, 4, (7,), generator=rng), 0.0)


@pytest.mark.function("two_layer_net")
@pytest.mark.points(1)
def test_two_layer_net_reg(student, reference, rng):
    """loss and gradients with reg = 0.5, float64; then reg = 0.05, float32"""
    params = two_layer_params(rng, 3, 6, 5, f64)
    check_two_layer(student, reference, params, randn(rng, 8, 3), torch.randint(0, 5, (8,), generator=rng), 0.5)
    params = two_layer_params(rng, 4, 5, 3, f32)
    check_two_layer(student, reference, params, randn(rng, 6, 4, dtype=f32),
                    torch.randint(0, 3, (6,), generator=rng), 0.05)


@pytest.mark.function("two_layer_net")
@pytest.mark.points(0.75)
def test_two_layer_net_relu_kink(student, reference, rng):
    """zero examples and zero b1, so hidden inputs are exactly 0: no gradient passes the ReLU there"""
    params = two_layer_params(rng, 4, 5, 3, f64)
    params["b1"] = torch.zeros(5, dtype=f64)
    params["W1"][:, 0] = 0.0
    X = randn(rng, 6, 4)
    X[1] = 0.0
    check_two_layer(student, reference, params, X, torch.randint(0, 3, (6,), generator=rng), 0.1)


@pytest.mark.function("two_layer_net")
@pytest.mark.points(0.5)
def test_two_layer_net_edge_sizes(student, reference, rng):
    """a batch of 1; two classes; one hidden unit"""
    check_two_layer(student, reference, two_layer_params(rng, 3, 4, 5, f64), randn(rng, 1, 3),
                    torch.randint(0, 5, (1,), generator=rng), 0.1)
    check_two_layer(student, reference, two_layer_params(rng, 4, 3, 2, f64), randn(rng, 5, 4),
                    torch.randint(0, 2, (5,), generator=rng), 0.1)
    check_two_layer(student, reference, two_layer_params(rng, 3, 1, 3, f64), randn(rng, 4, 3),
                    torch.randint(0, 3, (4,), generator=rng), 0.0)


@pytest.mark.function("two_layer_net")
@pytest.mark.points(0.75)
def test_two_layer_net_large_scores_and_views(student, reference, rng):
    """scores of size 1e3 (the softmax must be stable); non-contiguous W1 and X"""
    params = two_layer_params(rng, 4, 6, 3, f64)
    params["W2"] = params["W2"] * 1e3
    X = randn(rng, 5, 4, scale=10)
    y = torch.randint(0, 3, (5,), generator=rng)
    check_two_layer(student, reference, params, X, y, 0.01)
    params = two_layer_params(rng, 5, 4, 3, f64)
    X = randn(rng, 6, 5)
    sent = ({**params, "W1": transposed(params["W1"])}, sliced(X, 1))
    check_two_layer(student, reference, params, X, torch.randint(0, 3, (6,), generator=rng), 0.1, sent=sent)
