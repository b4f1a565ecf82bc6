"""Week 4 public tests: one per function, run by `dlgrade check week04`.

Every input is drawn from `rng`, so the reference's answers can be recorded
by `dlgrade release` and replayed in the student bundle. Tests of a backward
function never call the student's forward function: a bug in one function
costs only that function's points.
"""

import pytest
import torch

from grader.testing import check, check_unmodified, fail

f64 = torch.float64


def check_parts(out, expected, names, function, hints=None):
    """Check a tuple answer item by item, naming each item (dx, dw, ...).

    hints: {text: tuple of alternatives, one per item, None where none}.
    """
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        got = f"a {type(out).__name__} of {len(out)} items" if isinstance(out, (tuple, list)) else (
            "None (did the function forget to return?)" if out is None else f"a {type(out).__name__}")
        fail(f"{function} should return a tuple ({', '.join(names)}), got {got}")
    for i, name in enumerate(names):
        alts = {text: alt[i] for text, alt in (hints or {}).items() if alt[i] is not None}
        check(out[i], expected[i], name=name, hints=alts)


def pool_grad_variant(dout, x, k, s, rule):
    """maxpool2d_backward done wrong, window by window, for hints.

    rule "all": every tied maximum of a window gets the gradient;
    "last": the last maximum in row-major order gets it;
    "overwrite": overlapping windows overwrite each other's gradient instead of adding.
    """
    kh, kw = (k, k) if isinstance(k, int) else k
    s = (kh, kw) if s is None else s
    sh, sw = (s, s) if isinstance(s, int) else s
    dx = torch.zeros_like(x)
    for oy in range(dout.shape[-2]):
        for ox in range(dout.shape[-1]):
            rows, cols = slice(oy * sh, oy * sh + kh), slice(ox * sw, ox * sw + kw)
            win = x[..., rows, cols]
            hit = win == win.amax(dim=(-2, -1), keepdim=True)
            if rule != "all":
                flat = hit.flatten(-2).to(torch.uint8)
                pick = kh * kw - 1 - flat.flip(-1).argmax(-1) if rule == "last" else flat.argmax(-1)
                hit = torch.nn.functional.one_hot(pick, kh * kw).reshape(hit.shape).bool()
            g = dout[..., oy, ox, None, None]
            if rule == "overwrite":
                dx[..., rows, cols] = torch.where(hit, g, dx[..., rows, cols])
            else:
                dx[..., rows, cols] += g * hit
    return dx


@pytest.mark.function("conv2d_forward")
@pytest.mark.points(1)
@pytest.mark.public
def test_conv2d_forward(student, reference, rng):
    """stride 2, padding 1, a 3x2 kernel, float64"""
    x = torch.randn(2, 3, 7, 6, dtype=f64, generator=rng)
    w = torch.randn(4, 3, 3, 2, dtype=f64, generator=rng)
    b = torch.randn(4, dtype=f64, generator=rng)
    out = student.conv2d_forward(x, w, b, stride=2, padding=1)
    check_unmodified(student)
    check(out, reference.conv2d_forward(x, w, b, stride=2, padding=1), name="out", hints={
        "the kernel is flipped (that is convolution; F.conv2d computes cross-correlation)":
            reference.conv2d_forward(x, w.flip(-1, -2), b, stride=2, padding=1),
        "the bias is missing": reference.conv2d_forward(x, w, torch.zeros_like(b), stride=2, padding=1),
    })


@pytest.mark.function("conv2d_backward")
@pytest.mark.points(1)
@pytest.mark.public
def test_conv2d_backward(student, reference, rng):
    """dx, dw, db with padding 1, float64"""
    x = torch.randn(2, 2, 5, 6, dtype=f64, generator=rng)
    w = torch.randn(3, 2, 3, 3, dtype=f64, generator=rng)
    b = torch.randn(3, dtype=f64, generator=rng)
    dout = torch.randn(2, 3, 5, 6, dtype=f64, generator=rng)  # padding 1 keeps the size
    out = student.conv2d_backward(dout, x, w, b, stride=1, padding=1)
    check_unmodified(student)
    dx, dw, db = reference.conv2d_backward(dout, x, w, b, stride=1, padding=1)
    check_parts(out, (dx, dw, db), ("dx", "dw", "db"), "conv2d_backward", hints={
        "dx uses the kernel unflipped: the gradient is a full convolution of dout with the flipped kernel":
            (reference.conv2d_backward(dout, x, w.flip(-1, -2), b, stride=1, padding=1)[0], None, None),
        "dw is flipped in both spatial dimensions": (None, dw.flip(-1, -2), None),
    })


@pytest.mark.function("maxpool2d_forward")
@pytest.mark.points(1)
@pytest.mark.public
def test_maxpool2d_forward(student, reference, rng):
    """2x2 windows, default stride, odd image size, float64"""
    x = torch.randn(2, 3, 7, 8, dtype=f64, generator=rng)
    out = student.maxpool2d_forward(x, 2)
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, 2), name="out")


@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(1)
@pytest.mark.public
def test_maxpool2d_backward_ties(student, reference, rng):
    """2x2 windows on integer-valued inputs, so windows have ties"""
    x = torch.randint(0, 4, (2, 2, 6, 8), generator=rng).to(f64)
    dout = torch.randn(2, 2, 3, 4, dtype=f64, generator=rng)
    dx = student.maxpool2d_backward(dout, x, 2)
    check_unmodified(student)
    check(dx, reference.maxpool2d_backward(dout, x, 2), name="dx", hints={
        "every tied maximum of a window got the gradient; only the first in row-major order should":
            pool_grad_variant(dout, x, 2, None, "all"),
        "a tie went to the last maximum of the window; it goes to the first in row-major order":
            reference.maxpool2d_backward(dout.flip(-1, -2), x.flip(-1, -2), 2).flip(-1, -2),
    })


@pytest.mark.function("sobel")
@pytest.mark.points(1)
@pytest.mark.public
def test_sobel(student, reference, rng):
    """random 7x9 images, float64"""
    images = torch.randn(2, 1, 7, 9, dtype=f64, generator=rng)
    out = student.sobel(images)
    check_unmodified(student)
    gx, gy = reference.sobel(images)
    check_parts(out, (gx, gy), ("gx", "gy"), "sobel", hints={
        "gx and gy are swapped: gx uses [[-1,0,1],[-2,0,2],[-1,0,1]] (left to right), gy its transpose": (gy, gx),
    })


@pytest.mark.function("gradient_magnitude")
@pytest.mark.points(1)
@pytest.mark.public
def test_gradient_magnitude(student, reference, rng):
    """random gradients, float64"""
    gx = torch.randn(2, 1, 5, 6, dtype=f64, generator=rng)
    gy = torch.randn(2, 1, 5, 6, dtype=f64, generator=rng)
    out = student.gradient_magnitude(gx, gy)
    check_unmodified(student)
    check(out, reference.gradient_magnitude(gx, gy), name="magnitude", hints={
        "the square root is missing": gx ** 2 + gy ** 2,
        "that is |gx| + |gy|, not sqrt(gx^2 + gy^2)": gx.abs() + gy.abs(),
    })
