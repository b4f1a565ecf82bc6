"""The week04 reference solution against independent oracles.

Forward passes are compared with torch's own layers (`F.conv2d`,
`F.max_pool2d`), backward passes with autograd through those layers, Sobel with
`F.conv2d` and the two Sobel kernels, and the magnitude with `torch.hypot`.
Autograd may route a tied maximum to a different entry than the course's
"first maximum in row-major order" rule, so ties are checked on hand-made
examples instead.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week04" / "conv.py"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"week04_{path.stem}_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def conv():
    return load(SOLUTION)


def tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)


def close(actual, expected):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    torch.testing.assert_close(actual, expected, **tol(expected.dtype))


# (N, C, H, W), (F, KH, KW), stride, padding
CONV_CASES = [
    ((2, 3, 5, 5), (4, 3, 3), 1, 0),
    ((1, 1, 7, 6), (2, 2, 3), 1, 0),
    ((2, 2, 8, 8), (3, 3, 3), 2, 1),
    ((3, 3, 9, 7), (2, 2, 4), (2, 3), (1, 0)),
    ((2, 4, 6, 10), (5, 3, 1), (1, 2), (0, 2)),
    ((1, 2, 5, 5), (3, 1, 1), 1, 0),                 # 1x1 kernel
    ((2, 1, 4, 6), (2, 4, 6), 1, 0),                 # kernel equal to the image: 1x1 output
    ((2, 2, 4, 4), (1, 6, 6), 1, 1),                 # kernel equal to the padded image
    ((1, 3, 10, 11), (2, 3, 3), 3, 2),               # stride leaves rows and columns unused
    ((4, 4, 16, 16), (4, 5, 5), (2, 2), (2, 2)),
]
DTYPES = [torch.float32, torch.float64]


def conv_inputs(case, dtype, seed):
    (N, C, H, W), (Fo, KH, KW), stride, padding = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, C, H, W, generator=g, dtype=dtype)
    w = torch.randn(Fo, C, KH, KW, generator=g, dtype=dtype)
    b = torch.randn(Fo, generator=g, dtype=dtype)
    return x, w, b, stride, padding


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_forward_matches_f_conv2d(conv, case, dtype):
    x, w, b, stride, padding = conv_inputs(case, dtype, 1)
    originals = [t.clone() for t in (x, w, b)]
    out = conv.conv2d_forward(x, w, b, stride=stride, padding=padding)
    close(out, F.conv2d(x, w, b, stride=stride, padding=padding))
    for t, o in zip((x, w, b), originals):
        assert torch.equal(t, o)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_backward_matches_autograd(conv, case, dtype):
    x, w, b, stride, padding = conv_inputs(case, dtype, 2)
    out_shape = F.conv2d(x, w, b, stride=stride, padding=padding).shape
    dout = torch.randn(out_shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
    originals = [t.clone() for t in (dout, x, w, b)]

    dx, dw, db = conv.conv2d_backward(dout, x, w, b, stride=stride, padding=padding)

    xa, wa, ba = (t.clone().requires_grad_() for t in (x, w, b))
    F.conv2d(xa, wa, ba, stride=stride, padding=padding).backward(dout)
    close(dx, xa.grad)
    close(dw, wa.grad)
    close(db, ba.grad)
    for t, o in zip((dout, x, w, b), originals):
        assert torch.equal(t, o)


# (N, C, H, W), kernel_size, stride (None: the kernel size)
POOL_CASES = [
    ((2, 3, 4, 4), 2, None),
    ((1, 2, 7, 5), 2, None),              # odd sizes: the last row/column is dropped
    ((2, 2, 7, 7), 3, 2),                 # overlapping windows
    ((1, 3, 6, 9), (2, 3), (1, 2)),       # pairs, overlapping in height
    ((2, 1, 5, 6), (5, 6), None),         # kernel equal to the image
    ((3, 2, 5, 5), 1, None),              # 1x1 kernel: the identity
    ((2, 4, 9, 8), 3, 1),
]


def distinct_values(shape, dtype, seed):
    """A random permutation of 0..numel-1: no ties, so autograd is an exact oracle."""
    g = torch.Generator().manual_seed(seed)
    n = torch.Size(shape).numel()
    return (torch.randperm(n, generator=g).to(dtype) / n - 0.5).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool2d_forward_matches_f_max_pool2d(conv, case, dtype):
    shape, k, s = case
    x = torch.randn(shape, generator=torch.Generator().manual_seed(4), dtype=dtype)
    original = x.clone()
    close(conv.maxpool2d_forward(x, k, s), F.max_pool2d(x, k, s))
    assert torch.equal(x, original)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool2d_backward_matches_autograd_without_ties(conv, case, dtype):
    shape, k, s = case
    x = distinct_values(shape, dtype, 5)
    out_shape = F.max_pool2d(x, k, s).shape
    dout = torch.randn(out_shape, generator=torch.Generator().manual_seed(6), dtype=dtype)
    originals = (x.clone(), dout.clone())

    dx = conv.maxpool2d_backward(dout, x, k, s)

    xa = x.clone().requires_grad_()
    F.max_pool2d(xa, k, s).backward(dout)
    close(dx, xa.grad)
    assert torch.equal(x, originals[0]) and torch.equal(dout, originals[1])


def test_maxpool2d_backward_tie_goes_to_first_maximum(conv):
    x = torch.tensor([[[[1., 3., 0., 0.],
                        [3., 3., 0., 0.],
                        [2., 5., 7., 1.],
                        [5., 0., 7., 7.]]]])
    dout = torch.tensor([[[[10., 20.],
                           [30., 40.]]]])
    expected = torch.tensor([[[[0., 10., 20., 0.],
                               [0., 0., 0., 0.],
                               [0., 30., 40., 0.],
                               [0., 0., 0., 0.]]]])
    close(conv.maxpool2d_backward(dout, x, 2), expected)


def test_maxpool2d_backward_ties_in_overlapping_windows_accumulate(conv):
    # 3 windows of width 2, stride 1 over one row of equal values: each window's
    # first entry is its own left pixel
    x = torch.full((1, 1, 1, 4), 2.0, dtype=torch.float64)
    dout = torch.tensor([[[[1.0, 2.0, 4.0]]]], dtype=torch.float64)
    close(conv.maxpool2d_backward(dout, x, (1, 2), 1), torch.tensor([[[[1.0, 2.0, 4.0, 0.0]]]], dtype=torch.float64))
    # kernel 3, stride 1 on a constant 4x4 image: window (y, x) sends to pixel (y, x)
    x = torch.zeros(1, 1, 4, 4)
    dout = torch.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    expected = torch.zeros(1, 1, 4, 4)
    expected[0, 0, :2, :2] = dout[0, 0]
    close(conv.maxpool2d_backward(dout, x, 3, 1), expected)
    # a maximum shared by two overlapping windows collects both gradients
    x = torch.tensor([[[[0., 0., 0.],
                        [0., 9., 0.],
                        [0., 0., 0.]]]])
    dout = torch.tensor([[[[1., 2.], [3., 4.]]]])
    expected = torch.zeros(1, 1, 3, 3)
    expected[0, 0, 1, 1] = 10.0
    close(conv.maxpool2d_backward(dout, x, 2, 1), expected)


SOBEL_X = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1, 5, 5), (3, 1, 8, 6), (2, 1, 1, 1), (2, 1, 2, 9)])
def test_sobel_matches_f_conv2d(conv, shape, dtype):
    images = torch.randn(shape, generator=torch.Generator().manual_seed(7), dtype=dtype)
    original = images.clone()
    kx = SOBEL_X.to(dtype).reshape(1, 1, 3, 3)
    gx, gy = conv.sobel(images)
    close(gx, F.conv2d(images, kx, padding=1))
    close(gy, F.conv2d(images, kx.transpose(-1, -2), padding=1))
    assert torch.equal(images, original)


def test_sobel_step_edge(conv):
    # dark left half, bright right half: gx responds on the edge, gy only at the border rows
    images = torch.zeros(1, 1, 4, 6)
    images[..., 3:] = 1.0
    gx, gy = conv.sobel(images)
    assert torch.equal(gx[0, 0, 1:3], torch.tensor([[0., 0., 4., 4., 0., -4.]] * 2))
    assert torch.equal(gy[0, 0, 1:3], torch.zeros(2, 6))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_magnitude_matches_hypot(conv, dtype):
    g = torch.Generator().manual_seed(8)
    gx = torch.randn(2, 1, 6, 7, generator=g, dtype=dtype) * 10
    gy = torch.randn(2, 1, 6, 7, generator=g, dtype=dtype) * 10
    gx[0, 0, 0, :3] = 0.0
    gy[0, 0, 0, :2] = 0.0
    originals = (gx.clone(), gy.clone())
    close(conv.gradient_magnitude(gx, gy), torch.hypot(gx, gy))
    assert torch.equal(gx, originals[0]) and torch.equal(gy, originals[1])


def test_no_banned_call_in_the_reference():
    """The reference passes the grader's own static ban check with the week's bans."""
    from grader.banned import find_banned
    from grader.course import Course

    week = Course(ROOT).week("week04")
    bans = {f: week.banned_for(f) for f in week.functions}
    assert find_banned(SOLUTION.read_text(), bans) == {}
