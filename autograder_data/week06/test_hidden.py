"""Week 06 hidden tests: run only by `dlgrade grade`.

Corners: a batch of 1 and one channel, non-square images, float32 and float64,
non-contiguous (transposed and sliced) batches, mean/std as lists and as
tensors, large magnitudes; center_crop with int and pair sizes, odd and even
margins (halves rounded to even, as torchvision does), a crop of the full size;
mixup with lam 0 and 1 and soft labels; build_finetune_model on torchvision's
resnet18(weights=None) and on a small non-ResNet with an `fc`, frozen, not
frozen and by default; confusion matrices with empty rows and columns and a
single sample; precision/recall/F1 with a class never predicted, a class never
present and an all-zero matrix; topk_error with ties, k = 1 and k = C. A test
calls only the function it grades.

Points: normalize 2, hflip 1, center_crop 3, mixup 2, build_finetune_model 4,
confusion_matrix 2, precision_recall_f1 3, topk_error 3 (20 in all; the public
suite adds 1 per function).
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



def seed_from(rng):
    return int(torch.randint(0, 2 ** 30, (1,), generator=rng))


# ---------------------------------------------------------------- normalize
@pytest.mark.function("normalize")
@pytest.mark.points(1)
def test_normalize_float32_tensors_non_contiguous(student, reference, rng):
    """a transposed batch [3, 2, 6, 5] float32 (non-contiguous), mean and std as tensors, values near 100"""
    x = (100 + 10 * torch.randn(3, 2, 5, 6, generator=rng)).transpose(-1, -2)
    mean, std = torch.tensor([100.0, 98.0]), torch.tensor([10.0, 0.5])
    out = student.normalize(x, mean, std)
    check_unmodified(student)
    check(out, reference.normalize(x, mean, std), name="normalize(images)")


@pytest.mark.function("normalize")
@pytest.mark.points(1)
def test_normalize_one_image_one_channel(student, reference, rng):
    """a batch of 1 with one channel [1, 1, 4, 7] float64, mean and std as one-element lists"""
    x = torch.randn(1, 1, 4, 7, dtype=f64, generator=rng)
    out = student.normalize(x, [0.25], [2.0])
    check_unmodified(student)
    check(out, reference.normalize(x, [0.25], [2.0]), name="normalize(images)")


# ---------------------------------------------------------------- hflip
@pytest.mark.function("hflip")
@pytest.mark.points(1)
def test_hflip_corners(student, reference, rng):
    """a batch of 1 [1, 1, 3, 8] float64 and a sliced (non-contiguous) batch [2, 3, 5, 4] float32"""
    a = torch.randn(1, 1, 3, 8, dtype=f64, generator=rng)
    check(student.hflip(a), reference.hflip(a), name="hflip(images)",
          hints={"the height axis was flipped: a horizontal flip mirrors the WIDTH (the last axis)": a.flip(-2)})
    check_unmodified(student)
    b = torch.randn(2, 3, 5, 9, generator=rng)[..., ::2]
    check(student.hflip(b), reference.hflip(b), name="hflip(images)")
    check_unmodified(student)


# ---------------------------------------------------------------- center_crop
def check_cm(out, want):
    """An int64 [C, C] count matrix; a transposed one is named (hints do not apply to integer tensors)."""
    if (isinstance(out, torch.Tensor) and out.shape == want.shape and not torch.equal(out, want)
            and torch.equal(out.to(want.dtype), want.T)):
        fail("the confusion matrix is transposed: rows are the TRUE class, cm[true, pred]")
    check(out, want, name="cm")


def check_crop(out, want, x, h, w, name):
    """The crop, with h and w swapped named (a shape mismatch shows no hint)."""
    if isinstance(out, torch.Tensor) and h != w and tuple(out.shape[-2:]) == (w, h):
        fail(f"{name} has shape {list(out.shape)}: h and w are swapped: size is (h, w), h rows and w columns")
    check(out, want, name=name, hints=crop_hints(x, h, w))


def crop_hints(x, h, w):
    H, W = x.shape[-2:]
    return {"the offsets are rounded down ((H - h) // 2): use int(round((H - h) / 2)), as torchvision does":
            x[..., (H - h) // 2:(H - h) // 2 + h, (W - w) // 2:(W - w) // 2 + w],
            "h and w are swapped: size is (h, w), h rows and w columns":
            x[..., int(round((H - w) / 2)):int(round((H - w) / 2)) + w,
              int(round((W - h) / 2)):int(round((W - h) / 2)) + h]}


@pytest.mark.function("center_crop")
@pytest.mark.points(1)
def test_center_crop_int_size(student, reference, rng):
    """an int size 3 on [2, 1, 8, 6] float64 (margins 5 and 3: halves rounded to even) and 4 on [1, 3, 4, 7]"""
    for shape, size in (((2, 1, 8, 6), 3), ((1, 3, 4, 7), 4)):
        x = torch.randn(*shape, dtype=f64, generator=rng)
        out = student.center_crop(x, size)
        check_unmodified(student)
        check(out, reference.center_crop(x, size), name=f"center_crop(images, {size})",
              hints=crop_hints(x, size, size))


@pytest.mark.function("center_crop")
@pytest.mark.points(1)
def test_center_crop_pairs(student, reference, rng):
    """pairs (2, 5) on [3, 2, 7, 9] float32 (odd margins), [3, 1] as a list on [1, 1, 10, 6] (even margins)"""
    for shape, size in (((3, 2, 7, 9), (2, 5)), ((1, 1, 10, 6), [3, 1])):
        x = torch.randn(*shape, generator=rng)
        out = student.center_crop(x, size)
        check_unmodified(student)
        check_crop(out, reference.center_crop(x, size), x, *size, name=f"center_crop(images, {tuple(size)})")


@pytest.mark.function("center_crop")
@pytest.mark.points(1)
def test_center_crop_full_size_and_view(student, reference, rng):
    """a crop of the full size (5, 4) of a transposed batch, and (3, 3) of a sliced batch"""
    x = torch.randn(2, 3, 4, 5, generator=rng).transpose(-1, -2)
    check(student.center_crop(x, (5, 4)), reference.center_crop(x, (5, 4)), name="center_crop(images, (5, 4))")
    check_unmodified(student)
    y = torch.randn(2, 2, 9, 14, dtype=f64, generator=rng)[:, :, 1:, ::2]
    check(student.center_crop(y, (3, 3)), reference.center_crop(y, (3, 3)), name="center_crop(images, (3, 3))",
          hints=crop_hints(y, 3, 3))
    check_unmodified(student)


# ---------------------------------------------------------------- mixup
@pytest.mark.function("mixup")
@pytest.mark.points(1)
def test_mixup_soft_labels_float32(student, reference, rng):
    """x [5, 3, 2, 4] float32, soft labels [5, 4], lam 0.35, a random permutation"""
    x = torch.randn(5, 3, 2, 4, generator=rng)
    y = torch.rand(5, 4, generator=rng).softmax(1)
    perm = torch.randperm(5, generator=rng)
    lam = 0.35
    out = student.mixup(x, y, lam, perm)
    check_unmodified(student)
    check(out, reference.mixup(x, y, lam, perm), name="(x_mix, y_mix)",
          hints={"lam and 1 - lam are swapped: x_mix = lam * x + (1 - lam) * x[perm]":
                 ((1 - lam) * x + lam * x[perm], (1 - lam) * y + lam * y[perm])})


@pytest.mark.function("mixup")
@pytest.mark.points(1)
def test_mixup_lam_zero_and_one(student, reference, rng):
    """lam = 1 gives the batch back, lam = 0 the permuted batch; float64, batch of 3"""
    x = torch.randn(3, 2, 3, 3, dtype=f64, generator=rng)
    y = torch.eye(3, dtype=f64)[torch.tensor([2, 0, 1])]
    perm = torch.tensor([1, 2, 0])
    for lam in (1.0, 0.0):
        out = student.mixup(x, y, lam, perm)
        check_unmodified(student)
        check(out, reference.mixup(x, y, lam, perm), name=f"mixup with lam={lam}")


# ---------------------------------------------------------------- build_finetune_model
@pytest.mark.function("build_finetune_model")
@pytest.mark.points(1)
def test_finetune_resnet18_frozen(student, reference, rng):
    """torchvision resnet18(weights=None), 5 classes, freeze_backbone=True"""
    grade_finetune(student, reference, "resnet18", seed_from(rng), 5, True)


@pytest.mark.function("build_finetune_model")
@pytest.mark.points(1)
def test_finetune_resnet18_not_frozen(student, reference, rng):
    """torchvision resnet18(weights=None), 3 classes, freeze_backbone=False"""
    grade_finetune(student, reference, "resnet18", seed_from(rng), 3, False)


@pytest.mark.function("build_finetune_model")
@pytest.mark.points(1)
def test_finetune_small_not_frozen(student, reference, rng):
    """a small non-ResNet with an `fc`, 2 classes, freeze_backbone=False"""
    grade_finetune(student, reference, "small", seed_from(rng), 2, False)


@pytest.mark.function("build_finetune_model")
@pytest.mark.points(1)
def test_finetune_small_default_freezes(student, reference, rng):
    """a small non-ResNet with an `fc`, 7 classes, freeze_backbone left at its default (True)"""
    grade_finetune(student, reference, "small", seed_from(rng), 7, None)


# ---------------------------------------------------------------- confusion_matrix
@pytest.mark.function("confusion_matrix")
@pytest.mark.points(1)
def test_confusion_matrix_empty_rows_and_columns(student, reference, rng):
    """50 samples, 6 classes; class 5 never true, class 0 never predicted"""
    y_true = torch.randint(0, 5, (50,), generator=rng)
    y_pred = torch.randint(1, 6, (50,), generator=rng)
    out = student.confusion_matrix(y_true, y_pred, 6)
    check_unmodified(student)
    want = reference.confusion_matrix(y_true, y_pred, 6)
    check_cm(out, want)


@pytest.mark.function("confusion_matrix")
@pytest.mark.points(1)
def test_confusion_matrix_one_sample(student, reference, rng):
    """a single sample (true 2, predicted 0) among 3 classes, and a sliced (non-contiguous) pair of 9"""
    out = student.confusion_matrix(torch.tensor([2]), torch.tensor([0]), 3)
    check_unmodified(student)
    check(out, reference.confusion_matrix(torch.tensor([2]), torch.tensor([0]), 3), name="cm")
    t = torch.randint(0, 4, (18,), generator=rng)[::2]
    p = torch.randint(0, 4, (18,), generator=rng)[::2]
    check(student.confusion_matrix(t, p, 4), reference.confusion_matrix(t, p, 4), name="cm")
    check_unmodified(student)


# ---------------------------------------------------------------- precision_recall_f1
@pytest.mark.function("precision_recall_f1")
@pytest.mark.points(1)
def test_prf_empty_row_and_column(student, reference, rng):
    """5 classes: class 1 never present (empty row), class 3 never predicted (empty column)"""
    cm = torch.randint(0, 9, (5, 5), generator=rng)
    cm[1, :] = 0
    cm[:, 3] = 0
    out = student.precision_recall_f1(cm)
    check_unmodified(student)
    check_prf(out, reference.precision_recall_f1(cm), cm)


@pytest.mark.function("precision_recall_f1")
@pytest.mark.points(1)
def test_prf_zero_diagonal_and_all_zero(student, reference, rng):
    """a class predicted and present but never right (p = r = 0, F1 = 0), and an all-zero 3 x 3 matrix"""
    cm = torch.randint(1, 9, (4, 4), generator=rng)
    cm[2, 2] = 0
    check_prf(student.precision_recall_f1(cm), reference.precision_recall_f1(cm), cm)
    check_unmodified(student)
    z = torch.zeros(3, 3, dtype=torch.int64)
    check_prf(student.precision_recall_f1(z), reference.precision_recall_f1(z), z)
    check_unmodified(student)


@pytest.mark.function("precision_recall_f1")
@pytest.mark.points(1)
def test_prf_large_counts(student, reference, rng):
    """a 3 x 3 matrix with counts near a million (int64)"""
    cm = torch.randint(500_000, 2_000_000, (3, 3), generator=rng)
    out = student.precision_recall_f1(cm)
    check_unmodified(student)
    check_prf(out, reference.precision_recall_f1(cm), cm)


# ---------------------------------------------------------------- topk_error
@pytest.mark.function("topk_error")
@pytest.mark.points(1)
def test_topk_error_ties_k1(student, reference, rng):
    """scores [30, 4] float32 with many ties, k = 1"""
    scores = torch.randint(0, 3, (30, 4), generator=rng).float()
    y = torch.randint(0, 4, (30,), generator=rng)
    out = student.topk_error(scores, y, 1)
    check_unmodified(student)
    check_topk(out, reference.topk_error(scores, y, 1), scores, y, 1)


@pytest.mark.function("topk_error")
@pytest.mark.points(1)
def test_topk_error_ties_k3_transposed(student, reference, rng):
    """scores [7, 20] transposed to [20, 7] (non-contiguous), float64, ties, k = 3"""
    scores = torch.randint(-2, 2, (7, 20), generator=rng).double().T
    y = torch.randint(0, 7, (20,), generator=rng)
    out = student.topk_error(scores, y, 3)
    check_unmodified(student)
    check_topk(out, reference.topk_error(scores, y, 3), scores, y, 3)


@pytest.mark.function("topk_error")
@pytest.mark.points(1)
def test_topk_error_k_equals_c_and_one_row(student, reference, rng):
    """k = C (the error is 0) on [6, 5], and a single row with every score equal, k = 1"""
    scores = torch.randn(6, 5, generator=rng)
    y = torch.randint(0, 5, (6,), generator=rng)
    check_topk(student.topk_error(scores, y, 5), reference.topk_error(scores, y, 5), scores, y, 5)
    check_unmodified(student)
    s1, y1 = torch.full((1, 4), 3.0), torch.tensor([2])
    check_topk(student.topk_error(s1, y1, 1), reference.topk_error(s1, y1, 1), s1, y1, 1)
    check_unmodified(student)


# ---------------------------------------------------------------- helpers
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


def check_topk(out, want, scores, y, k):
    if isinstance(out, torch.Tensor) and out.numel() != 1:
        fail(f"topk_error returns one number (a float or a 0-d tensor), got a tensor of shape {list(out.shape)}")
    check(float(out), float(want), name="top-k error", rtol=1e-6, atol=1e-7,
          hints={"that is the top-k ACCURACY: the error is the fraction of rows whose label is NOT in the top k":
                 topk_hint_accuracy(scores, y, k),
                 "ties are counted against the label: it is in the top k when fewer than k scores are STRICTLY "
                 "greater than its own (torch.topk breaks ties arbitrarily)": topk_hint_ties_against(scores, y, k)})
