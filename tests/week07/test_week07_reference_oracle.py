"""The week07 reference against oracles that share none of its code.

conv_output_size against the shapes nn.Conv2d produces; receptive_field
against the span of the input gradient of one output unit of a chain of
convolutions with all-ones kernels (autograd); count_parameters against a
count over named parameters with shared ones de-duplicated by identity;
BasicBlock against torchvision's BasicBlock with the same weights and
statistics (its `downsample` is our `shortcut`); DepthwiseSeparableConv
against one F.conv2d per input channel followed by a matrix product.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock as TVBlock

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week07" / "architectures.py"


@pytest.fixture(scope="module")
def ref():
    spec = importlib.util.spec_from_file_location("architectures_reference", SOLUTION)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_conv_output_size_matches_conv2d_shapes(ref):
    for size, k, s, p, d in itertools.product([1, 5, 8, 13], [1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2, 3]):
        if size + 2 * p < d * (k - 1) + 1:
            continue
        conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
        out = conv(torch.zeros(1, 1, size, size + 3))
        assert ref.conv_output_size(size, k, s, p, d) == out.shape[-2]
        assert ref.conv_output_size(size + 3, k, s, p, d) == out.shape[-1]
        got = ref.conv_output_size(size, k, stride=s, padding=p, dilation=d)
        assert type(got) is int
    assert ref.conv_output_size(7, 3) == 5


def span(layers, n=200):
    """How many input pixels the central output unit depends on, by autograd through all-ones kernels."""
    x = torch.zeros(1, 1, n, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s)
    (g,) = torch.autograd.grad(y[0, 0, y.shape[-1] // 2], x)
    nz = g[0, 0].nonzero().flatten()
    return int(nz.max() - nz.min() + 1)


@pytest.mark.parametrize("layers", [[], [(3, 1)], [(3, 1), (3, 1)], [(3, 2), (3, 2), (3, 1)],
                                    [(7, 2), (3, 2), (3, 1), (3, 1)], [(1, 1), (2, 2), (5, 3)],
                                    [(2, 2), (2, 2), (2, 2)], [(11, 4), (5, 1), (3, 2), (3, 1)]])
def test_receptive_field_matches_gradient_span(ref, layers):
    assert ref.receptive_field(layers) == span(layers)
    assert ref.receptive_field([tuple(l) for l in layers]) == span(layers)


def test_count_parameters(ref):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 5), nn.Linear(5, 4))
    model[4].weight = nn.Parameter(torch.randn(4, 5))
    shared = nn.Linear(4, 4)
    model.append(shared)
    model.append(shared)  # the same module twice: its parameters count once
    model[0].weight.requires_grad_(False)
    seen, total, trainable = set(), 0, 0
    for _, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    assert total == 3 * 4 * 9 + 4 + 8 + 20 + 5 + 20 + 4 + 20
    assert ref.count_parameters(model, trainable_only=False) == total
    assert ref.count_parameters(model) == trainable == total - 108
    assert ref.count_parameters(model, True) == trainable
    assert ref.count_parameters(nn.ReLU()) == 0


def randomise(module, gen):
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen, dtype=t.dtype) * 2 + 0.5)
            elif t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen, dtype=t.dtype) * 0.5)


@pytest.mark.parametrize("cin,cout,stride", [(4, 4, 1), (3, 6, 2), (4, 5, 1), (4, 4, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_basic_block_matches_torchvision(ref, cin, cout, stride, dtype):
    gen = torch.Generator().manual_seed(cin * 10 + cout + stride)
    mine = ref.BasicBlock(cin, cout, stride).to(dtype)
    randomise(mine, gen)
    down = None
    if stride != 1 or cin != cout:
        down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
    else:
        assert len(mine.shortcut) == 0 and isinstance(mine.shortcut, nn.Sequential)
    tv = TVBlock(cin, cout, stride, downsample=down).to(dtype)
    tv.load_state_dict({k.replace("shortcut", "downsample"): v for k, v in mine.state_dict().items()}, strict=True)
    x = torch.randn(2, cin, 7, 5, generator=gen, dtype=dtype)
    for train in (False, True):
        mine.train(train), tv.train(train)
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = mine(a), tv(b)
        assert ya.shape == (2, cout, (7 - 1) // stride + 1, (5 - 1) // stride + 1)
        torch.testing.assert_close(ya, yb)
        w = torch.randn(ya.shape, generator=gen, dtype=dtype)
        (ya * w).sum().backward(), (yb * w).sum().backward()
        torch.testing.assert_close(a.grad, b.grad)
        for (n, p), q in zip(mine.named_parameters(), tv.parameters()):
            torch.testing.assert_close(p.grad, q.grad, msg=n)
    for k, v in mine.state_dict().items():
        torch.testing.assert_close(v, tv.state_dict()[k.replace("shortcut", "downsample")])


@pytest.mark.parametrize("cin,cout,k,stride", [(3, 5, 3, 1), (1, 4, 3, 2), (4, 2, 5, 2), (2, 3, 1, 1), (3, 3, 4, 1)])
def test_depthwise_separable_matches_per_channel_convs(ref, cin, cout, k, stride):
    gen = torch.Generator().manual_seed(k * 7 + cin)
    m = ref.DepthwiseSeparableConv(cin, cout, k, stride).double()
    assert sorted(m.state_dict()) == ["depthwise.weight", "pointwise.weight"]
    x = torch.randn(2, cin, 9, 6, generator=gen, dtype=torch.float64)
    dw, pw = m.depthwise.weight.detach(), m.pointwise.weight.detach()
    assert dw.shape == (cin, 1, k, k) and pw.shape == (cout, cin, 1, 1)
    chans = [F.conv2d(x[:, c:c + 1], dw[c:c + 1], stride=stride, padding=k // 2) for c in range(cin)]
    mid = torch.cat(chans, 1)
    want = torch.einsum("oc,nchw->nohw", pw[:, :, 0, 0], mid)
    got = m(x)
    torch.testing.assert_close(got, want)
    assert got.shape[-2:] == (ref.conv_output_size(9, k, stride, k // 2), ref.conv_output_size(6, k, stride, k // 2))
