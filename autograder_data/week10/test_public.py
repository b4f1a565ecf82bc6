"""Week 10 public tests: one per function, run by `dlgrade check week10`.

Every function takes a model, so each test is a scenario (see `visualize`): the
same small seeded ConvNet (conv, BatchNorm, ReLU, a stride-2 conv followed by
ReLU(inplace=True), dropout, linear) is built in the worker for the student and
in the trusted process for the reference, the function is called on it, and the
map comes back with evidence: the model's mode, its parameters and buffers, the
gradients and hooks left on it. Every input is drawn from `rng`, so the
reference's answers are recorded by `dlgrade release`. Hints are computed here
by running the same scenario on a second implementation with one named mistake.
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


# ------------------------------------------------------------------ tests
@pytest.mark.function("saliency_map")
@pytest.mark.points(1)
@pytest.mark.public
def test_saliency_map(student, reference, rng):
    """images [3, 3, 7, 5] float64, a model handed over in TRAIN mode, a target per image"""
    images = torch.randn(3, 3, 7, 5, dtype=f64, generator=rng)
    targets = distinct_targets(rng, 3, 5)
    grade(student, reference, "saliency_map", seed_from(rng), 5, True, images, targets,
          name="saliency", hints={**NO_EVAL, **SALIENCY})


@pytest.mark.function("grad_cam")
@pytest.mark.points(1)
@pytest.mark.public
def test_grad_cam(student, reference, rng):
    """images [2, 3, 9, 6] float64, the layer before ReLU(inplace=True), a target per image"""
    images = torch.randn(2, 3, 9, 6, dtype=f64, generator=rng)
    targets = distinct_targets(rng, 2, 4)
    grade(student, reference, "grad_cam", seed_from(rng), 4, False, images, targets, name="cam", hints=CAM)


@pytest.mark.function("occlusion_sensitivity")
@pytest.mark.points(1)
@pytest.mark.public
def test_occlusion_sensitivity(student, reference, rng):
    """image [3, 8, 7] float64, patch 3, stride 2, fill 0.5"""
    image = torch.randn(3, 8, 7, dtype=f64, generator=rng)
    grade(student, reference, "occlusion_sensitivity", seed_from(rng), 4, False, image, 1, 3, 2, 0.5,
          name="drops", hints=OCCLUSION)
