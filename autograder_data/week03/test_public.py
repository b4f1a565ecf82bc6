"""Week 3 public tests: one per function, run by `dlgrade check week03`.

Every input is drawn from `rng`, so the reference's answers can be recorded by
`dlgrade release` and replayed in the student bundle. A backward function is
tested with a cache the test builds as the stub describes it, never with the
student's forward pass, so a bug costs only the function that has it.
`numerical_gradient` takes a Python function, so it runs as a scenario in the
sandbox, with functions defined there.
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


@pytest.mark.function("affine_forward")
@pytest.mark.points(1)
@pytest.mark.public
def test_affine_forward(student, reference, rng):
    """x of shape [2, 3, 4] (flattened to D = 12), float64; then x of shape [3, 5], float32"""
    for dtype, shape, M in ((f64, (2, 3, 4), 5), (f32, (3, 5), 2)):
        x = torch.randn(*shape, dtype=dtype, generator=rng)
        D = x[0].numel()
        w = torch.randn(D, M, dtype=dtype, generator=rng)
        b = torch.randn(M, dtype=dtype, generator=rng)
        try:
            out = student.affine_forward(x, w, b)
        except StudentError as e:
            if "not implemented yet" in str(e):
                raise
            fail(f"{e} (with x of shape {list(shape)}: flatten each example first, x.reshape(N, -1))")
        check_unmodified(student)
        out = forward_pair(out, "affine_forward")
        ref, _ = reference.affine_forward(x, w, b)
        check(out[0], ref, name=f"out (x {list(shape)})", hints={
            "the bias b is missing": lambda: ref - b,
        })
        check(out[1], (x, w, b), name="cache (the tuple (x, w, b), x in its original shape)")


@pytest.mark.function("affine_backward")
@pytest.mark.points(1)
@pytest.mark.public
def test_affine_backward(student, reference, rng):
    """x of shape [4, 2, 3], w [6, 5], float64: dx shaped like x, dw, db"""
    x = torch.randn(4, 2, 3, dtype=f64, generator=rng)
    w = torch.randn(6, 5, dtype=f64, generator=rng)
    b = torch.randn(5, dtype=f64, generator=rng)
    dout = torch.randn(4, 5, dtype=f64, generator=rng)
    out = student.affine_backward(dout, (x, w, b))
    check_unmodified(student)
    dx, dw, db = reference.affine_backward(dout, (x, w, b))
    check_parts(out, (dx, dw, db), ("dx", "dw", "db"), "affine_backward", hints={
        "db is the SUM of dout over the batch, not its mean": (None, None, db / 4),
    })


@pytest.mark.function("relu_forward")
@pytest.mark.points(1)
@pytest.mark.public
def test_relu_forward(student, reference, rng):
    """values of both signs and exact zeros, float64; x must not change"""
    x = torch.randn(3, 4, dtype=f64, generator=rng)
    x[0, :2] = 0.0
    out = student.relu_forward(x)
    check_unmodified(student)
    out = forward_pair(out, "relu_forward")
    check(out[0], reference.relu_forward(x)[0], name="out")
    check(out[1], x, name="cache (x itself)")


@pytest.mark.function("relu_backward")
@pytest.mark.points(1)
@pytest.mark.public
def test_relu_backward(student, reference, rng):
    """values of both signs and exact zeros (the gradient is 0 at 0), float64"""
    x = torch.randn(4, 5, dtype=f64, generator=rng)
    x[1, 1:4] = 0.0
    dout = torch.randn(4, 5, dtype=f64, generator=rng)
    dx = student.relu_backward(dout, x)
    check_unmodified(student)
    check(dx, reference.relu_backward(dout, x), name="dx", hints={
        "at x exactly 0 the gradient is 0: pass dout only where x > 0, not x >= 0": lambda: dout * (x >= 0),
    })


@pytest.mark.function("sigmoid_forward")
@pytest.mark.points(1)
@pytest.mark.public
def test_sigmoid_forward(student, reference, rng):
    """moderate values, exact zeros and +-1e3, float64 and float32"""
    for dtype in (f64, f32):
        x = 3 * torch.randn(3, 4, dtype=dtype, generator=rng)
        x[0, 0], x[0, 1], x[1, 0] = 1e3, -1e3, 0.0
        out = student.sigmoid_forward(x)
        check_unmodified(student)
        out = forward_pair(out, "sigmoid_forward")
        check_finite(out[0], "sigmoid_forward", "x = +-1e3")
        check(out[0], reference.sigmoid_forward(x)[0], name=f"out ({str(dtype)[6:]})")
        check(out[1], x, name="cache (x itself)")


@pytest.mark.function("sigmoid_backward")
@pytest.mark.points(1)
@pytest.mark.public
def test_sigmoid_backward(student, reference, rng):
    """moderate values, exact zeros and +-1e3, float64"""
    x = 3 * torch.randn(4, 3, dtype=f64, generator=rng)
    x[0, 0], x[1, 1], x[2, 2] = 1e3, -1e3, 0.0
    dout = torch.randn(4, 3, dtype=f64, generator=rng)
    dx = student.sigmoid_backward(dout, x)
    check_unmodified(student)
    check_finite(dx, "sigmoid_backward", "x = +-1e3")
    s = reference.sigmoid_forward(x)[0]
    check(dx, reference.sigmoid_backward(dout, x), name="dx", hints={
        "dout is missing: the chain rule multiplies the local gradient s * (1 - s) by dout": lambda: s * (1 - s),
        "the cache is x, the forward's INPUT: s = sigmoid(x) must be computed from it": lambda: dout * x * (1 - x),
    })


@pytest.mark.function("numerical_gradient")
@pytest.mark.points(1)
@pytest.mark.public
def test_numerical_gradient(student, reference, rng):
    """a smooth f of a [3, 4] float64 x read through its argument, then through x itself; x restored"""
    x = torch.randn(3, 4, dtype=f64, generator=rng)
    a = torch.randn(3, 4, dtype=f64, generator=rng)
    check_numgrad(student, reference, x, a, "argument")
    check_numgrad(student, reference, x, a, "closure")


@pytest.mark.function("two_layer_net")
@pytest.mark.points(1)
@pytest.mark.public
def test_two_layer_net(student, reference, rng):
    """scores without y; then loss and the four gradients with reg = 0.1; float64"""
    params = two_layer_params(rng, 5, 6, 3, f64)
    X = torch.randn(4, 5, dtype=f64, generator=rng)
    y = torch.randint(0, 3, (4,), generator=rng)
    scores = student.two_layer_net(params, X)
    check_unmodified(student)
    check(scores, reference.two_layer_net(params, X), name="scores (no y given)")
    check_two_layer(student, reference, params, X, y, 0.1)
