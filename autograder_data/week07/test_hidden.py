"""Week 07 hidden tests: the corners (see test_public.py for how the classes are graded).

conv_output_size over int arguments given positionally and by keyword, strides
larger than kernels, dilation, a size-1 output; receptive_field on the empty
chain, strides larger than kernels, 1x1 layers; count_parameters with shared
modules, tied weights, a fully frozen model and a model without parameters;
BasicBlock with the identity shortcut and with each reason for a projection
(stride alone, channels alone), batch 1, float32 and float64, non-square and
non-contiguous inputs; DepthwiseSeparableConv with one channel, kernels 1 and 5.
"""

from torch import nn  # noqa: F401  (scenarios run where `nn` and `device` are predefined)

import types

import pytest
import torch
import torch.nn.functional as F

from grader.proxy import LocalReference
from grader.testing import GradingFailure, check, fail

f32, f64 = torch.float32, torch.float64


# ------------------------------------------------------------------ the scenarios (run in the worker)
def run_module(module, cls, args, state, x, w):
    """Build module.<cls>(*args), compare its state_dict layout with `state` (the reference's keys and
    shapes); when it matches, load `state` strictly, then an eval forward, a train forward and a backward
    of (y * w).sum(), and return the outputs, the input and parameter gradients and the buffers."""
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    # 0-d tensors do not cross into the worker: the step counters travel as [1] and are reshaped here
    state = {k: v.reshape(()) if k.endswith("num_batches_tracked") else v for k, v in state.items()}
    m = getattr(module, cls)(*args)
    mine = m.state_dict()
    missing = [k for k in state if k not in mine]
    unexpected = [k for k in mine if k not in state]
    shapes = [(k, list(mine[k].shape), list(state[k].shape)) for k in state
              if k in mine and mine[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        return {"layout": {"missing": missing, "unexpected": unexpected, "shapes": shapes}}
    m.load_state_dict(state, strict=True)
    m.to(device=device, dtype=x.dtype)
    x, w = x.to(device), w.to(device)
    before = x.clone()
    m.eval()
    with torch.no_grad():
        y_eval = m(x)
    m.train()
    xi = x.clone().requires_grad_(True)
    y = m(xi)
    if y.shape == w.shape:
        (y * w).sum().backward()
    return {"eval": y_eval, "train": y.detach(),
            "x_grad": xi.grad,
            "grads": {k: p.grad for k, p in m.named_parameters()},
            "buffers": {k: b.item() if b.dim() == 0 else b.detach().clone() for k, b in m.named_buffers()},
            "modified": not torch.equal(x, before)}


def count_model(module, kind, trainable_only, default=False):
    """A small model built in the worker (frozen parts, a shared module, a tied weight, BatchNorm buffers)."""
    torch.manual_seed(0)
    if kind == "plain":
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(36, 5))
        model[0].weight.requires_grad_(False)
    elif kind == "shared":
        shared = nn.Linear(6, 6)
        model = nn.Sequential(nn.Linear(4, 6), shared, nn.ReLU(), shared, nn.Linear(6, 3, bias=False))
        model[0].bias.requires_grad_(False)
    elif kind == "tied":
        emb = nn.Embedding(7, 5)
        head = nn.Linear(5, 7)
        head.weight = emb.weight  # weight tying: one parameter in two modules
        model = nn.Sequential(emb, nn.LayerNorm(5), head)
        model[1].requires_grad_(False)
    elif kind == "frozen":
        model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
        model.requires_grad_(False)
    else:  # empty
        model = nn.Sequential(nn.ReLU(), nn.Identity())
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    n = module.count_parameters(model) if default else module.count_parameters(model, trainable_only=trainable_only)
    same = flags == {name: p.requires_grad for name, p in model.named_parameters()}
    return {"count": n, "requires_grad_kept": same}


# ------------------------------------------------------------------ states built from the contract
def bn_state(gen, c, dtype, prefix):
    return {prefix + "weight": 1 + 0.3 * torch.randn(c, generator=gen, dtype=dtype),
            prefix + "bias": 0.3 * torch.randn(c, generator=gen, dtype=dtype),
            prefix + "running_mean": 0.5 * torch.randn(c, generator=gen, dtype=dtype),
            prefix + "running_var": 0.5 + 2 * torch.rand(c, generator=gen, dtype=dtype),
            prefix + "num_batches_tracked": torch.tensor([3])}


def block_state(rng, cin, cout, stride, dtype):
    """A BasicBlock state_dict by the contract: random weights and BatchNorm statistics."""
    s = {"conv1.weight": 0.3 * torch.randn(cout, cin, 3, 3, generator=rng, dtype=dtype)}
    s.update(bn_state(rng, cout, dtype, "bn1."))
    s["conv2.weight"] = 0.3 * torch.randn(cout, cout, 3, 3, generator=rng, dtype=dtype)
    s.update(bn_state(rng, cout, dtype, "bn2."))
    if stride != 1 or cin != cout:
        s["shortcut.0.weight"] = 0.5 * torch.randn(cout, cin, 1, 1, generator=rng, dtype=dtype)
        s.update(bn_state(rng, cout, dtype, "shortcut.1."))
    return s


def dsc_state(rng, cin, cout, k, dtype):
    return {"depthwise.weight": 0.4 * torch.randn(cin, 1, k, k, generator=rng, dtype=dtype),
            "pointwise.weight": 0.4 * torch.randn(cout, cin, 1, 1, generator=rng, dtype=dtype)}


def out_len(n, k, s, p):
    return (n + 2 * p - k) // s + 1


# ------------------------------------------------------------------ wrong answers, for hints
def variant(**f):
    """The two classes written once more with one named mistake (hints only)."""

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            s1, s2 = (1, stride) if f.get("stride_conv2") else (stride, 1)
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=s1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, stride=s2, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(cout))

        def forward(self, x):
            if f.get("relu_before_bn"):
                out = self.bn1(F.relu(self.conv1(x)))
            else:
                out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if f.get("relu_before_add"):
                return F.relu(out) + self.shortcut(x)
            if f.get("no_skip"):
                return F.relu(out)
            out = out + self.shortcut(x)
            return out if f.get("no_final_relu") else F.relu(out)

    class DepthwiseSeparableConv(nn.Module):
        def __init__(self, cin, cout, k=3, stride=1):
            super().__init__()
            self.depthwise = nn.Conv2d(cin, cin, k, stride=stride, padding=k // 2, groups=cin, bias=False)
            self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

        def forward(self, x):
            y = self.depthwise(x)
            if f.get("relu"):
                y = F.relu(y)
            return self.pointwise(y)

    return types.SimpleNamespace(BasicBlock=BasicBlock, DepthwiseSeparableConv=DepthwiseSeparableConv)


BLOCK_HINTS = {
    "the final ReLU is missing: the block returns relu(bn2(conv2(.)) + shortcut(x))": {"no_final_relu": True},
    "the ReLU is applied before the shortcut is added: add shortcut(x) to bn2(conv2(.)) first, then ReLU":
        {"relu_before_add": True},
    "the shortcut is never added: out = bn2(conv2(.)) + shortcut(x), an empty shortcut is the identity":
        {"no_skip": True},
    "the stride is on conv2: conv1 carries the stride, conv2 always has stride 1": {"stride_conv2": True},
    "the ReLU comes before bn1: the order is conv1, bn1, ReLU": {"relu_before_bn": True},
}
DSC_HINTS = {
    "there is a ReLU between depthwise and pointwise: the module is pointwise(depthwise(x)), nothing else":
        {"relu": True},
}


def layout_message(cls, layout):
    parts = []
    if layout["missing"]:
        parts.append("missing keys " + ", ".join(layout["missing"]))
    if layout["unexpected"]:
        parts.append("unexpected keys " + ", ".join(layout["unexpected"]))
    for k, got, want in layout["shapes"]:
        parts.append(f"{k} has shape {got}, the reference's has {want}")
    return (f"the reference's state_dict does not load into your {cls} (strict=True): " + "; ".join(parts) +
            ". Use exactly the submodule names and layers of the contract: convolutions without bias, "
            "the shortcut an nn.Sequential (empty for the identity, else a 1x1 conv then BatchNorm2d), "
            "the depthwise conv with groups=in_channels")


def grade_module(student, reference, cls, args, state, x, hints):
    """Run the same scenario on the student's class and the reference's; a layout error is named as such."""
    N = x.shape[0]
    if cls == "BasicBlock":
        cin, cout, stride = args
        k, p = 3, 1
    else:
        cin, cout, k, stride = args
        p = k // 2
    w = torch.linspace(-1.0, 1.5, N * cout * out_len(x.shape[2], k, stride, p) * out_len(x.shape[3], k, stride, p),
                       dtype=x.dtype).reshape(N, cout, out_len(x.shape[2], k, stride, p),
                                              out_len(x.shape[3], k, stride, p))
    got = student.run(run_module, cls, args, state, x, w)
    if "layout" in got:
        fail(layout_message(cls, got["layout"]))
    if got["modified"]:
        fail(f"{cls}.forward modified its input x in place")
    want = reference.run(run_module, cls, args, state, x, w)
    def alt(key):
        return {text: (lambda flags=flags: LocalReference(variant(**flags)).run(
            run_module, cls, args, state, x, w)[key]) for text, flags in hints.items()}

    check(got["eval"], want["eval"], name=f"{cls}(x) in eval mode", hints=alt("eval"))
    check(got["train"], want["train"], name=f"{cls}(x) in train mode (batch statistics)", hints=alt("train"))
    check(got["buffers"], want["buffers"], name="the BatchNorm running statistics after one train-mode forward")
    check(got["x_grad"], want["x_grad"], name="the gradient of (y * w).sum() with respect to x")
    check(got["grads"], want["grads"], name="the gradients of the parameters")


def check_int(got, want, name, hints):
    """check() for an int answer, with hints: the engine's check gives hints for tensors and floats only."""
    try:
        check(got, want, name=name)
    except GradingFailure as e:
        for text, alt in hints.items():
            try:
                value = alt()
            except Exception:  # noqa: BLE001 - a hint that cannot be computed is no hint
                continue
            if value == got:
                fail(f"{str(e).rstrip('.')}. Hint: {text}")
        raise


def grade_count(student, reference, kind, trainable_only, default=False, hints=None):
    got = student.run(count_model, kind, trainable_only, default)
    want = reference.run(count_model, kind, trainable_only, default)
    if not got["requires_grad_kept"]:
        fail("count_parameters changed requires_grad of some parameter: only count, change nothing")
    alts = {text: (lambda flags=flags: LocalReference(types.SimpleNamespace(
        count_parameters=lambda model, trainable_only=True: count_variant(model, trainable_only, **flags))).run(
        count_model, kind, trainable_only, default)["count"]) for text, flags in (hints or COUNT_HINTS).items()}
    check_int(got["count"], want["count"], name=f"count_parameters on the '{kind}' model "
                                               f"(trainable_only={'default' if default else trainable_only})",
              hints=alts)


def count_variant(model, trainable_only=True, *, ignore_flag=False, reversed_flag=False, buffers=False,
                  duplicates=False, tensors=False):
    if duplicates:
        params = [p for _, p in model.named_parameters(remove_duplicate=False)]
    else:
        params = list(model.parameters())
    if tensors:
        return len([p for p in params if p.requires_grad or not trainable_only])
    if ignore_flag:
        keep = params
    elif reversed_flag:
        keep = [p for p in params if not p.requires_grad] if trainable_only else params
    else:
        keep = [p for p in params if p.requires_grad or not trainable_only]
    n = sum(p.numel() for p in keep)
    if buffers:
        n += sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return n


COUNT_HINTS = {
    "trainable_only is ignored: with trainable_only=True count only parameters with requires_grad=True":
        {"ignore_flag": True},
    "the test is reversed: trainable_only=True counts the parameters WITH requires_grad=True": {"reversed_flag": True},
    "buffers are counted: BatchNorm running statistics are not parameters, use model.parameters()": {"buffers": True},
    "a shared parameter is counted twice: model.parameters() yields each parameter once": {"duplicates": True},
    "that is the number of parameter tensors: add up p.numel()": {"tensors": True},
}


def conv_variant(size, k, stride=1, padding=0, dilation=1, *, no_dilation=False, one_pad=False, no_plus_one=False, ceil=False):
    s, p, d = stride, padding, dilation
    eff = (k - 1) + 1 if no_dilation else d * (k - 1) + 1
    num = size + (p if one_pad else 2 * p) - eff
    q = -(-num // s) if ceil else num // s
    return q if no_plus_one else q + 1


CONV_HINTS = {
    "the dilation is ignored: a dilated kernel spans dilation*(kernel_size - 1) + 1 pixels": {"no_dilation": True},
    "the padding is added once: it is added on both sides, size + 2*padding": {"one_pad": True},
    "the + 1 is missing: floor((size + 2p - d(k-1) - 1) / s) + 1": {"no_plus_one": True},
    "that rounds up: the division by the stride rounds DOWN (floor, //)": {"ceil": True},
}


def rf_variant(layers, *, same_layer_jump=False, no_strides=False, sum_kernels=False):
    if sum_kernels:
        return sum(k for k, _ in layers) if layers else 1
    r, jump = 1, 1
    for k, s in layers:
        if same_layer_jump:
            jump *= s
        r += (k - 1) * (1 if no_strides else jump)
        if not same_layer_jump:
            jump *= s
    return r


RF_HINTS = {
    "the strides are ignored: each layer's (k - 1) is multiplied by the product of the strides of the layers "
    "BEFORE it": {"no_strides": True},
    "each layer's (k - 1) is multiplied by a product of strides that includes its own stride: only the layers "
    "before it count": {"same_layer_jump": True},
    "the kernel sizes are summed: r = 1 + sum_l (k_l - 1) * (s_1 * ... * s_{l-1})": {"sum_kernels": True},
}


def grade_conv(student, reference, *args, **kwargs):
    got = student.conv_output_size(*args, **kwargs)
    want = reference.conv_output_size(*args, **kwargs)
    shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    check_int(got, want, name=f"conv_output_size({shown})",
              hints={t: (lambda fl=fl: conv_variant(*args, **kwargs, **fl)) for t, fl in CONV_HINTS.items()})


def grade_rf(student, reference, layers):
    got = student.receptive_field(layers)
    want = reference.receptive_field(layers)
    check_int(got, want, name=f"receptive_field({layers!r})",
              hints={t: (lambda fl=fl: rf_variant(layers, **fl)) for t, fl in RF_HINTS.items()})


# ------------------------------------------------------------------ tests
@pytest.mark.function("conv_output_size")
@pytest.mark.points(1)
def test_conv_output_size_grid(student, reference):
    """sizes 1..13, kernels 1..5, strides 1..4, padding 0..2, positional"""
    for size, k, s, p in [(1, 1, 1, 0), (5, 5, 1, 0), (13, 3, 4, 1), (8, 2, 3, 2), (6, 1, 2, 0), (11, 5, 2, 2),
                          (4, 3, 1, 1), (2, 2, 2, 0), (9, 4, 1, 2)]:
        grade_conv(student, reference, size, k, s, p)


@pytest.mark.function("conv_output_size")
@pytest.mark.points(1)
def test_conv_output_size_dilation_and_keywords(student, reference):
    """dilation 2 and 3, keywords alone and mixed with positional arguments"""
    grade_conv(student, reference, 15, 3, dilation=3)
    grade_conv(student, reference, 10, 3, 2, padding=2, dilation=2)
    grade_conv(student, reference, 5, 3, stride=1, padding=0, dilation=2)
    grade_conv(student, reference, 17, 2, 5, 1, 4)
    grade_conv(student, reference, size=8, kernel_size=3, padding=1)


@pytest.mark.function("receptive_field")
@pytest.mark.points(1)
def test_receptive_field_chains(student, reference):
    """a ResNet stem, an AlexNet-like chain, strides larger than kernels"""
    grade_rf(student, reference, [(7, 2), (3, 2), (3, 1), (3, 1), (3, 2)])
    grade_rf(student, reference, [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1)])
    grade_rf(student, reference, [(2, 3), (1, 2), (3, 1)])


@pytest.mark.function("receptive_field")
@pytest.mark.points(1)
def test_receptive_field_corners(student, reference):
    """the empty chain, one layer, 1x1 layers, a list of lists"""
    grade_rf(student, reference, [])
    grade_rf(student, reference, [(5, 3)])
    grade_rf(student, reference, [(1, 1), (1, 2), (3, 2)])
    grade_rf(student, reference, [[3, 2], [2, 2]])


@pytest.mark.function("count_parameters")
@pytest.mark.points(1)
def test_count_parameters_shared(student, reference):
    """a module used twice and a tied weight count once"""
    for trainable_only in (True, False):
        grade_count(student, reference, "shared", trainable_only)
        grade_count(student, reference, "tied", trainable_only)


@pytest.mark.function("count_parameters")
@pytest.mark.points(1)
def test_count_parameters_frozen_and_empty(student, reference):
    """every parameter frozen (0 trainable); a model without parameters"""
    for trainable_only in (True, False):
        grade_count(student, reference, "frozen", trainable_only)
        grade_count(student, reference, "empty", trainable_only)


@pytest.mark.function("BasicBlock")
@pytest.mark.points(1)
def test_basic_block_identity(student, reference, rng):
    """BasicBlock(4, 4): the identity shortcut, batch 1, non-square, float32"""
    state = block_state(rng, 4, 4, 1, f32)
    x = torch.randn(1, 4, 6, 9, generator=rng, dtype=f32)
    grade_module(student, reference, "BasicBlock", (4, 4, 1), state, x, BLOCK_HINTS)


@pytest.mark.function("BasicBlock")
@pytest.mark.points(1)
def test_basic_block_stride_only(student, reference, rng):
    """BasicBlock(4, 4, stride=2): a projection for the stride alone, odd sizes, float64"""
    state = block_state(rng, 4, 4, 2, f64)
    x = torch.randn(3, 4, 9, 6, generator=rng, dtype=f64)
    grade_module(student, reference, "BasicBlock", (4, 4, 2), state, x, BLOCK_HINTS)


@pytest.mark.function("BasicBlock")
@pytest.mark.points(1)
def test_basic_block_channels_only(student, reference, rng):
    """BasicBlock(5, 3): a projection for the channels alone, a non-contiguous (transposed) input"""
    state = block_state(rng, 5, 3, 1, f64)
    x = torch.randn(2, 5, 7, 4, generator=rng, dtype=f64).transpose(2, 3)
    grade_module(student, reference, "BasicBlock", (5, 3, 1), state, x, BLOCK_HINTS)


@pytest.mark.function("DepthwiseSeparableConv")
@pytest.mark.points(1)
def test_depthwise_separable_kernel5(student, reference, rng):
    """kernel 5, stride 2, one input channel, batch 1, float32, non-square"""
    state = dsc_state(rng, 1, 4, 5, f32)
    x = torch.randn(1, 1, 9, 6, generator=rng, dtype=f32)
    grade_module(student, reference, "DepthwiseSeparableConv", (1, 4, 5, 2), state, x, DSC_HINTS)


@pytest.mark.function("DepthwiseSeparableConv")
@pytest.mark.points(1)
def test_depthwise_separable_kernel1_noncontiguous(student, reference, rng):
    """kernel 1 (no padding) and the default kernel 3, sliced non-contiguous inputs, float64"""
    state = dsc_state(rng, 4, 2, 1, f64)
    x = torch.randn(2, 4, 7, 10, generator=rng, dtype=f64)[:, :, :, ::2]
    grade_module(student, reference, "DepthwiseSeparableConv", (4, 2, 1, 1), state, x, DSC_HINTS)
    state = dsc_state(rng, 4, 6, 3, f64)
    grade_module(student, reference, "DepthwiseSeparableConv", (4, 6, 3, 1), state, x, DSC_HINTS)
