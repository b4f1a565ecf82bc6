"""Week 2 public tests: one per function, run by `dlgrade check week02`.

Every input is drawn from `rng` or built by hand, so the reference's answers
can be recorded by `dlgrade release` and replayed in the student bundle. Each
test checks the mistake students make most often with its function: scores
with exact kinks for the hinge loss, logits of +-1e4 for softmax and its loss,
tied votes and equal distances for kNN.
"""

import pytest
import torch

from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


def tol(dtype):
    """Tolerances for a loss compared as a number (a 0-d tensor or a Python float both pass)."""
    return dict(rtol=1e-4, atol=1e-6) if dtype == f32 else dict(rtol=1e-7, atol=1e-10)


def check_loss_pair(out, expected, function, dtype, hints=None):
    """Check (loss, dscores); hints: {text: (loss alternative or None, dscores alternative or None)}, each
    alternative a value or a function computing it (called only when the answer is wrong)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"a {type(out).__name__} of {len(out)} items" if isinstance(out, (tuple, list)) else (
            "None (did the function forget to return?)" if out is None else f"a {type(out).__name__}")
        fail(f"{function} should return a tuple (loss, dscores), got {got}")
    loss, dscores = out
    if isinstance(loss, torch.Tensor) and loss.numel() == 1 and not torch.isfinite(loss).all() or \
            isinstance(loss, float) and loss != loss or isinstance(loss, float) and abs(loss) == float("inf"):
        fail(f"{function}: the loss is not finite (inf or NaN): exp of large scores overflows, or log of a "
             "probability that underflowed to 0; subtract each row's maximum and work with log-probabilities")
    hints = hints or {}
    check(loss, float(expected[0]), name="loss", **tol(dtype),
          hints={t: (lambda a=a[0]: float(a() if callable(a) else a)) for t, a in hints.items() if a[0] is not None})
    check(dscores, expected[1], name="dscores", hints={t: a[1] for t, a in hints.items() if a[1] is not None})


def svm_variant(scores, y, margin, *, ge=False, with_correct=False, no_correct_grad=False):
    """The hinge loss done wrong, row by row, for hints."""
    N, C = scores.shape
    loss = 0.0
    d = torch.zeros_like(scores)
    for i in range(N):
        for j in range(C):
            if j == y[i] and not with_correct:
                continue
            m = float(scores[i, j] - scores[i, y[i]] + margin)
            loss += max(0.0, m)
            if m > 0 or (ge and m == 0):
                d[i, j] += 1
                if not no_correct_grad:
                    d[i, y[i]] -= 1
    return loss / N, d / N


def knn_variant(X_train, y_train, X_test, k, rule):
    """kNN done wrong, point by point, for hints.

    rule "largest": a tied vote goes to the largest label; "first": to the tied label met first among
    the neighbours (nearest first, as Counter.most_common does); "skip": the nearest point is left out.
    """
    out = []
    for q in X_test:
        d = ((X_train - q) ** 2).sum(dim=1)
        order = torch.sort(d, stable=True).indices
        near = order[1:k + 1] if rule == "skip" else order[:k]
        labels = [int(v) for v in y_train[near]]
        counts = {c: labels.count(c) for c in labels}
        best = max(counts.values())
        tied = [c for c in counts if counts[c] == best]
        out.append(max(tied) if rule == "largest" else tied[0] if rule == "first" else min(tied))
    return torch.tensor(out, dtype=torch.int64)


KNN_HINTS = {
    "largest": "a tied vote must go to the SMALLEST label among the tied ones",
    "first": "a tied vote went to the tied label of the nearest neighbour; it must go to the smallest label",
    "skip": "the nearest training point was left out (it is not the test point itself: count from the first)",
}


def check_labels(out, expected, name, hints):
    """Integer labels: exact, with a hint when the answer equals a known wrong one.

    hints: {text: function returning the wrong answer}, called only when the answer is wrong."""
    if isinstance(out, torch.Tensor) and out.dtype != torch.int64:
        fail(f"{name}: knn_predict returned dtype {str(out.dtype)[6:]}; labels are int64 (torch.long)")
    if isinstance(out, torch.Tensor) and out.shape == expected.shape and torch.equal(out, expected):
        return
    if isinstance(out, torch.Tensor) and out.shape == expected.shape:
        for text, alt in hints.items():
            if torch.equal(out, alt()):
                fail(f"{name} differs in {int((out != expected).sum())} of {expected.numel()} entries. Hint: {text}")
    check(out, expected, name=name)


@pytest.mark.function("linear_scores")
@pytest.mark.points(1)
@pytest.mark.public
def test_linear_scores(student, reference, rng):
    """4 examples, 3 features, 5 classes, float64; then a batch of 1, float32"""
    for dtype, n in ((f64, 4), (f32, 1)):
        X = torch.randn(n, 3, dtype=dtype, generator=rng)
        W = torch.randn(3, 5, dtype=dtype, generator=rng)
        b = torch.randn(5, dtype=dtype, generator=rng)
        out = student.linear_scores(X, W, b)
        check_unmodified(student)
        check(out, reference.linear_scores(X, W, b), name=f"scores ({str(dtype)[6:]})",
              hints={"the bias b is missing": X @ W})


@pytest.mark.function("svm_loss")
@pytest.mark.points(1)
@pytest.mark.public
def test_svm_loss(student, reference, rng):
    """integer scores, so some margins are exactly 0 (the kink); margin 1 and 2; float64"""
    scores = torch.randint(-2, 3, (6, 4), generator=rng).to(f64)
    y = torch.randint(0, 4, (6,), generator=rng)
    for margin in (1.0, 2.0):
        out = student.svm_loss(scores, y, margin)
        check_unmodified(student)
        loss, d = reference.svm_loss(scores, y, margin)
        check_loss_pair(out, (loss, d), "svm_loss", f64, hints={
            "the correct class j = y[i] was counted in the sum (it adds the margin to every row)":
                (svm_variant(scores, y, margin, with_correct=True)[0], None),
            "the loss is summed over the examples, not averaged (divide by N)": (float(loss) * 6, d * 6),
            "at the kink (a margin of exactly 0) the subgradient is 0: count only m > 0, not m >= 0":
                (None, svm_variant(scores, y, margin, ge=True)[1]),
            "dscores[i, y[i]] is missing: each active margin also adds -1/N to the correct class":
                (None, svm_variant(scores, y, margin, no_correct_grad=True)[1]),
        })


@pytest.mark.function("softmax")
@pytest.mark.points(1)
@pytest.mark.public
def test_softmax(student, reference, rng):
    """random logits with rows at +1e4 and -1e4, float64 and float32"""
    for dtype in (f64, f32):
        scores = torch.randn(5, 4, dtype=dtype, generator=rng)
        scores[1] += 1e4
        scores[2] -= 1e4
        scores[3, 0] = 1e4
        out = student.softmax(scores)
        check_unmodified(student)
        if isinstance(out, torch.Tensor) and out.shape == scores.shape and not torch.isfinite(out).all():
            fail(f"softmax gives inf or NaN for logits of +-1e4 ({str(dtype)[6:]}): exp(1e4) overflows; subtract "
                 "each row's maximum before exp (the result does not change)")
        check(out, reference.softmax(scores), name=f"probs ({str(dtype)[6:]})", hints={
            "normalised over the wrong axis: each ROW must sum to 1": reference.softmax(scores.T).T,
        })


@pytest.mark.function("softmax_loss")
@pytest.mark.points(1)
@pytest.mark.public
def test_softmax_loss(student, reference, rng):
    """random logits, then logits of +-1e4 (the label's probability underflows); float64"""
    for scale in (1.0, 1e4):
        scores = scale * torch.randn(6, 5, dtype=f64, generator=rng)
        y = torch.randint(0, 5, (6,), generator=rng)
        out = student.softmax_loss(scores, y)
        check_unmodified(student)
        loss, d = reference.softmax_loss(scores, y)
        check_loss_pair(out, (loss, d), "softmax_loss", f64, hints={
            "dscores is not divided by N (the loss is a mean, so its gradient carries 1/N)": (None, d * 6),
            "the loss is summed over the examples, not averaged (divide by N)": (float(loss) * 6, d * 6),
            "dscores is missing the -1 at the correct class: dscores = (p - onehot(y)) / N":
                (None, reference.softmax_loss(scores, y)[1] + torch.nn.functional.one_hot(y, 5).to(f64) / 6),
        })


@pytest.mark.function("knn_predict")
@pytest.mark.points(1)
@pytest.mark.public
def test_knn_predict(student, reference, rng):
    """random points with k = 1, 4 (tied votes) and 5; then hand-made equal distances"""
    X_train = torch.randn(12, 3, dtype=f64, generator=rng)
    y_train = torch.randint(0, 3, (12,), generator=rng)
    X_test = torch.randn(7, 3, dtype=f64, generator=rng)
    cases = [(X_train, y_train, X_test, k) for k in (1, 4, 5)]
    # test point 0 is at distance 1 from training points 0 (label 2) and 1 (label 1), both nearest;
    # with k = 2 the vote ties and goes to label 1, with k = 1 the lower index (label 2) wins
    Xt = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]], dtype=f64)
    yt = torch.tensor([2, 1, 0, 0])
    Xq = torch.tensor([[0.0, 0.0], [0.0, 2.0]], dtype=f64)
    cases += [(Xt, yt, Xq, 1), (Xt, yt, Xq, 2)]
    for Xtr, ytr, Xte, k in cases:
        out = student.knn_predict(Xtr, ytr, Xte, k)
        check_unmodified(student)
        check_labels(out, reference.knn_predict(Xtr, ytr, Xte, k), f"y_pred (k = {k})",
                     {text: (lambda rule=rule, a=(Xtr, ytr, Xte, k): knn_variant(*a, rule))
                      for rule, text in KNN_HINTS.items()})
