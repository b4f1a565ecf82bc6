"""Week 10 hidden tests: run only by `dlgrade grade`.

Each test is a scenario (see `visualize`, the same as the public suite's): a
small ConvNet seeded from `rng` is built in the worker, the student's function
is called on it, and the map comes back with the model's mode, whether a
parameter or buffer changed, the gradients and hooks left on it. Corners: a
batch of 1, one channel, non-square images, float32 and float64, a
non-contiguous batch, a target per image, a model handed over in train mode,
an all-zero Grad-CAM map, Grad-CAM at a layer followed by BatchNorm and at one
followed by ReLU(inplace=True), occlusion with stride larger than, smaller than
and equal to the patch, the default and other fill values. A test calls only
the function it grades.

Points: saliency_map 3, grad_cam 4, occlusion_sensitivity 3 (10 in all; the
public suite adds 1 per function).
"""

from torch import nn  # noqa: F401  (scenarios run where `nn` and `device` are predefined)

import pytest
import torch
import torch.nn.functional as F

from grader.proxy import LocalReference
from grader.testing import GradingFailure, check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


# ------------------------------------------------------------------ the scenario
def visualize(module, function, seed, classes, train, *args, layer=3, zero_class=None):
    """Build a small seeded ConvNet in the worker, call `function` on it and return the map with
    evidence: the mode after the call, the parameters and buffers it changed, the parameters left
    with a non-zero .grad, the number of hooks left on the model and the inputs it modified."""
    C, H, W = args[0].shape[-3:]
    torch.backends.cudnn.allow_tf32 = False  # float32 convolutions on a GPU as exact as on the CPU
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(C, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
        nn.Conv2d(4, 5, 3, stride=2, padding=1), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Flatten(), nn.Linear(5 * ((H + 1) // 2) * ((W + 1) // 2), classes))
    with torch.no_grad():
        bn = model[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.5)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0.0, 0.3)
        if zero_class is not None:
            model[-1].weight[zero_class] = 0.0  # that logit ignores every layer: a zero Grad-CAM map
    model.to(device=device, dtype=args[0].dtype).train(train)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    inputs = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    if function == "grad_cam":
        out = module.grad_cam(model, model[layer], *args)
    else:
        out = getattr(module, function)(model, *args)
    after = model.state_dict()
    return {"map": out, "training": model.training,
            "changed": [k for k in before if not torch.equal(before[k], after[k])],
            "grads": [k for k, p in model.named_parameters() if p.grad is not None and bool(p.grad.ne(0).any())],
            "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
                         for m in model.modules()),
            "modified": [i for i, (a, b) in enumerate(zip(args, inputs))
                         if isinstance(a, torch.Tensor) and not torch.equal(a, b)]}


def grade(student, reference, function, seed, classes, train, *args, name, hints=None, **kwargs):
    """Run the scenario on the student and the reference; the inputs, gradients and hooks first, then
    the map (a wrong map from a model left in train mode says so), then the parameters and buffers.
    The mode after the call is free when the map is right (a function may restore the mode)."""
    got = student.run(visualize, function, seed, classes, train, *args, **kwargs)
    check_unmodified(student)
    want = reference.run(visualize, function, seed, classes, train, *args, **kwargs)
    if got["modified"]:
        names = ["images" if function != "occlusion_sensitivity" else "image",
                 "targets" if function != "occlusion_sensitivity" else "target"]
        fail(f"{function} modified its input {', '.join(names[i] for i in got['modified'])} in place; work on "
             "a copy (x = x.clone()) or build new tensors instead")
    if got["grads"]:
        fail(f"{function} left gradients on the model's parameters ({', '.join(got['grads'])}): use "
             "torch.autograd.grad(score, x), or set every p.grad back to None")
    if got["hooks"]:
        fail(f"{function} left {got['hooks']} hook(s) on the model: keep the handle that "
             "register_forward_hook returns and call handle.remove()")
    out = got["map"]
    if isinstance(out, torch.Tensor) and isinstance(want["map"], torch.Tensor) and out.shape != want["map"].shape:
        if function == "occlusion_sensitivity":
            fail(f"the occlusion map has shape {list(out.shape)}: there is one value per window whose top-left "
                 "corner is at a multiple of stride and which fits inside the image, "
                 "(H - p) // s + 1 rows and (W - p) // s + 1 columns")
        fail(f"{name} has shape {list(out.shape)}; it is [N, H, W], the size of the input images")
    alts = {text: (lambda flags=flags: LocalReference(Variant(**flags)).run(
        visualize, function, seed, classes, train, *args, **kwargs)["map"]) for text, flags in (hints or {}).items()}
    try:
        check(out, want["map"], name=name, hints=alts)
    except GradingFailure:
        if got["training"]:
            fail(f"{function} ran the model in train mode: call model.eval() first (dropout and BatchNorm "
                 "behave differently in train mode)")
        raise
    if got["changed"]:
        fail(f"{function} changed the model's {', '.join(got['changed'])}: a visualisation changes no "
             "parameter and no buffer")


class Variant:
    """The three maps written once more, with named mistakes switched on (hints only)."""

    def __init__(self, **flags):
        self.f = flags

    def saliency_map(self, model, images, targets):
        if not self.f.get("train"):
            model.eval()
        x = images.clone().requires_grad_(True)
        scores = model(x)
        if self.f.get("prob"):
            scores = scores.softmax(1)
        (g,) = torch.autograd.grad(scores[torch.arange(len(targets)), targets].sum(), x)
        g = g if self.f.get("no_abs") else g.abs()
        return g.sum(1) if self.f.get("sum") else g.max(1).values

    def grad_cam(self, model, layer, images, targets):
        model.eval()
        saved = []
        h = layer.register_forward_hook(lambda m, i, o: saved.append(o) or (None if self.f.get("post") else o.clone()))
        scores = model(images)
        h.remove()
        A = saved[0]
        (G,) = torch.autograd.grad(scores[torch.arange(len(targets)), targets].sum(), A)
        A = A.detach()
        m = (G * A).sum(1) if self.f.get("no_pool") else (G.mean((2, 3))[:, :, None, None] * A).sum(1)
        if not self.f.get("no_relu"):
            m = m.clamp(min=0)
        mode = self.f.get("mode", "bilinear")
        extra = {"align_corners": self.f.get("align", False)} if mode == "bilinear" else {}
        M = F.interpolate(m[:, None], size=images.shape[-2:], mode=mode, **extra)[:, 0]
        norm = self.f.get("norm", "image")
        if norm == "image":
            top = M.flatten(1).max(1).values[:, None, None]
            M = M / torch.where(top > 0, top, torch.ones_like(top))
        elif norm == "batch":
            M = M / M.max()
        return M

    def occlusion_sensitivity(self, model, image, target, p, s, fill=0.0):
        model.eval()
        C, H, W = image.shape
        score = (lambda x: model(x)[0, target]) if self.f.get("logits") else (lambda x: model(x).softmax(1)[0, target])
        fill = 0.0 if self.f.get("zero_fill") else fill
        with torch.no_grad():
            base = score(image[None])
            out = torch.zeros((H - p) // s + 1, (W - p) // s + 1, dtype=image.dtype)
            for i in range(out.shape[0]):
                for j in range(out.shape[1]):
                    x = image.clone()
                    x[:, i * s:i * s + p, j * s:j * s + p] = fill
                    out[i, j] = score(x[None]) - base if self.f.get("reversed") else base - score(x[None])
        return out


def seed_from(rng):
    return int(torch.randint(0, 2 ** 30, (1,), generator=rng))


def distinct_targets(rng, n, classes):
    return torch.randperm(classes, generator=rng)[:n]


NO_EVAL = {"saliency_map is computed in train mode: call model.eval() first": {"train": True}}
SALIENCY = {
    "the absolute value is missing: the saliency is |d score / d pixel|, then the max over channels": {"no_abs": True},
    "the channels are summed: take the MAX over channels of |gradient|": {"sum": True},
    "that is the gradient of the softmax probability: take the gradient of the target's LOGIT (the raw score)":
        {"prob": True},
}
CAM = {
    "the ReLU is missing: the map is relu(sum_k w_k A_k)": {"no_relu": True},
    "the gradients are not averaged over the positions: w_k is the spatial MEAN of d score / d A_k, one "
    "number per channel": {"no_pool": True},
    "the map is not normalised: divide each image's map by its own max": {"norm": "none"},
    "the maps are divided by the max over the whole batch: normalise each image by its own max": {"norm": "batch"},
    "upsampled with align_corners=True: use F.interpolate(..., mode='bilinear', align_corners=False)": {"align": True},
    "upsampled with nearest neighbours: use bilinear upsampling (align_corners=False)": {"mode": "nearest"},
    "A was read after the in-place ReLU that follows the layer changed it: the activations are the layer's own "
    "output (clone it in the hook, or return a copy from the hook)": {"post": True},
}
OCCLUSION = {
    "the drop is measured on the logit: use the softmax probability of the target": {"logits": True},
    "the sign is reversed: the drop is p(original) - p(occluded)": {"reversed": True},
    "the window is filled with 0 whatever `fill` is: write `fill` into the window": {"zero_fill": True},
}


# ------------------------------------------------------------------ saliency_map
@pytest.mark.function("saliency_map")
@pytest.mark.points(1)
def test_saliency_batch_of_one_one_channel(student, reference, rng):
    """a batch of 1, one channel, [1, 1, 6, 9] float64, train mode handed over"""
    images = torch.randn(1, 1, 6, 9, dtype=f64, generator=rng)
    grade(student, reference, "saliency_map", seed_from(rng), 3, True, images, distinct_targets(rng, 1, 3),
          name="saliency", hints=NO_EVAL)


@pytest.mark.function("saliency_map")
@pytest.mark.points(1)
def test_saliency_float32(student, reference, rng):
    """[4, 2, 5, 8] float32, a target per image, train mode handed over"""
    images = torch.randn(4, 2, 5, 8, dtype=f32, generator=rng) * 2
    grade(student, reference, "saliency_map", seed_from(rng), 6, True, images, distinct_targets(rng, 4, 6),
          name="saliency", hints={**NO_EVAL, **SALIENCY})


@pytest.mark.function("saliency_map")
@pytest.mark.points(1)
def test_saliency_non_contiguous(student, reference, rng):
    """a transposed (non-contiguous) batch [3, 3, 7, 4] float64, the same target twice"""
    images = torch.randn(3, 3, 4, 7, dtype=f64, generator=rng).transpose(-1, -2)
    targets = torch.tensor([int(torch.randint(0, 4, (1,), generator=rng))] * 2 + [4])
    grade(student, reference, "saliency_map", seed_from(rng), 5, True, images, targets,
          name="saliency", hints={**NO_EVAL, **SALIENCY})


# ------------------------------------------------------------------ grad_cam
@pytest.mark.function("grad_cam")
@pytest.mark.points(1)
def test_grad_cam_float32_non_square(student, reference, rng):
    """[3, 3, 7, 10] float32, the layer before ReLU(inplace=True), a target per image"""
    images = torch.randn(3, 3, 7, 10, dtype=f32, generator=rng)
    grade(student, reference, "grad_cam", seed_from(rng), 5, False, images, distinct_targets(rng, 3, 5),
          name="cam", hints=CAM)


@pytest.mark.function("grad_cam")
@pytest.mark.points(1)
def test_grad_cam_batch_of_one(student, reference, rng):
    """a batch of 1, one channel, [1, 1, 5, 11] float64, every other column of a wider image (non-contiguous)"""
    images = torch.randn(1, 1, 5, 22, dtype=f64, generator=rng)[..., ::2]
    grade(student, reference, "grad_cam", seed_from(rng), 3, False, images, distinct_targets(rng, 1, 3),
          name="cam", hints=CAM)


@pytest.mark.function("grad_cam")
@pytest.mark.points(1)
def test_grad_cam_all_zero_map(student, reference, rng):
    """an image whose target logit ignores the layer: its map is all zeros (no 0 / 0), the other one is not"""
    images = torch.randn(2, 2, 6, 7, dtype=f64, generator=rng)
    targets = torch.tensor([2, 0]) if bool(torch.rand(1, generator=rng) < 0.5) else torch.tensor([0, 2])
    grade(student, reference, "grad_cam", seed_from(rng), 3, False, images, targets, zero_class=2,
          name="cam", hints=CAM)


@pytest.mark.function("grad_cam")
@pytest.mark.points(1)
def test_grad_cam_layer_before_batchnorm(student, reference, rng):
    """the first conv (followed by BatchNorm), [2, 3, 8, 5] float32"""
    images = torch.randn(2, 3, 8, 5, dtype=f32, generator=rng)
    grade(student, reference, "grad_cam", seed_from(rng), 4, False, images, distinct_targets(rng, 2, 4), layer=0,
          name="cam", hints=CAM)


# ------------------------------------------------------------------ occlusion_sensitivity
@pytest.mark.function("occlusion_sensitivity")
@pytest.mark.points(1)
def test_occlusion_stride_larger_than_patch(student, reference, rng):
    """image [2, 9, 7] float64, patch 2, stride 3, fill -1.0"""
    image = torch.randn(2, 9, 7, dtype=f64, generator=rng)
    target = int(torch.randint(0, 4, (1,), generator=rng))
    grade(student, reference, "occlusion_sensitivity", seed_from(rng), 4, False, image, target, 2, 3, -1.0,
          name="drops", hints=OCCLUSION)


@pytest.mark.function("occlusion_sensitivity")
@pytest.mark.points(1)
def test_occlusion_stride_smaller_than_patch_float32(student, reference, rng):
    """image [1, 6, 8] float32, one channel, patch 4, stride 1, fill 2.0"""
    image = torch.randn(1, 6, 8, dtype=f32, generator=rng)
    target = int(torch.randint(0, 3, (1,), generator=rng))
    grade(student, reference, "occlusion_sensitivity", seed_from(rng), 3, False, image, target, 4, 1, 2.0,
          name="drops", hints=OCCLUSION)


@pytest.mark.function("occlusion_sensitivity")
@pytest.mark.points(1)
def test_occlusion_default_fill(student, reference, rng):
    """image [3, 7, 10] float64 (a transposed view), patch 3, stride 3 (the last row left out), default fill"""
    image = (torch.randn(3, 10, 7, dtype=f64, generator=rng) + 1.0).transpose(1, 2)
    target = int(torch.randint(0, 5, (1,), generator=rng))
    grade(student, reference, "occlusion_sensitivity", seed_from(rng), 5, False, image, target, 3, 3,
          name="drops", hints=OCCLUSION)
