"""The week03 reference solution against independent oracles.

Every backward pass and two_layer_net's loss and gradients are compared with
autograd run on the same computation built from torch's own layers
(`F.linear`, `torch.relu`, `torch.sigmoid`, `F.cross_entropy`);
numerical_gradient is compared with autograd's gradient of smooth functions,
including one that reads x itself instead of its argument, and x must come
back bit for bit.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week03" / "backprop.py"
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(scope="module")
def bp():
    spec = importlib.util.spec_from_file_location("week03_backprop_under_test", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)


def close(actual, expected):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    torch.testing.assert_close(actual, expected, **tol(expected.dtype))


def autograd(fn, inputs, dout):
    """fn's output and the gradients of <fn(inputs), dout> with respect to each input."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    grads = torch.autograd.grad(out, leaves, grad_outputs=dout)
    return out.detach(), grads


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, M", [((4, 5), 3), ((2, 3, 4), 6), ((1, 2, 2, 3), 2), ((3, 1), 1)])
def test_affine_matches_f_linear_and_autograd(bp, x_shape, M, dtype):
    g = gen(sum(x_shape) + M)
    x = torch.randn(*x_shape, generator=g, dtype=dtype)
    D = x[0].numel()
    w = torch.randn(D, M, generator=g, dtype=dtype)
    b = torch.randn(M, generator=g, dtype=dtype)
    dout = torch.randn(x_shape[0], M, generator=g, dtype=dtype)
    expected, (dx, dw, db) = autograd(lambda x, w, b: F.linear(x.flatten(1), w.T, b), (x, w, b), dout)
    originals = [t.clone() for t in (x, w, b, dout)]
    out, cache = bp.affine_forward(x, w, b)
    close(out, expected)
    assert len(cache) == 3 and all(torch.equal(c, t) for c, t in zip(cache, (x, w, b)))
    got = bp.affine_backward(dout, (x, w, b))
    for a, e in zip(got, (dx, dw, db)):
        close(a, e)
    assert all(torch.equal(t, o) for t, o in zip((x, w, b, dout), originals))


def with_kinks_and_extremes(dtype, seed):
    x = 3 * torch.randn(5, 6, generator=gen(seed), dtype=dtype)
    x[0, :3] = 0.0
    x[1, :4] = torch.tensor([1e3, -1e3, 40.0, -40.0], dtype=dtype)
    return x


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_matches_torch_relu_and_autograd(bp, dtype):
    x = with_kinks_and_extremes(dtype, 1)
    dout = torch.randn(5, 6, generator=gen(2), dtype=dtype)
    expected, (dx,) = autograd(torch.relu, (x,), dout)
    out, cache = bp.relu_forward(x)
    close(out, expected)
    assert torch.equal(cache, x)
    close(bp.relu_backward(dout, x), dx)
    assert (bp.relu_backward(dout, x)[x == 0] == 0).all()     # the kink: gradient exactly 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_matches_torch_sigmoid_and_autograd(bp, dtype):
    x = with_kinks_and_extremes(dtype, 3)
    dout = torch.randn(5, 6, generator=gen(4), dtype=dtype)
    expected, (dx,) = autograd(torch.sigmoid, (x,), dout)
    out, cache = bp.sigmoid_forward(x)
    assert torch.isfinite(out).all()
    close(out, expected)
    assert torch.equal(cache, x)
    got = bp.sigmoid_backward(dout, x)
    assert torch.isfinite(got).all()
    close(got, dx)


def net_params(D, H, C, dtype, seed):
    g = gen(seed)
    return {"W1": 0.5 * torch.randn(D, H, generator=g, dtype=dtype), "b1": 0.1 * torch.randn(H, generator=g, dtype=dtype),
            "W2": 0.5 * torch.randn(H, C, generator=g, dtype=dtype), "b2": 0.1 * torch.randn(C, generator=g, dtype=dtype)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N, D, H, C, reg", [(6, 4, 5, 3, 0.0), (5, 3, 7, 4, 0.3), (1, 4, 2, 2, 0.1), (8, 2, 1, 3, 1.0)])
def test_two_layer_net_matches_autograd(bp, N, D, H, C, reg, dtype):
    params = net_params(D, H, C, dtype, N + D + H + C)
    g = gen(7)
    X = torch.randn(N, D, generator=g, dtype=dtype)
    X[0, :] = 0.0                       # with b1 moved to 0 below: hidden inputs exactly 0 (the ReLU's kink)
    params["b1"][0] = 0.0
    y = torch.randint(0, C, (N,), generator=g)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    scores = F.linear(torch.relu(F.linear(X, leaves["W1"].T, leaves["b1"])), leaves["W2"].T, leaves["b2"])
    loss = F.cross_entropy(scores, y) + reg * (leaves["W1"].pow(2).sum() + leaves["W2"].pow(2).sum())
    loss.backward()
    close(bp.two_layer_net(params, X), scores.detach())
    got_loss, got_grads = bp.two_layer_net(params, X, y, reg)
    close(got_loss, loss.detach())
    assert set(got_grads) == {"W1", "b1", "W2", "b2"}
    for k in got_grads:
        close(got_grads[k], leaves[k].grad)


def test_two_layer_net_is_stable_for_large_scores(bp):
    params = net_params(3, 4, 3, torch.float64, 11)
    params["W2"] *= 1e4
    X = 10 * torch.randn(5, 3, generator=gen(12), dtype=torch.float64)
    y = torch.randint(0, 3, (5,), generator=gen(13))
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    scores = torch.relu(X @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"]
    F.cross_entropy(scores, y).backward()
    loss, grads = bp.two_layer_net(params, X, y, 0.0)
    assert torch.isfinite(loss)
    for k in grads:
        close(grads[k], leaves[k].grad)


# ---------------------------------------------------------------- numerical_gradient
SMOOTH = {
    "quadratic": lambda z, a: (a * z * z).sum(),
    "sin-cross": lambda z, a: torch.sin(3 * z).sum() + z.reshape(-1)[0] * z.reshape(-1)[-1],
    "log-sum-exp": lambda z, a: torch.log(torch.exp(a * z).sum()),
    "tanh-product": lambda z, a: torch.tanh(z).pow(2).sum() * (a * z).sum(),
}


def autograd_gradient(fn, x, a):
    leaf = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(leaf, a), leaf)
    return grad


@pytest.mark.parametrize("name", sorted(SMOOTH))
@pytest.mark.parametrize("shape", [(3, 4), (5,), (2, 3, 2)])
def test_numerical_gradient_matches_autograd(bp, name, shape):
    fn = SMOOTH[name]
    x = torch.randn(*shape, generator=gen(len(shape)), dtype=torch.float64)
    a = torch.randn(*shape, generator=gen(9), dtype=torch.float64)
    before = x.clone()
    grad = bp.numerical_gradient(lambda z: fn(z, a), x)
    assert torch.equal(x, before)
    torch.testing.assert_close(grad, autograd_gradient(fn, x, a), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("as_float", [False, True])
def test_numerical_gradient_of_an_f_that_reads_x_itself(bp, as_float):
    """f ignores its argument and reads x (like `lambda _: net.loss()`): only an in-place change is seen."""
    x = torch.randn(4, 3, generator=gen(21), dtype=torch.float64)
    a = torch.randn(4, 3, generator=gen(22), dtype=torch.float64)
    before = x.clone()
    calls = []

    def f(_):
        calls.append(1)
        value = (a * torch.sin(x)).sum() + x.pow(3).sum()
        return float(value) if as_float else value

    grad = bp.numerical_gradient(f, x)
    assert torch.equal(x, before)                           # bit for bit
    assert len(calls) == 2 * x.numel()                       # two evaluations per entry
    expected = a * torch.cos(before) + 3 * before ** 2        # by hand
    torch.testing.assert_close(grad, expected, rtol=1e-6, atol=1e-7)


def test_numerical_gradient_on_a_view_float32_and_step(bp):
    base = torch.randn(3, 5, generator=gen(31), dtype=torch.float64)
    view = base.T                                             # non-contiguous, f reads it itself
    before = view.clone()
    grad = bp.numerical_gradient(lambda _: (view ** 2).sum(), view, h=1e-4)
    assert torch.equal(view, before) and not view.is_contiguous()
    torch.testing.assert_close(grad, 2 * before, rtol=1e-6, atol=1e-7)
    x32 = torch.randn(2, 3, generator=gen(32)).float()
    g32 = bp.numerical_gradient(lambda z: (z ** 2).sum(), x32, h=1e-2)
    assert g32.dtype == torch.float32
    torch.testing.assert_close(g32, 2 * x32, rtol=1e-2, atol=1e-2)
