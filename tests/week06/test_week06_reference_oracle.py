"""The week06 reference solution against oracles that share none of its code.

center_crop against torchvision.transforms.functional.center_crop (int and pair
sizes, odd and even margins, crops of the full size); hflip against
torchvision's hflip; normalize against torchvision's normalize; mixup against a
loop over the rows; the confusion matrix against a bincount of
true * C + pred; precision/recall/F1 against counts written out by hand,
with a class never predicted and a class never present; topk_error against a
sort-based rank with ties counted for the label; build_finetune_model on
torchvision's resnet18(weights=None) and on a small non-ResNet with an `fc`:
the new head's shape and weights (the plain nn.Linear call under the same RNG
state), requires_grad of every parameter for both freeze settings, and the rest
of the model untouched.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch
import torchvision
import torchvision.transforms.functional as TF
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week06" / "transfer.py"
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(scope="module")
def tr():
    spec = importlib.util.spec_from_file_location("week06_transfer_under_test", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", [((2, 3, 8, 8), 5), ((1, 1, 7, 10), (4, 5)), ((3, 2, 9, 6), (2, 3)),
                                        ((2, 3, 5, 7), (5, 7)), ((1, 3, 6, 9), 6), ((2, 1, 11, 4), (1, 1)),
                                        ((2, 3, 10, 13), [7, 8])])
def test_center_crop_matches_torchvision(tr, dtype, shape, size):
    x = torch.randn(*shape, dtype=dtype)
    keep = x.clone()
    out = tr.center_crop(x, size)
    assert torch.equal(out, TF.center_crop(x, size)) and out.dtype == dtype
    assert torch.equal(x, keep)


def test_center_crop_of_a_view(tr):
    x = torch.randn(2, 3, 9, 12).transpose(-1, -2)
    assert torch.equal(tr.center_crop(x, (6, 4)), TF.center_crop(x.contiguous(), [6, 4]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_hflip_and_normalize_match_torchvision(tr, dtype):
    x = torch.randn(3, 3, 5, 7, dtype=dtype) * 10
    assert torch.equal(tr.hflip(x), TF.hflip(x))
    mean, std = [0.485, -0.2, 3.0], [0.229, 2.0, 0.5]
    torch.testing.assert_close(tr.normalize(x, mean, std), TF.normalize(x, mean, std))
    torch.testing.assert_close(tr.normalize(x, torch.tensor(mean, dtype=dtype), torch.tensor(std, dtype=dtype)),
                               TF.normalize(x, mean, std))
    assert tr.normalize(x, mean, std).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixup_against_a_loop(tr, dtype):
    x, y = torch.randn(5, 2, 3, 4, dtype=dtype), torch.eye(4, dtype=dtype)[torch.tensor([0, 3, 1, 1, 2])]
    perm, lam = torch.tensor([2, 0, 4, 1, 3]), 0.3
    xm, ym = tr.mixup(x, y, lam, perm)
    for i in range(5):
        torch.testing.assert_close(xm[i], lam * x[i] + (1 - lam) * x[perm[i]])
        torch.testing.assert_close(ym[i], lam * y[i] + (1 - lam) * y[perm[i]])


@pytest.mark.parametrize("C,N", [(3, 20), (5, 200), (4, 1), (6, 0)])
def test_confusion_matrix_against_a_bincount(tr, C, N):
    g = torch.Generator().manual_seed(C * 100 + N)
    t, p = torch.randint(0, C, (N,), generator=g), torch.randint(0, C, (N,), generator=g)
    cm = tr.confusion_matrix(t, p, C)
    assert cm.dtype == torch.int64 and torch.equal(cm, torch.bincount(t * C + p, minlength=C * C).reshape(C, C))


def test_confusion_matrix_rows_are_the_true_class(tr):
    cm = tr.confusion_matrix(torch.tensor([0, 0, 2]), torch.tensor([1, 1, 0]), 3)
    assert cm[0, 1] == 2 and cm[2, 0] == 1 and cm.sum() == 3


def test_precision_recall_f1_by_hand(tr):
    # class 1 is never predicted, class 2 never present (but predicted once)
    cm = torch.tensor([[2, 0, 1, 0], [1, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 1]])
    p, r, f = tr.precision_recall_f1(cm)
    # column sums: [3, 0, 1, 2]; row sums: [3, 2, 0, 1]
    want_p = [2 / 3, 0.0, 0.0, 1 / 2]
    want_r = [2 / 3, 0.0, 0.0, 1.0]
    want_f = [2 * a * b / (a + b) if a + b else 0.0 for a, b in zip(want_p, want_r)]
    for got, want in ((p, want_p), (r, want_r), (f, want_f)):
        assert got.shape == (4,) and got.is_floating_point()
        torch.testing.assert_close(got.double(), torch.tensor(want, dtype=torch.float64))


def test_precision_recall_f1_all_zero(tr):
    for t in tr.precision_recall_f1(torch.zeros(3, 3, dtype=torch.int64)):
        assert torch.equal(t.double(), torch.zeros(3, dtype=torch.float64))


def rank_error(scores, y, k):
    """Sort each row in decreasing order; the label's rank is the first position holding its score."""
    wrong = 0
    for row, label in zip(scores.tolist(), y.tolist()):
        ordered = sorted(row, reverse=True)
        wrong += ordered.index(row[label]) >= k
    return wrong / len(y)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_topk_error_with_ties(tr, k):
    g = torch.Generator().manual_seed(k)
    scores = torch.randint(0, 4, (40, 5), generator=g).double()  # many ties
    y = torch.randint(0, 5, (40,), generator=g)
    assert abs(float(tr.topk_error(scores, y, k)) - rank_error(scores, y, k)) < 1e-12


def test_topk_error_hand_values(tr):
    scores = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0], [5.0, 5.0, 5.0]])
    assert float(tr.topk_error(scores, torch.tensor([1, 2, 2]), 1)) == pytest.approx(1 / 3)
    assert float(tr.topk_error(scores, torch.tensor([1, 2, 2]), 2)) == 0.0


class Small(nn.Module):
    """A non-ResNet with an `fc`: conv, BatchNorm, pooling, a linear layer."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten())
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(self.features(x))


@pytest.mark.parametrize("make", [lambda: torchvision.models.resnet18(weights=None), Small], ids=["resnet18", "small"])
@pytest.mark.parametrize("freeze", [True, False])
def test_build_finetune_model(tr, make, freeze):
    torch.manual_seed(0)
    model = make()
    model.eval()
    before = copy.deepcopy(model)
    in_features = model.fc.in_features
    torch.manual_seed(123)
    out = tr.build_finetune_model(model, 7, freeze_backbone=freeze)
    torch.manual_seed(123)
    plain = nn.Linear(in_features, 7)
    assert out is model and isinstance(model.fc, nn.Linear) and not model.training
    assert torch.equal(model.fc.weight, plain.weight) and torch.equal(model.fc.bias, plain.bias)
    assert model.fc.weight.requires_grad and model.fc.bias.requires_grad
    for name, p in model.named_parameters():
        if not name.startswith("fc."):
            assert p.requires_grad is (not freeze), name
    old = {k: v for k, v in before.state_dict().items() if not k.startswith("fc.")}
    new = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    assert old.keys() == new.keys() and all(torch.equal(old[k], new[k]) for k in old)
    assert model.fc.weight.shape == (7, in_features)


def test_build_finetune_model_default_freezes(tr):
    model = tr.build_finetune_model(Small(), 3)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
