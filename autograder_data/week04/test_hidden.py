"""Week 4 hidden tests: run only by `dlgrade grade`.

Each function's points are split over values on random inputs, non-square
kernels, windows and images, stride and padding as ints and pairs (strides
larger than the kernel, both paddings non-zero), both float dtypes, edge sizes
(batch, channels and filters of 1, 1x1 kernel, kernel as large as the image),
non-contiguous inputs (transposed and sliced views, sent with their strides),
exact zeros, inputs left unmodified and, for max-pooling, ties. Tests of a
backward function never call the student's forward function, so a bug costs
only the function that has it.

Points: conv2d_forward 6, conv2d_backward 6, maxpool2d_forward 3,
maxpool2d_backward 4, sobel 3, gradient_magnitude 2 (24 in all).
"""

import pytest
import torch

from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64

FLIPPED = "the kernel is flipped (that is convolution; F.conv2d computes cross-correlation)"
DX_FLIPPED = "dx uses the kernel unflipped: the gradient is a full convolution of dout with the flipped kernel"
DW_FLIPPED = "dw is flipped in both spatial dimensions"
DX_TRANSPOSED = "dx uses the kernel transposed (w[..., j, i] where w[..., i, j] belongs)"
SPLIT_TIES = ("the gradient of a window was split among its tied maxima (what autograd does for amax); "
              "the first maximum in row-major order gets all of it")
WHOLE_WINDOW = "every entry of a window got the window's gradient; only the position of its maximum should"
ALL_TIES = "every tied maximum of a window got the gradient; only the first in row-major order should"
LAST_TIE = "a tie went to the last maximum of the window; it goes to the first in row-major order"
OVERWRITE = "where windows overlap, their gradients must be added, not overwrite each other"
SWAPPED = "gx and gy are swapped: gx uses [[-1,0,1],[-2,0,2],[-1,0,1]] (left to right), gy its transpose"


# ------------------------------------------------------------------ helpers
def check_parts(out, expected, names, function, hints=None):
    """Check a tuple answer item by item, naming each item (dx, dw, ...).

    hints: {text: function returning a tuple of alternatives, one per item,
    None where none}; called only when an item is wrong.
    """
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        got = f"a {type(out).__name__} of {len(out)} items" if isinstance(out, (tuple, list)) else (
            "None (did the function forget to return?)" if out is None else f"a {type(out).__name__}")
        fail(f"{function} should return a tuple ({', '.join(names)}), got {got}")
    for i, name in enumerate(names):
        alts = {text: (lambda alt=alt, i=i: alt()[i]) for text, alt in (hints or {}).items()}
        check(out[i], expected[i], name=name, hints=alts)


def conv_inputs(rng, dtype, x_shape, w_shape):
    x = torch.randn(*x_shape, dtype=dtype, generator=rng)
    w = torch.randn(*w_shape, dtype=dtype, generator=rng)
    b = torch.randn(w_shape[0], dtype=dtype, generator=rng)
    return x, w, b


def check_conv_forward(student, reference, x, w, b, stride, padding):
    out = student.conv2d_forward(x, w, b, stride=stride, padding=padding)
    check_unmodified(student)
    check(out, reference.conv2d_forward(x, w, b, stride=stride, padding=padding), name="out", hints={
        FLIPPED: lambda: reference.conv2d_forward(x, w.flip(-1, -2), b, stride=stride, padding=padding),
        "the bias is missing": lambda: reference.conv2d_forward(x, w, torch.zeros_like(b), stride=stride,
                                                                padding=padding),
    })


def check_conv_backward(student, reference, rng, x, w, b, stride, padding):
    """dout is shaped from the reference's forward output, never the student's."""
    shape = reference.conv2d_forward(x, w, b, stride=stride, padding=padding).shape
    dout = torch.randn(*shape, dtype=x.dtype, generator=rng)
    out = student.conv2d_backward(dout, x, w, b, stride=stride, padding=padding)
    check_unmodified(student)
    dx, dw, db = reference.conv2d_backward(dout, x, w, b, stride=stride, padding=padding)
    hints = {
        DX_FLIPPED: lambda: (reference.conv2d_backward(dout, x, w.flip(-1, -2), b, stride=stride,
                                                       padding=padding)[0], None, None),
        DW_FLIPPED: lambda: (None, dw.flip(-1, -2), None),
    }
    if w.shape[-1] == w.shape[-2]:
        hints[DX_TRANSPOSED] = lambda: (reference.conv2d_backward(dout, x, w.transpose(-1, -2), b, stride=stride,
                                                                  padding=padding)[0], None, None)
    check_parts(out, (dx, dw, db), ("dx", "dw", "db"), "conv2d_backward", hints=hints)


def small_ints(rng, shape, dtype, high=3):
    """Integer values in [0, high): most pooling windows have a tie."""
    return torch.randint(0, high, shape, generator=rng).to(dtype)


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


def check_pool_backward(student, reference, rng, x, k, s):
    """dout is shaped from the reference's forward output, never the student's."""
    shape = reference.maxpool2d_forward(x, k, s).shape
    dout = torch.randn(*shape, dtype=x.dtype, generator=rng)
    dx = student.maxpool2d_backward(dout, x, k, s)
    check_unmodified(student)
    check(dx, reference.maxpool2d_backward(dout, x, k, s), name="dx", hints={
        ALL_TIES: lambda: pool_grad_variant(dout, x, k, s, "all"),
        SPLIT_TIES: lambda: pool_grad_variant(dout, x, k, s, "split"),
        WHOLE_WINDOW: lambda: pool_grad_variant(dout, x, k, s, "window"),
        LAST_TIE: lambda: pool_grad_variant(dout, x, k, s, "last"),
        OVERWRITE: lambda: pool_grad_variant(dout, x, k, s, "overwrite"),
    })


def transposed(t):
    """The same values as a non-contiguous view: a tensor with its last two dimensions
    swapped, transposed back (the wire keeps the strides, as a local call would)."""
    return t.transpose(-1, -2).contiguous().transpose(-1, -2)


def sliced(t, dim):
    """The same values as a non-contiguous view: every other entry of a tensor twice as large along dim."""
    shape = list(t.shape)
    shape[dim] *= 2
    big = torch.zeros(shape, dtype=t.dtype)
    index = [slice(None)] * t.dim()
    index[dim] = slice(0, None, 2)
    big[tuple(index)] = t
    return big[tuple(index)]


def check_sobel(student, reference, images):
    out = student.sobel(images)
    check_unmodified(student)
    gx, gy = reference.sobel(images)
    check_parts(out, (gx, gy), ("gx", "gy"), "sobel", hints={SWAPPED: lambda: (gy, gx)})


# ------------------------------------------------------------------ conv2d_forward (6)
@pytest.mark.function("conv2d_forward")
@pytest.mark.points(1)
def test_conv2d_forward_values(student, reference, rng):
    """random values, 3x3 kernel, stride 1, no padding, float64"""
    x, w, b = conv_inputs(rng, f64, (2, 3, 7, 7), (4, 3, 3, 3))
    check_conv_forward(student, reference, x, w, b, 1, 0)


@pytest.mark.function("conv2d_forward")
@pytest.mark.points(1)
def test_conv2d_forward_pairs(student, reference, rng):
    """stride (2, 3) and padding (1, 2) as pairs, 2x4 kernel, 9x11 images, float32"""
    x, w, b = conv_inputs(rng, f32, (2, 2, 9, 11), (3, 2, 2, 4))
    check_conv_forward(student, reference, x, w, b, (2, 3), (1, 2))


@pytest.mark.function("conv2d_forward")
@pytest.mark.points(1)
def test_conv2d_forward_stride_leaves_border(student, reference, rng):
    """stride 3 and padding 2 as ints, where the last rows are never reached, float64"""
    x, w, b = conv_inputs(rng, f64, (3, 3, 10, 8), (2, 3, 3, 3))
    check_conv_forward(student, reference, x, w, b, 3, 2)


@pytest.mark.function("conv2d_forward")
@pytest.mark.points(1)
def test_conv2d_forward_edge_sizes(student, reference, rng):
    """1x1 kernel; kernel as large as the image; kernel as large as the padded image"""
    x, w, b = conv_inputs(rng, f64, (2, 3, 5, 4), (4, 3, 1, 1))
    check_conv_forward(student, reference, x, w, b, 1, 0)
    x, w, b = conv_inputs(rng, f64, (2, 2, 5, 6), (3, 2, 5, 6))
    check_conv_forward(student, reference, x, w, b, 1, 0)
    x, w, b = conv_inputs(rng, f32, (1, 2, 4, 3), (2, 2, 6, 5))
    check_conv_forward(student, reference, x, w, b, 2, 1)


@pytest.mark.function("conv2d_forward")
@pytest.mark.points(0.5)
def test_conv2d_forward_float32_batch(student, reference, rng):
    """a batch of 4 with 4 channels, 5x5 kernel, stride 2, padding 2, float32"""
    x, w, b = conv_inputs(rng, f32, (4, 4, 16, 16), (4, 4, 5, 5))
    check_conv_forward(student, reference, x, w, b, 2, 2)


@pytest.mark.function("conv2d_forward")
@pytest.mark.points(0.75)
def test_conv2d_forward_stride_larger_than_kernel(student, reference, rng):
    """stride 3 with a 2x2 kernel; stride (3, 4) with a 2x1 kernel and padding (1, 2)"""
    x, w, b = conv_inputs(rng, f64, (2, 2, 9, 10), (3, 2, 2, 2))
    check_conv_forward(student, reference, x, w, b, 3, 0)
    x, w, b = conv_inputs(rng, f32, (1, 3, 8, 9), (2, 3, 2, 1))
    check_conv_forward(student, reference, x, w, b, (3, 4), (1, 2))


@pytest.mark.function("conv2d_forward")
@pytest.mark.points(0.75)
def test_conv2d_forward_views(student, reference, rng):
    """non-contiguous x, w and b (a transposed and sliced views), stride 2, padding 1"""
    x, w, b = conv_inputs(rng, f64, (2, 3, 7, 8), (4, 3, 3, 2))
    check_conv_forward(student, reference, transposed(x), sliced(w, 1), sliced(b, 0), 2, 1)


# ------------------------------------------------------------------ conv2d_backward (6)
@pytest.mark.function("conv2d_backward")
@pytest.mark.points(1)
def test_conv2d_backward_values(student, reference, rng):
    """dx, dw, db: 3x3 kernel, stride 1, no padding, float64"""
    x, w, b = conv_inputs(rng, f64, (2, 3, 6, 6), (4, 3, 3, 3))
    check_conv_backward(student, reference, rng, x, w, b, 1, 0)


@pytest.mark.function("conv2d_backward")
@pytest.mark.points(1)
def test_conv2d_backward_stride_padding(student, reference, rng):
    """stride 2 and padding 1 as ints, float64"""
    x, w, b = conv_inputs(rng, f64, (2, 2, 8, 8), (3, 2, 3, 3))
    check_conv_backward(student, reference, rng, x, w, b, 2, 1)


@pytest.mark.function("conv2d_backward")
@pytest.mark.points(1)
def test_conv2d_backward_pairs(student, reference, rng):
    """stride (1, 2) and padding (2, 0) as pairs, 3x2 kernel, 8x7 images, float32"""
    x, w, b = conv_inputs(rng, f32, (2, 3, 8, 7), (2, 3, 3, 2))
    check_conv_backward(student, reference, rng, x, w, b, (1, 2), (2, 0))


@pytest.mark.function("conv2d_backward")
@pytest.mark.points(1)
def test_conv2d_backward_edge_sizes(student, reference, rng):
    """stride 3 leaving rows unused; 1x1 kernel; kernel as large as the image"""
    x, w, b = conv_inputs(rng, f64, (2, 2, 8, 9), (3, 2, 3, 3))
    check_conv_backward(student, reference, rng, x, w, b, 3, 0)
    x, w, b = conv_inputs(rng, f64, (2, 3, 4, 5), (2, 3, 1, 1))
    check_conv_backward(student, reference, rng, x, w, b, 1, 0)
    x, w, b = conv_inputs(rng, f32, (3, 2, 5, 4), (2, 2, 5, 4))
    check_conv_backward(student, reference, rng, x, w, b, 1, 0)


@pytest.mark.function("conv2d_backward")
@pytest.mark.points(0.75)
def test_conv2d_backward_ones(student, reference, rng):
    """a batch of 1, one channel, one filter (nothing may be squeezed away)"""
    x, w, b = conv_inputs(rng, f64, (1, 2, 5, 6), (3, 2, 3, 3))
    check_conv_backward(student, reference, rng, x, w, b, 1, 1)
    x, w, b = conv_inputs(rng, f64, (2, 1, 5, 6), (3, 1, 3, 2))
    check_conv_backward(student, reference, rng, x, w, b, 1, 0)
    x, w, b = conv_inputs(rng, f64, (2, 3, 6, 5), (1, 3, 2, 3))
    check_conv_backward(student, reference, rng, x, w, b, 2, 1)
    x, w, b = conv_inputs(rng, f32, (1, 1, 4, 4), (1, 1, 3, 3))
    check_conv_backward(student, reference, rng, x, w, b, 1, 1)


@pytest.mark.function("conv2d_backward")
@pytest.mark.points(0.75)
def test_conv2d_backward_stride_larger_than_kernel(student, reference, rng):
    """stride 3 with a 2x2 kernel; stride (3, 2) with padding (1, 2), both non-zero"""
    x, w, b = conv_inputs(rng, f64, (2, 2, 9, 10), (3, 2, 2, 2))
    check_conv_backward(student, reference, rng, x, w, b, 3, 0)
    x, w, b = conv_inputs(rng, f64, (2, 3, 7, 8), (2, 3, 2, 3))
    check_conv_backward(student, reference, rng, x, w, b, (3, 2), (1, 2))


@pytest.mark.function("conv2d_backward")
@pytest.mark.points(0.5)
def test_conv2d_backward_views(student, reference, rng):
    """non-contiguous dout, x and w (transposed and sliced views), padding 1"""
    x, w, b = conv_inputs(rng, f64, (2, 3, 6, 7), (4, 3, 3, 3))
    shape = reference.conv2d_forward(x, w, b, stride=1, padding=1).shape
    dout = torch.randn(*shape, dtype=f64, generator=rng)
    out = student.conv2d_backward(transposed(dout), sliced(x, 1), transposed(w), b, stride=1, padding=1)
    check_unmodified(student)
    dx, dw, db = reference.conv2d_backward(dout, x, w, b, stride=1, padding=1)
    check_parts(out, (dx, dw, db), ("dx", "dw", "db"), "conv2d_backward")


# ------------------------------------------------------------------ maxpool2d_forward (3)
@pytest.mark.function("maxpool2d_forward")
@pytest.mark.points(0.5)
def test_maxpool2d_forward_default_stride(student, reference, rng):
    """2x2 windows with the default stride on 7x9 images (the last row and column are dropped), float64"""
    x = torch.randn(2, 3, 7, 9, dtype=f64, generator=rng)
    out = student.maxpool2d_forward(x, 2)
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, 2), name="out")


@pytest.mark.function("maxpool2d_forward")
@pytest.mark.points(0.5)
def test_maxpool2d_forward_stride_and_pairs(student, reference, rng):
    """overlapping 3x3 windows with stride 2; kernel (2, 3) with stride (1, 2); float32"""
    x = torch.randn(2, 2, 9, 8, dtype=f32, generator=rng)
    out = student.maxpool2d_forward(x, 3, 2)
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, 3, 2), name="out (kernel 3, stride 2)")
    x = torch.randn(1, 3, 6, 9, dtype=f32, generator=rng)
    out = student.maxpool2d_forward(x, (2, 3), (1, 2))
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, (2, 3), (1, 2)), name="out (kernel (2, 3), stride (1, 2))")


@pytest.mark.function("maxpool2d_forward")
@pytest.mark.points(0.5)
def test_maxpool2d_forward_edge_sizes(student, reference, rng):
    """a window as large as the image; a 1x1 window; integer values with ties"""
    x = torch.randn(2, 2, 5, 6, dtype=f64, generator=rng)
    out = student.maxpool2d_forward(x, (5, 6))
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, (5, 6)), name="out (window = image)")
    out = student.maxpool2d_forward(x, 1)
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, 1), name="out (1x1 window)")
    x = small_ints(rng, (2, 3, 6, 6), f32)
    out = student.maxpool2d_forward(x, 3, 1)
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, 3, 1), name="out (integer values)")


@pytest.mark.function("maxpool2d_forward")
@pytest.mark.points(0.75)
def test_maxpool2d_forward_non_square_windows(student, reference, rng):
    """windows (2, 3) and (3, 2) with the default stride and with int strides 1 and 3"""
    for k, s, shape in (((2, 3), None, (2, 2, 6, 9)), ((3, 2), None, (1, 3, 9, 7)), ((2, 3), 1, (2, 2, 5, 6)),
                        ((3, 2), 3, (2, 1, 10, 9))):
        x = torch.randn(*shape, dtype=f64, generator=rng)
        out = student.maxpool2d_forward(x, k, s)
        check_unmodified(student)
        check(out, reference.maxpool2d_forward(x, k, s), name=f"out (kernel {k}, stride {s})")


@pytest.mark.function("maxpool2d_forward")
@pytest.mark.points(0.75)
def test_maxpool2d_forward_views_and_wide_strides(student, reference, rng):
    """non-contiguous inputs (transposed, sliced); stride 3 with 2x2 windows, float32"""
    x = torch.randn(2, 3, 8, 7, dtype=f64, generator=rng)
    out = student.maxpool2d_forward(transposed(x), 2)
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, 2), name="out (transposed view)")
    out = student.maxpool2d_forward(sliced(x, 3), (3, 2), (1, 2))
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, (3, 2), (1, 2)), name="out (sliced view)")
    x = torch.randn(2, 2, 11, 9, dtype=f32, generator=rng)
    out = student.maxpool2d_forward(x, 2, 3)
    check_unmodified(student)
    check(out, reference.maxpool2d_forward(x, 2, 3), name="out (kernel 2, stride 3)")


# ------------------------------------------------------------------ maxpool2d_backward (4)
@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(0.5)
def test_maxpool2d_backward_values(student, reference, rng):
    """2x2 windows on distinct random values, float64"""
    x = torch.randn(2, 3, 6, 8, dtype=f64, generator=rng)
    check_pool_backward(student, reference, rng, x, 2, None)


@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(0.5)
def test_maxpool2d_backward_ties(student, reference, rng):
    """2x2 windows on integer values: a tie goes to the first maximum in row-major order"""
    x = small_ints(rng, (2, 3, 8, 6), f64)
    check_pool_backward(student, reference, rng, x, 2, None)


@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(0.5)
def test_maxpool2d_backward_overlapping(student, reference, rng):
    """overlapping 3x3 windows (stride 1 and 2) with ties: the gradients add up"""
    x = small_ints(rng, (2, 2, 7, 7), f64)
    check_pool_backward(student, reference, rng, x, 3, 1)
    x = small_ints(rng, (2, 2, 9, 8), f64, high=4)
    check_pool_backward(student, reference, rng, x, 3, 2)


@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(0.5)
def test_maxpool2d_backward_pairs(student, reference, rng):
    """kernel (2, 3) with stride (1, 2) and odd sizes, float32 with ties"""
    x = small_ints(rng, (2, 2, 7, 9), f32, high=5)
    check_pool_backward(student, reference, rng, x, (2, 3), (1, 2))


@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(0.5)
def test_maxpool2d_backward_non_square_windows(student, reference, rng):
    """windows (2, 3) and (3, 2) with the default stride and with int strides 1 and 3, with ties"""
    for k, s, shape in (((2, 3), None, (2, 2, 6, 9)), ((3, 2), None, (1, 3, 9, 7)), ((2, 3), 1, (2, 2, 5, 6)),
                        ((3, 2), 3, (2, 1, 10, 9))):
        check_pool_backward(student, reference, rng, small_ints(rng, shape, f64, high=4), k, s)


@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(0.5)
def test_maxpool2d_backward_one_by_one(student, reference, rng):
    """1x1 windows, with stride 1 and stride 2, on their own"""
    x = torch.randn(2, 3, 5, 6, dtype=f64, generator=rng)
    check_pool_backward(student, reference, rng, x, 1, None)
    check_pool_backward(student, reference, rng, x, 1, 2)


@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(0.5)
def test_maxpool2d_backward_whole_image(student, reference, rng):
    """one window as large as the image, on its own, float32 with ties"""
    x = small_ints(rng, (2, 3, 5, 7), f32, high=4)
    check_pool_backward(student, reference, rng, x, (5, 7), None)
    x = torch.randn(1, 2, 4, 4, dtype=f64, generator=rng)
    check_pool_backward(student, reference, rng, x, 4, None)


@pytest.mark.function("maxpool2d_backward")
@pytest.mark.points(0.5)
def test_maxpool2d_backward_views_and_wide_strides(student, reference, rng):
    """non-contiguous dout and x (transposed, sliced); stride 3 with 2x2 windows"""
    x = small_ints(rng, (2, 2, 8, 7), f64, high=4)
    dout = torch.randn(2, 2, 4, 3, dtype=f64, generator=rng)
    dx = student.maxpool2d_backward(transposed(dout), sliced(x, 2), 2)
    check_unmodified(student)
    check(dx, reference.maxpool2d_backward(dout, x, 2), name="dx (views)")
    check_pool_backward(student, reference, rng, torch.randn(2, 2, 11, 9, dtype=f64, generator=rng), 2, 3)


# ------------------------------------------------------------------ sobel (3)
@pytest.mark.function("sobel")
@pytest.mark.points(1)
def test_sobel_values(student, reference, rng):
    """random 8x8 images, float64"""
    check_sobel(student, reference, torch.randn(3, 1, 8, 8, dtype=f64, generator=rng))


@pytest.mark.function("sobel")
@pytest.mark.points(0.75)
def test_sobel_non_square(student, reference, rng):
    """5x11 and 12x3 images, float32"""
    check_sobel(student, reference, torch.randn(2, 1, 5, 11, dtype=f32, generator=rng))
    check_sobel(student, reference, torch.randn(1, 1, 12, 3, dtype=f32, generator=rng))


@pytest.mark.function("sobel")
@pytest.mark.points(0.75)
def test_sobel_edges_and_tiny_images(student, reference, rng):
    """a vertical and a horizontal step edge; 1x1 and 2x2 images"""
    step = torch.zeros(2, 1, 6, 6, dtype=f64)
    step[0, :, :, 3:] = 1.0 + torch.rand(1, dtype=f64, generator=rng)
    step[1, :, 2:, :] = 1.0 + torch.rand(1, dtype=f64, generator=rng)
    check_sobel(student, reference, step)
    check_sobel(student, reference, torch.randn(2, 1, 1, 1, dtype=f64, generator=rng))
    check_sobel(student, reference, torch.randn(2, 1, 2, 2, dtype=f32, generator=rng))


@pytest.mark.function("sobel")
@pytest.mark.points(0.5)
def test_sobel_views(student, reference, rng):
    """non-contiguous images (a transposed and a sliced view)"""
    images = torch.randn(2, 1, 6, 9, dtype=f64, generator=rng)
    out = student.sobel(transposed(images))
    check_unmodified(student)
    gx, gy = reference.sobel(images)
    check_parts(out, (gx, gy), ("gx", "gy"), "sobel", hints={SWAPPED: lambda: (gy, gx)})
    out = student.sobel(sliced(images, 0))
    check_unmodified(student)
    check_parts(out, (gx, gy), ("gx", "gy"), "sobel", hints={SWAPPED: lambda: (gy, gx)})


# ------------------------------------------------------------------ gradient_magnitude (2)
@pytest.mark.function("gradient_magnitude")
@pytest.mark.points(0.75)
def test_gradient_magnitude_values(student, reference, rng):
    """random gradients of mixed sign, float64"""
    gx = 3 * torch.randn(2, 1, 7, 5, dtype=f64, generator=rng)
    gy = 3 * torch.randn(2, 1, 7, 5, dtype=f64, generator=rng)
    out = student.gradient_magnitude(gx, gy)
    check_unmodified(student)
    check(out, reference.gradient_magnitude(gx, gy), name="magnitude", hints={
        "the square root is missing": gx ** 2 + gy ** 2,
        "that is |gx| + |gy|, not sqrt(gx^2 + gy^2)": gx.abs() + gy.abs(),
    })


@pytest.mark.function("gradient_magnitude")
@pytest.mark.points(0.75)
def test_gradient_magnitude_zeros_float32(student, reference, rng):
    """float32 with exact zeros (flat regions give 0, not NaN)"""
    gx = torch.randn(3, 1, 4, 6, dtype=f32, generator=rng)
    gy = torch.randn(3, 1, 4, 6, dtype=f32, generator=rng)
    gx[0] = 0.0
    gy[0] = 0.0
    gx[1, :, :2] = 0.0
    out = student.gradient_magnitude(gx, gy)
    check_unmodified(student)
    check(out, reference.gradient_magnitude(gx, gy), name="magnitude", hints={
        "the square root is missing": gx ** 2 + gy ** 2,
    })
    zero = (gx == 0) & (gy == 0)
    if (out[zero] != 0).any():
        fail(f"where gx and gy are both exactly 0 the magnitude must be exactly 0, but it is up to "
             f"{out[zero].abs().max().item():.3g} there (a small constant added under the square root?)")


@pytest.mark.function("gradient_magnitude")
@pytest.mark.points(0.5)
def test_gradient_magnitude_views(student, reference, rng):
    """non-contiguous gx and gy (a transposed and a sliced view)"""
    gx = torch.randn(2, 1, 5, 7, dtype=f64, generator=rng)
    gy = torch.randn(2, 1, 5, 7, dtype=f64, generator=rng)
    out = student.gradient_magnitude(transposed(gx), sliced(gy, 3))
    check_unmodified(student)
    check(out, reference.gradient_magnitude(gx, gy), name="magnitude")
