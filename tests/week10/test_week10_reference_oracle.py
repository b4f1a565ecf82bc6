"""The week10 reference solution against oracles that share none of its code.

Saliency against autograd image by image (one backward per image, .grad on a
leaf), on a model with BatchNorm and dropout handed over in train mode.
Grad-CAM against an implementation that cuts the Sequential model at the target
layer instead of hooking it, and upsamples with interpolation matrices written
by hand, and against a hook-based one with a tensor hook for the gradient and
one backward per image; the models and inputs make every clause of the contract change the
answer (the ReLU, the spatial mean, the per-image normalisation, bilinear
upsampling with align_corners=False, an all-zero map), and the target layer is
followed by ReLU(inplace=True). Occlusion against one forward pass per window.
No function changes a parameter or a buffer, leaves a gradient on the
parameters or a hook on the model.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week10" / "visualize.py"
DTYPES = [torch.float32, torch.float64]
TARGET = 3  # the stride-2 conv, followed by ReLU(inplace=True)


@pytest.fixture(scope="module")
def vis():
    spec = importlib.util.spec_from_file_location("week10_visualize_under_test", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(seed, C, H, W, classes, dtype, train=False):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(C, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
        nn.Conv2d(4, 5, 3, stride=2, padding=1), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Flatten(), nn.Linear(5 * ((H + 1) // 2) * ((W + 1) // 2), classes))
    with torch.no_grad():
        bn = model[1]
        bn.running_mean.copy_(torch.rand(4, generator=g) - 0.5)
        bn.running_var.copy_(torch.rand(4, generator=g) * 2 + 0.5)
        bn.weight.copy_(torch.rand(4, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(4, generator=g) * 0.3)
    return model.to(dtype).train(train)


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_untouched(model, before):
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "a parameter or buffer changed"
    assert all(p.grad is None for p in model.parameters()), "gradients left on the parameters"
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules()), "a hook was left"


# ------------------------------------------------------------------ saliency
def saliency_oracle(model, images, targets):
    model.eval()
    maps = []
    for n in range(images.shape[0]):
        x = images[n:n + 1].clone().requires_grad_(True)
        model(x)[0, int(targets[n])].backward()
        maps.append(x.grad[0].abs().max(dim=0).values)
    model.zero_grad(set_to_none=True)
    return torch.stack(maps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3, 7, 5), (1, 2, 4, 9), (4, 1, 6, 6)])
def test_saliency_against_per_image_autograd(vis, dtype, shape):
    N, C, H, W = shape
    g = torch.Generator().manual_seed(N * 100 + H)
    images = torch.randn(shape, generator=g).to(dtype)
    targets = torch.randint(0, 4, (N,), generator=g)
    model = build(N + H, C, H, W, 4, dtype, train=True)
    before, kept = snapshot(model), images.clone()
    out = vis.saliency_map(model, images, targets)
    assert not model.training, "saliency_map must call model.eval()"
    assert_untouched(model, before)
    assert torch.equal(images, kept)
    assert out.shape == (N, H, W) and out.dtype == dtype and not out.requires_grad
    expected = saliency_oracle(build(N + H, C, H, W, 4, dtype), images, targets)
    torch.testing.assert_close(out, expected)
    # the clauses matter here: train mode, the abs, the max over channels, the logit
    train_model = build(N + H, C, H, W, 4, dtype, train=True)
    torch.manual_seed(1)
    x = images.clone().requires_grad_(True)
    train_model(x).gather(1, targets.view(-1, 1)).sum().backward()
    assert not torch.allclose(x.grad.abs().amax(1), expected)
    if C > 1:
        x = images.clone().requires_grad_(True)
        build(N + H, C, H, W, 4, dtype)(x).gather(1, targets.view(-1, 1)).sum().backward()
        assert not torch.allclose(x.grad.amax(1), expected)
        assert not torch.allclose(x.grad.abs().sum(1), expected)


# ------------------------------------------------------------------ Grad-CAM
def upsample_matrix(out_size, in_size, dtype):
    """R [out, in]: bilinear weights with align_corners=False (half-pixel centres, clamped at 0)."""
    R = torch.zeros(out_size, in_size, dtype=dtype)
    for i in range(out_size):
        src = max((i + 0.5) * in_size / out_size - 0.5, 0.0)
        i0 = min(int(math.floor(src)), in_size - 1)
        i1 = min(i0 + 1, in_size - 1)
        frac = src - i0
        R[i, i0] += 1 - frac
        R[i, i1] += frac
    return R


def grad_cam_oracle(model, cut, images, targets, *, relu=True, pool="mean", normalise=True, upsample="hand"):
    """Grad-CAM with the model cut at `cut` (A = model[:cut+1](x)), one image at a time."""
    model.eval()
    N, _, H, W = images.shape
    maps = []
    with torch.no_grad():
        acts = model[:cut + 1](images).clone()
    for n in range(N):
        A = acts[n:n + 1].clone().requires_grad_(True)
        model[cut + 1:](A.clone())[0, int(targets[n])].backward()
        G, A = A.grad[0], A.detach()[0]
        h, w = A.shape[-2:]
        weights = G.sum(dim=(1, 2)) / (h * w) if pool == "mean" else None
        m = (weights[:, None, None] * A).sum(0) if pool == "mean" else (G * A).sum(0)
        if relu:
            m = torch.where(m > 0, m, torch.zeros_like(m))
        if upsample == "hand":
            M = upsample_matrix(H, h, m.dtype) @ m @ upsample_matrix(W, w, m.dtype).T
        else:
            M = F.interpolate(m[None, None], size=(H, W), mode=upsample,
                              **({"align_corners": True} if upsample == "bilinear" else {}))[0, 0]
        if normalise and M.max() > 0:
            M = M / M.max()
        maps.append(M)
    model.zero_grad(set_to_none=True)
    return torch.stack(maps)


def grad_cam_hooks(model, layer, images, targets):
    """Grad-CAM with hooks, written apart from the reference: the forward hook copies A's values and
    hangs a tensor hook on A for its gradient (a tensor hook registered before the in-place ReLU
    receives the gradient of A as the layer produced it); one backward per image; torch's bilinear."""
    model.eval()
    maps = []
    for n in range(images.shape[0]):
        seen = {}

        def forward_hook(module, inputs, output):
            seen["A"] = output.detach().clone()
            output.register_hook(lambda g: seen.__setitem__("G", g.detach().clone()))

        handle = layer.register_forward_hook(forward_hook)
        model(images[n:n + 1])[0, int(targets[n])].backward()
        handle.remove()
        A, G = seen["A"][0], seen["G"][0]
        m = torch.clamp((G.mean(dim=(1, 2))[:, None, None] * A).sum(0), min=0)
        M = F.interpolate(m[None, None], size=images.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
        maps.append(M / M.max() if M.max() > 0 else M)
    model.zero_grad(set_to_none=True)
    return torch.stack(maps)


CAM_CASES = [((3, 3, 7, 5), 6), ((1, 2, 5, 8), 5), ((2, 1, 9, 6), 4)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,classes", CAM_CASES)
def test_grad_cam_against_cut_model(vis, dtype, shape, classes):
    N, C, H, W = shape
    g = torch.Generator().manual_seed(H * W)
    images = torch.randn(shape, generator=g).to(dtype)
    targets = torch.randint(0, classes, (N,), generator=g)
    model = build(H * W, C, H, W, classes, dtype)
    before, kept = snapshot(model), images.clone()
    out = vis.grad_cam(model, model[TARGET], images, targets)
    assert not model.training
    assert_untouched(model, before)
    assert torch.equal(images, kept)
    assert out.shape == (N, H, W) and out.dtype == dtype and not out.requires_grad
    expected = grad_cam_oracle(build(H * W, C, H, W, classes, dtype), TARGET, images, targets)
    torch.testing.assert_close(out, expected)
    fresh = build(H * W, C, H, W, classes, dtype)
    torch.testing.assert_close(out, grad_cam_hooks(fresh, fresh[TARGET], images, targets))
    assert torch.allclose(out.amax(dim=(1, 2)), torch.ones(N, dtype=dtype))


def test_grad_cam_every_clause_changes_the_answer(vis):
    """On these inputs each wrong reading of the contract gives another map."""
    N, C, H, W = 3, 3, 7, 5
    g = torch.Generator().manual_seed(5)
    images = torch.randn(N, C, H, W, generator=g, dtype=torch.float64)
    targets = torch.tensor([0, 2, 5])
    model = build(35, C, H, W, 6, torch.float64)
    right = vis.grad_cam(model, model[TARGET], images, targets)
    for wrong in ({"relu": False}, {"pool": "none"}, {"normalise": False},
                  {"upsample": "bilinear"}, {"upsample": "nearest"}):
        other = grad_cam_oracle(model, TARGET, images, targets, **wrong)
        assert not torch.allclose(right, other, atol=1e-4), wrong
    # A taken after the in-place ReLU that follows the layer (the hook's tensor, changed later)
    post = grad_cam_oracle(model, TARGET + 1, images, targets)
    assert not torch.allclose(right, post, atol=1e-4)
    # normalised over the batch instead of per image
    raw = grad_cam_oracle(model, TARGET, images, targets, normalise=False)
    assert not torch.allclose(right, raw / raw.max(), atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_cam_all_zero_map_stays_zero(vis, dtype):
    """A class whose logit ignores the layer: zero gradients, a zero map, no NaN from 0 / 0."""
    N, C, H, W = 2, 2, 6, 7
    g = torch.Generator().manual_seed(9)
    images = torch.randn(N, C, H, W, generator=g).to(dtype)
    model = build(9, C, H, W, 3, dtype)
    with torch.no_grad():
        model[-1].weight[1] = 0
    out = vis.grad_cam(model, model[TARGET], images, torch.tensor([1, 2]))
    assert torch.isfinite(out).all()
    assert torch.equal(out[0], torch.zeros(H, W, dtype=dtype))
    assert out[1].max() == 1
    torch.testing.assert_close(out, grad_cam_oracle(model, TARGET, images, torch.tensor([1, 2])))


def test_grad_cam_at_a_layer_followed_by_batchnorm(vis):
    N, C, H, W = 2, 3, 6, 5
    g = torch.Generator().manual_seed(2)
    images = torch.randn(N, C, H, W, generator=g, dtype=torch.float64)
    targets = torch.tensor([3, 1])
    model = build(4, C, H, W, 4, torch.float64)
    out = vis.grad_cam(model, model[0], images, targets)
    torch.testing.assert_close(out, grad_cam_oracle(model, 0, images, targets))
    torch.testing.assert_close(out, grad_cam_hooks(model, model[0], images, targets))


# ------------------------------------------------------------------ occlusion
def occlusion_oracle(model, image, target, p, s, fill):
    model.eval()
    C, H, W = image.shape
    with torch.no_grad():
        base = torch.softmax(model(image[None]), 1)[0, target]
        rows = []
        top = 0
        while top + p <= H:
            row, left = [], 0
            while left + p <= W:
                x = image.clone()
                x[:, top:top + p, left:left + p] = fill
                row.append(base - torch.softmax(model(x[None]), 1)[0, target])
                left += s
            rows.append(torch.stack(row))
            top += s
    return torch.stack(rows)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C,H,W,p,s,fill", [(3, 8, 6, 3, 2, 0.0), (1, 7, 9, 2, 3, -1.5),
                                            (2, 6, 5, 4, 1, 0.5), (3, 5, 7, 5, 5, 2.0)])
def test_occlusion_against_window_loop(vis, dtype, C, H, W, p, s, fill):
    g = torch.Generator().manual_seed(H * W + p)
    image = torch.randn(C, H, W, generator=g).to(dtype)
    model = build(H + W, C, H, W, 5, dtype)
    before, kept = snapshot(model), image.clone()
    out = vis.occlusion_sensitivity(model, image, 2, p, s, fill=fill)
    assert_untouched(model, before)
    assert torch.equal(image, kept)
    assert out.shape == ((H - p) // s + 1, (W - p) // s + 1) and out.dtype == dtype
    torch.testing.assert_close(out, occlusion_oracle(model, image, 2, p, s, fill))


def test_occlusion_default_fill_is_zero(vis):
    g = torch.Generator().manual_seed(3)
    image = torch.randn(2, 6, 7, generator=g, dtype=torch.float64)
    model = build(1, 2, 6, 7, 3, torch.float64)
    torch.testing.assert_close(vis.occlusion_sensitivity(model, image, 0, 3, 2),
                               occlusion_oracle(model, image, 0, 3, 2, 0.0))
