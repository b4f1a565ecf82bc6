"""Week 06 public tests: one per function, run by `dlgrade check week06`.

Every input is drawn from `rng` or built by hand, so the reference's answers
can be recorded by `dlgrade release` and replayed in the student bundle.
build_finetune_model is a scenario (see `finetune`): the model is built in the
worker from a seed, the student's function changes it there, and the new head,
every requires_grad flag and the state of the rest of the model come back.
"""

from torch import nn  # noqa: F401  (scenarios run where `nn` and `device` are predefined)

import pytest
import torch

from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


# ---------------------------------------------------------------- the scenario
def finetune(module, arch, seed, num_classes, freeze):
    """Build `arch` ("resnet18" with weights=None, or "small": conv, BatchNorm, pooling and an `fc`)
    from `seed` in eval mode, then call build_finetune_model right after torch.manual_seed(seed + 1)
    (so that a plain nn.Linear(in_features, num_classes) draws the same weights for everyone). Returns
    what the call did: the head, the requires_grad flags, the keys of the rest of the state that
    changed, the mode, and whether the same model object came back."""
    torch.manual_seed(seed)
    if arch == "resnet18":
        import torchvision
        model = torchvision.models.resnet18(weights=None)
    else:
        model = nn.Sequential()
        model.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                                       nn.AdaptiveAvgPool2d(1), nn.Flatten())
        model.fc = nn.Linear(4, 6)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    torch.manual_seed(seed + 1)
    out = module.build_finetune_model(model, num_classes, freeze_backbone=freeze) if freeze is not None \
        else module.build_finetune_model(model, num_classes)
    fc = getattr(model, "fc", None)
    after = model.state_dict()
    head = None
    if isinstance(fc, nn.Linear):
        head = {"weight": fc.weight.detach().clone(),
                "bias": None if fc.bias is None else fc.bias.detach().clone()}
    return {"same_object": out is model, "fc_type": type(fc).__name__,
            "head": head,
            "trainable": sorted(k for k, p in model.named_parameters() if p.requires_grad),
            "frozen": sorted(k for k, p in model.named_parameters() if not p.requires_grad),
            "changed": sorted(k for k in before if k not in after or not torch.equal(before[k], after[k])),
            "training": model.training}


def grade_finetune(student, reference, arch, seed, num_classes, freeze):
    """The student's call against the reference's on an identical copy; each mistake named."""
    got = student.run(finetune, arch, seed, num_classes, freeze)
    want = reference.run(finetune, arch, seed, num_classes, freeze)
    if not got["same_object"]:
        fail("build_finetune_model must return the model it was given (changed in place), not a new one")
    if got["fc_type"] != "Linear":
        fail(f"model.fc is a {got['fc_type']}: replace it by nn.Linear(model.fc.in_features, num_classes)")
    if got["changed"]:
        fail(f"build_finetune_model changed {', '.join(got['changed'][:4])}: only `fc` is replaced; every other "
             "weight and buffer stays as it was")
    if got["training"] != want["training"]:
        fail("build_finetune_model changed the model's mode (train/eval): leave it as it was")
    w, ww = got["head"]["weight"], want["head"]["weight"]
    if tuple(w.shape) != tuple(ww.shape):
        fail(f"the new head's weight has shape {list(w.shape)}: it is nn.Linear(fc.in_features, num_classes), "
             "a weight of shape [num_classes, in_features]")
    if got["head"]["bias"] is None:
        fail("the new head has no bias: use the plain nn.Linear(in_features, num_classes)")
    if not (torch.equal(w, ww) and torch.equal(got["head"]["bias"], want["head"]["bias"])):
        fail("the new head's weights are not those of a fresh nn.Linear(fc.in_features, num_classes) made by "
             "the plain call: create exactly one new nn.Linear, with its default initialisation, and no other "
             "random draw before it (do not copy the old head's weights into it or re-initialise it)")
    if "fc.weight" in got["frozen"] or "fc.bias" in got["frozen"]:
        fail("the new head is frozen: freeze the backbone FIRST, then replace fc (or set the head's "
             "requires_grad back to True), so that the head is trained")
    if got["trainable"] != want["trainable"]:
        extra = [k for k in got["trainable"] if k not in want["trainable"]]
        missing = [k for k in want["trainable"] if k not in got["trainable"]]
        if extra:
            fail(f"{len(extra)} backbone parameter(s) still have requires_grad=True (e.g. {extra[0]}): with "
                 "freeze_backbone=True every parameter except the new head's gets requires_grad=False")
        fail(f"{len(missing)} parameter(s) were frozen though they should train (e.g. {missing[0]}): with "
             "freeze_backbone=False nothing is frozen")


# ---------------------------------------------------------------- tests
@pytest.mark.function("normalize")
@pytest.mark.points(1)
@pytest.mark.public
def test_normalize(student, reference, rng):
    """images [2, 3, 4, 5] float64, mean and std as lists of 3 floats"""
    x = torch.rand(2, 3, 4, 5, dtype=f64, generator=rng)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.5]
    out = student.normalize(x, mean, std)
    check_unmodified(student)
    check(out, reference.normalize(x, mean, std), name="normalize(images)",
          hints={"the std is multiplied: out = (x - mean) / std":
                 (x - torch.tensor(mean, dtype=f64).view(1, 3, 1, 1)) * torch.tensor(std, dtype=f64).view(1, 3, 1, 1),
                 "the mean is divided by the std too early: out = (x - mean) / std, not x - mean / std":
                 x - torch.tensor(mean, dtype=f64).view(1, 3, 1, 1) / torch.tensor(std, dtype=f64).view(1, 3, 1, 1)})


@pytest.mark.function("hflip")
@pytest.mark.points(1)
@pytest.mark.public
def test_hflip(student, reference, rng):
    """images [2, 3, 4, 6] float32, not square"""
    x = torch.randn(2, 3, 4, 6, generator=rng)
    out = student.hflip(x)
    check_unmodified(student)
    check(out, reference.hflip(x), name="hflip(images)",
          hints={"the height axis was flipped: a horizontal flip mirrors the WIDTH (the last axis)": x.flip(-2),
                 "the channels were flipped: a horizontal flip mirrors the WIDTH (the last axis)": x.flip(1)})


def check_cm(out, want):
    """An int64 [C, C] count matrix; a transposed one is named (hints do not apply to integer tensors)."""
    if (isinstance(out, torch.Tensor) and out.shape == want.shape and not torch.equal(out, want)
            and torch.equal(out.to(want.dtype), want.T)):
        fail("the confusion matrix is transposed: rows are the TRUE class, cm[true, pred]")
    check(out, want, name="cm")


def crop_at(x, top, left, h, w):
    return x[..., top:top + h, left:left + w]


@pytest.mark.function("center_crop")
@pytest.mark.points(1)
@pytest.mark.public
def test_center_crop(student, reference, rng):
    """images [2, 3, 9, 8], size (4, 5): an odd margin in height and width"""
    x = torch.randn(2, 3, 9, 8, generator=rng)
    out = student.center_crop(x, (4, 5))
    check_unmodified(student)
    if isinstance(out, torch.Tensor) and tuple(out.shape[-2:]) == (5, 4):
        fail(f"center_crop(images, (4, 5)) has shape {list(out.shape)}: h and w are swapped: size is (h, w), "
             "h rows and w columns")
    check(out, reference.center_crop(x, (4, 5)), name="center_crop(images, (4, 5))",
          hints={"the offsets are rounded down: top = int(round((H - h) / 2)) (here 2 and 2, not 2 and 1)":
                 crop_at(x, 5 // 2, 3 // 2, 4, 5),
                 "the offsets are rounded up: top = int(round((H - h) / 2)), Python's round (halves to even)":
                 crop_at(x, 3, 2, 4, 5)})


@pytest.mark.function("mixup")
@pytest.mark.points(1)
@pytest.mark.public
def test_mixup(student, reference, rng):
    """x [4, 2, 3, 3], one-hot labels [4, 3], lam 0.7, a permutation"""
    x = torch.randn(4, 2, 3, 3, dtype=f64, generator=rng)
    y = torch.eye(3, dtype=f64)[torch.randint(0, 3, (4,), generator=rng)]
    perm = torch.tensor([2, 0, 3, 1])
    out = student.mixup(x, y, 0.7, perm)
    check_unmodified(student)
    lam = 0.7
    check(out, reference.mixup(x, y, lam, perm), name="(x_mix, y_mix)",
          hints={"lam and 1 - lam are swapped: x_mix = lam * x + (1 - lam) * x[perm]":
                 ((1 - lam) * x + lam * x[perm], (1 - lam) * y + lam * y[perm]),
                 "the labels are not mixed: y_mix = lam * y + (1 - lam) * y[perm], like x":
                 (lam * x + (1 - lam) * x[perm], y)})


@pytest.mark.function("build_finetune_model")
@pytest.mark.points(1)
@pytest.mark.public
def test_build_finetune_model(student, reference, rng):
    """a small model with an `fc` (Linear(4, 6)), 3 classes, freeze_backbone=True"""
    grade_finetune(student, reference, "small", int(torch.randint(0, 2 ** 30, (1,), generator=rng)), 3, True)


@pytest.mark.function("confusion_matrix")
@pytest.mark.points(1)
@pytest.mark.public
def test_confusion_matrix(student, reference, rng):
    """30 samples, 4 classes, class 3 never predicted"""
    y_true = torch.randint(0, 4, (30,), generator=rng)
    y_pred = torch.randint(0, 3, (30,), generator=rng)
    out = student.confusion_matrix(y_true, y_pred, 4)
    check_unmodified(student)
    want = reference.confusion_matrix(y_true, y_pred, 4)
    check_cm(out, want)


@pytest.mark.function("precision_recall_f1")
@pytest.mark.points(1)
@pytest.mark.public
def test_precision_recall_f1(student, reference, rng):
    """a 4-class confusion matrix with a class never predicted (an empty column)"""
    cm = torch.randint(0, 6, (4, 4), generator=rng)
    cm[:, 2] = 0
    out = student.precision_recall_f1(cm)
    check_unmodified(student)
    want = reference.precision_recall_f1(cm)
    check_prf(out, want, cm)


def check_prf(out, want, cm):
    """Three [C] float tensors, any float dtype (compared in float64 at float32 tolerance); hints for the
    usual mistakes."""
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail("precision_recall_f1 returns a tuple of three [C] tensors: (precision, recall, f1)")
    for t, name in zip(out, ("precision", "recall", "f1")):
        if not isinstance(t, torch.Tensor):
            fail(f"{name} should be a tensor of shape [C], got a {type(t).__name__}")
        if not t.is_floating_point():
            fail(f"{name} has dtype {t.dtype}: precision, recall and F1 are fractions; compute them in float")
    got = tuple(t.double() for t in out)
    if any(bool(t.isnan().any()) for t in got):
        fail("precision_recall_f1 returned NaN: where a denominator is 0 (a class never predicted or never "
             "present) the value is 0")
    want = tuple(t.double() for t in want)
    if torch.allclose(got[0], want[1]) and torch.allclose(got[1], want[0]) and not torch.allclose(got[0], want[0]):
        fail("precision and recall are swapped: precision divides by the COLUMN sum (everything predicted as c), "
             "recall by the ROW sum (every sample of class c)")
    # fractions in [0, 1]: float32 answers (about 1e-7 relative) are as right as float64 ones
    check(got, want, name="(precision, recall, f1)", rtol=1e-5, atol=1e-7)


def topk_hint_ties_against(scores, y, k):
    """The label counted as in the top k only when fewer than k scores are >= its own (ties against it)."""
    own = scores.gather(1, y[:, None])
    return float(((scores >= own).sum(1) > k).double().mean())


def topk_hint_accuracy(scores, y, k):
    own = scores.gather(1, y[:, None])
    return float(((scores > own).sum(1) < k).double().mean())


@pytest.mark.function("topk_error")
@pytest.mark.points(1)
@pytest.mark.public
def test_topk_error(student, reference, rng):
    """scores [12, 5] with many ties (small integers), k = 2"""
    scores = torch.randint(0, 3, (12, 5), generator=rng).double()
    y = torch.randint(0, 5, (12,), generator=rng)
    out = student.topk_error(scores, y, 2)
    check_unmodified(student)
    check_topk(out, reference.topk_error(scores, y, 2), scores, y, 2)


def check_topk(out, want, scores, y, k):
    if isinstance(out, torch.Tensor) and out.numel() != 1:
        fail(f"topk_error returns one number (a float or a 0-d tensor), got a tensor of shape {list(out.shape)}")
    check(float(out), float(want), name="top-k error", rtol=1e-6, atol=1e-7,
          hints={"that is the top-k ACCURACY: the error is the fraction of rows whose label is NOT in the top k":
                 topk_hint_accuracy(scores, y, k),
                 "ties are counted against the label: it is in the top k when fewer than k scores are STRICTLY "
                 "greater than its own (torch.topk breaks ties arbitrarily)": topk_hint_ties_against(scores, y, k)})
