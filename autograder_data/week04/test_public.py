"""Week 4 public tests: one per function, run by `dlgrade check week04`.

Every input is drawn from `rng`, so the reference's answers can be recorded
by `dlgrade release` and replayed in the student bundle. Tests of a backward
function never call the student's forward function: a bug in one function
costs only that function's points.
"""

import pytest
import torch

from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


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
    "split": the tied maxima share it equally;
    "window": every entry of the window gets it;
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
            if rule == "window":
                hit = torch.ones_like(hit)
            elif rule == "split":
                hit = hit / hit.sum(dim=(-2, -1), keepdim=True)
            elif rule != "all":
                flat = hit.flatten(-2).to(torch.uint8)
                pick = kh * kw - 1 - flat.flip(-1).argmax(-1) if rule == "last" else flat.argmax(-1)
                hit = torch.nn.functional.one_hot(pick, kh * kw).reshape(hit.shape).bool()
            g = dout[..., oy, ox, None, None]
            if rule == "overwrite":
                dx[..., rows, cols] = torch.where(hit.bool(), g, dx[..., rows, cols])
            else:
                dx[..., rows, cols] += g * hit
    return dx


@pytest.mark.function("conv2d_forward")
@pytest.mark.points(1)
@pytest.mark.public
def test_conv2d_forward(student, reference, rng):
    """stride 2, padding 1, a 3x2 kernel, float64; then pairs (stride (2, 1), padding (1, 2)), float32"""
    for dtype, stride, padding in ((f64, 2, 1), (f32, (2, 1), (1, 2))):
        x = torch.randn(2, 3, 7, 6, dtype=dtype, generator=rng)
        w = torch.randn(4, 3, 3, 2, dtype=dtype, generator=rng)
        b = torch.randn(4, dtype=dtype, generator=rng)
        out = student.conv2d_forward(x, w, b, stride=stride, padding=padding)
        check_unmodified(student)
        check(out, reference.conv2d_forward(x, w, b, stride=stride, padding=padding),
              name=f"out (stride {stride}, padding {padding}, {str(dtype).removeprefix('torch.')})", hints={
            "the kernel is flipped (that is convolution; F.conv2d computes cross-correlation)":
                reference.conv2d_forward(x, w.flip(-1, -2), b, stride=stride, padding=padding),
            "the bias is missing": reference.conv2d_forward(x, w, torch.zeros_like(b), stride=stride,
                                                            padding=padding),
        })


@pytest.mark.function("conv2d_backward")
@pytest.mark.points(1)
@pytest.mark.public
def test_conv2d_backward(student, reference, rng):
    """dx, dw, db with stride 1, padding 1; then a batch of 1 with stride 2 and no padding; float64"""
    for n, size, stride, padding in ((2, 5, 1, 1), (1, 7, 2, 0)):
        x = torch.randn(n, 2, size, size + 1, dtype=f64, generator=rng)
        w = torch.randn(3, 2, 3, 3, dtype=f64, generator=rng)
        b = torch.randn(3, dtype=f64, generator=rng)
        shape = reference.conv2d_forward(x, w, b, stride=stride, padding=padding).shape
        dout = torch.randn(*shape, dtype=f64, generator=rng)
        out = student.conv2d_backward(dout, x, w, b, stride=stride, padding=padding)
        check_unmodified(student)
        dx, dw, db = reference.conv2d_backward(dout, x, w, b, stride=stride, padding=padding)
        if isinstance(out, (tuple, list)) and len(out) == 3 and isinstance(out[0], torch.Tensor) \
                and out[0].numel() == 0 and padding == 0:
            fail(f"dx is empty with padding 0: a crop like dx_pad[:, :, pad:-pad] keeps nothing when pad is 0 "
                 "(-0 is 0); crop with dx_pad[:, :, pad:pad + H, pad:pad + W]")
        check_parts(out, (dx, dw, db), ("dx", "dw", "db"), "conv2d_backward", hints={
            "dx uses the kernel unflipped: the gradient is a full convolution of dout with the flipped kernel":
                (reference.conv2d_backward(dout, x, w.flip(-1, -2), b, stride=stride, padding=padding)[0],
                 None, None),
            "dx uses the kernel transposed (w[..., j, i] where w[..., i, j] belongs)":
                (reference.conv2d_backward(dout, x, w.transpose(-1, -2), b, stride=stride, padding=padding)[0],
                 None, None),
            "dw is flipped in both spatial dimensions": (None, dw.flip(-1, -2), None),
        })


@pytest.mark.function("maxpool2d_forward")
@pytest.mark.points(1)
@pytest.mark.public
def test_maxpool2d_forward(student, reference, rng):
    """2x2 windows, default stride, odd image size; a (2, 3) window; 3x3 windows with stride 2; float64"""
    x = torch.randn(2, 3, 7, 9, dtype=f64, generator=rng)
    for k, s in ((2, None), ((2, 3), None), (3, 2)):
        out = student.maxpool2d_forward(x, k, s)
        check_unmodified(student)
        check(out, reference.maxpool2d_forward(x, k, s), name=f"out (kernel {k}, stride {s})")


@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(1)
@pytest.mark.public
def test_maxpool2d_backward_ties(student, reference, rng):
    """2x2 windows, then overlapping 3x3 windows with stride 2, on integer-valued inputs, so windows have ties"""
    x = torch.randint(0, 4, (2, 2, 7, 9), generator=rng).to(f64)
    for k, s in ((2, None), (3, 2)):
        dout = torch.randn(*reference.maxpool2d_forward(x, k, s).shape, dtype=f64, generator=rng)
        dx = student.maxpool2d_backward(dout, x, k, s)
        check_unmodified(student)
        check(dx, reference.maxpool2d_backward(dout, x, k, s), name=f"dx (kernel {k}, stride {s})", hints={
            "every tied maximum of a window got the gradient; only the first in row-major order should":
                pool_grad_variant(dout, x, k, s, "all"),
            "the gradient of a window was split among its tied maxima (what autograd does for amax); "
            "the first maximum in row-major order gets all of it": pool_grad_variant(dout, x, k, s, "split"),
            "every entry of a window got the window's gradient; only the position of its maximum should":
                pool_grad_variant(dout, x, k, s, "window"),
            "a tie went to the last maximum of the window; it goes to the first in row-major order":
                pool_grad_variant(dout, x, k, s, "last"),
            "where windows overlap, their gradients must be added, not overwrite each other":
                pool_grad_variant(dout, x, k, s, "overwrite"),
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
    """random gradients with a flat region (exact zeros), float64"""
    gx = torch.randn(2, 1, 5, 6, dtype=f64, generator=rng)
    gy = torch.randn(2, 1, 5, 6, dtype=f64, generator=rng)
    gx[1, :, :2] = 0.0
    gy[1, :, :2] = 0.0
    out = student.gradient_magnitude(gx, gy)
    check_unmodified(student)
    check(out, reference.gradient_magnitude(gx, gy), name="magnitude", hints={
        "the square root is missing": gx ** 2 + gy ** 2,
        "that is |gx| + |gy|, not sqrt(gx^2 + gy^2)": gx.abs() + gy.abs(),
    })
    if (out[1, :, :2] != 0).any():
        fail(f"where gx and gy are both exactly 0 the magnitude must be exactly 0, but it is up to "
             f"{out[1, :, :2].abs().max().item():.3g} there (a small constant added under the square root?)")
