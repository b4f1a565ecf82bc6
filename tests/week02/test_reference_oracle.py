"""The week02 reference solution against independent oracles.

The softmax loss and its gradient against `F.cross_entropy` and autograd;
softmax against `torch.softmax`; the hinge loss against a loop over the terms
of its formula with its subgradient (0 at the kink) written out term by term;
kNN's squared distances against `torch.cdist` and a double loop, its
predictions against a vote counted in plain Python, and its tie rules on
hand-made cases whose answers are written down.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week02" / "linear.py"
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(scope="module")
def lin():
    spec = importlib.util.spec_from_file_location("week02_linear_under_test", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)


def close(actual, expected):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    torch.testing.assert_close(actual, expected, **tol(expected.dtype))


def unmodified(call, *tensors):
    before = [t.clone() for t in tensors]
    out = call(*tensors)
    assert all(torch.equal(t, b) for t, b in zip(tensors, before))
    return out


def scores_cases(dtype):
    g = torch.Generator().manual_seed(3)
    big = torch.randn(6, 5, generator=g, dtype=dtype)
    big[0] += 1e4
    big[1, 2] = -1e4
    big[2] = 1e4 * torch.sign(torch.randn(5, generator=g, dtype=dtype))
    return [
        torch.randn(8, 5, generator=g, dtype=dtype),
        torch.randn(1, 3, generator=g, dtype=dtype),                  # a batch of 1
        torch.randn(7, 2, generator=g, dtype=dtype),
        torch.randint(-2, 3, (9, 4), generator=g).to(dtype),          # ties and exact kinks
        torch.zeros(3, 6, dtype=dtype),
        big,                                                          # logits of +-1e4
    ]


def labels_for(scores, seed=5):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, scores.shape[1], (scores.shape[0],), generator=g)


# ---------------------------------------------------------------- linear_scores
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, d, c", [(5, 4, 3), (1, 6, 2), (7, 1, 1)])
def test_linear_scores_matches_f_linear(lin, n, d, c, dtype):
    g = torch.Generator().manual_seed(n * 100 + d * 10 + c)
    X, W, b = (torch.randn(*s, generator=g, dtype=dtype) for s in ((n, d), (d, c), (c,)))
    out = unmodified(lin.linear_scores, X, W, b)
    close(out, F.linear(X, W.T, b))
    close(lin.linear_scores(X.T.contiguous().T, W, b), F.linear(X, W.T, b))   # a non-contiguous X


# ---------------------------------------------------------------- svm_loss
def hinge_by_loops(scores, y, margin):
    """The formula term by term: loss and subgradient (a term with m == 0 contributes nothing)."""
    N, C = scores.shape
    s = scores.tolist()
    loss, d = 0.0, [[0.0] * C for _ in range(N)]
    for i in range(N):
        yi = int(y[i])
        for j in range(C):
            if j == yi:
                continue
            m = s[i][j] - s[i][yi] + margin
            if m > 0:
                loss += m
                d[i][j] += 1.0
                d[i][yi] -= 1.0
    return loss / N, torch.tensor(d, dtype=torch.float64) / N


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(6))
@pytest.mark.parametrize("margin", [1.0, 0.5, 2])
def test_svm_loss_matches_loops(lin, case, margin, dtype):
    scores = scores_cases(dtype)[case]
    y = labels_for(scores)
    loss, d = unmodified(lambda s, t: lin.svm_loss(s, t, margin), scores, y)
    exp_loss, exp_d = hinge_by_loops(scores.double(), y, margin)
    assert loss.dim() == 0 and loss.dtype == dtype
    assert abs(float(loss) - exp_loss) <= 1e-6 * max(1.0, abs(exp_loss)) * (1 if dtype == torch.float64 else 100)
    close(d, exp_d.to(dtype))


def test_svm_subgradient_is_zero_at_the_kink(lin):
    # row 0: class 1 is exactly `margin` behind the label (m == 0), class 2 is inside the margin (m > 0)
    scores = torch.tensor([[3.0, 2.0, 2.5], [0.0, 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 2])
    loss, d = lin.svm_loss(scores, y, 1.0)
    assert float(loss) == pytest.approx((0.5 + 1.0 + 1.0) / 2)
    assert d.tolist() == [[-0.5, 0.0, 0.5], [0.5, 0.5, -1.0]]


# ---------------------------------------------------------------- softmax and softmax_loss
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(6))
def test_softmax_matches_torch(lin, case, dtype):
    scores = scores_cases(dtype)[case]
    close(unmodified(lin.softmax, scores), torch.softmax(scores, dim=1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(6))
def test_softmax_loss_matches_cross_entropy_and_autograd(lin, case, dtype):
    scores = scores_cases(dtype)[case]
    y = labels_for(scores)
    loss, d = unmodified(lin.softmax_loss, scores, y)
    leaf = scores.clone().requires_grad_(True)
    expected = F.cross_entropy(leaf, y)
    expected.backward()
    assert loss.dim() == 0 and loss.dtype == dtype
    close(loss, expected.detach())
    close(d, leaf.grad)


# ---------------------------------------------------------------- knn_predict
def squared_distances_by_loops(X_test, X_train):
    return torch.tensor([[sum((float(a) - float(b)) ** 2 for a, b in zip(q, p)) for p in X_train] for q in X_test],
                        dtype=torch.float64)


def knn_by_hand(X_train, y_train, X_test, k):
    """Sort by (distance, index); count votes; the smallest label among the most voted."""
    d = squared_distances_by_loops(X_test, X_train)
    out = []
    for row in d.tolist():
        order = sorted(range(len(row)), key=lambda j: (row[j], j))[:k]
        votes: dict[int, int] = {}
        for j in order:
            votes[int(y_train[j])] = votes.get(int(y_train[j]), 0) + 1
        best = max(votes.values())
        out.append(min(c for c, v in votes.items() if v == best))
    return torch.tensor(out, dtype=torch.int64)


def test_distance_oracles_agree():
    g = torch.Generator().manual_seed(0)
    X_train = torch.randn(9, 4, generator=g, dtype=torch.float64)
    X_test = torch.randn(5, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(squared_distances_by_loops(X_test, X_train), torch.cdist(X_test, X_train) ** 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 12])
@pytest.mark.parametrize("integer", [False, True], ids=["random", "integer-ties"])
def test_knn_matches_hand_vote(lin, k, dtype, integer):
    g = torch.Generator().manual_seed(k)
    if integer:     # many equal distances, duplicated points, tied votes
        X_train = torch.randint(-2, 3, (12, 2), generator=g).to(dtype)
        X_test = torch.randint(-2, 3, (6, 2), generator=g).to(dtype)
    else:
        X_train = torch.randn(12, 3, generator=g, dtype=dtype)
        X_test = torch.randn(6, 3, generator=g, dtype=dtype)
    y_train = torch.randint(0, 4, (12,), generator=g)
    out = unmodified(lambda a, b, c: lin.knn_predict(a, b, c, k), X_train, y_train, X_test)
    assert out.dtype == torch.int64 and out.shape == (6,)
    assert torch.equal(out, knn_by_hand(X_train, y_train, X_test, k))
    # the nearest point by torch.cdist, for k = 1 (lowest index among equals via a stable sort)
    if k == 1:
        nearest = torch.sort(torch.cdist(X_test.double(), X_train.double()), dim=1, stable=True).indices[:, 0]
        assert torch.equal(out, y_train[nearest])


@pytest.mark.parametrize("k, expected", [
    (1, [2, 0]),   # point 0: four training points at distance 1; the lowest index (label 2) wins
    (2, [0, 0]),   # point 0: labels 2 and 0 tie 1-1; the smallest label (0) wins
    (3, [0, 0]),   # point 0: the first three (labels 2, 0, 1) tie 1-1-1; label 0 wins; index 3 is left out
    (4, [1, 0]),   # point 0: labels 2, 0, 1, 1; label 1 has two votes
])
def test_knn_hand_made_ties(lin, k, expected):
    # training points 0..3 at distance 1 from the origin, in index order labels 2, 0, 1, 1; point 4 far away
    X_train = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0], [5.0, 5.0]], dtype=torch.float64)
    y_train = torch.tensor([2, 0, 1, 1, 0])
    X_test = torch.tensor([[0.0, 0.0], [5.0, 4.0]], dtype=torch.float64)
    out = lin.knn_predict(X_train, y_train, X_test, k)
    assert out.tolist() == expected
