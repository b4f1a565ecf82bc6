"""Week 2 hidden tests: run only by `dlgrade grade`.

Each function's points are split over values on random inputs, a batch of 1
and non-square shapes, float32 and float64, non-contiguous inputs (transposed
and sliced views, sent with their strides), exact zeros, the large magnitudes
where stability is the point (logits of +-1e4), exact kinks of the hinge loss,
tied votes and equal distances in kNN, and inputs left unmodified. No test
calls one student function to test another.

Points: linear_scores 2, svm_loss 4, softmax 3, softmax_loss 4, knn_predict 4
(17 in all).
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


def transposed(t):
    """The same values as a non-contiguous view (its last two dimensions swapped, then swapped back)."""
    return t.transpose(-1, -2).contiguous().transpose(-1, -2)


def sliced(t, dim=0):
    """The same values as a non-contiguous view: every other entry of a tensor twice as large along dim."""
    shape = list(t.shape)
    shape[dim] *= 2
    big = torch.zeros(shape, dtype=t.dtype)
    index = [slice(None)] * t.dim()
    index[dim] = slice(0, None, 2)
    big[tuple(index)] = t
    return big[tuple(index)]


def labels(rng, n, c):
    return torch.randint(0, c, (n,), generator=rng)


# ------------------------------------------------------------------ linear_scores (2)
def check_scores(student, reference, X, W, b, Xs=None, Ws=None, bs=None):
    """Xs, Ws, bs: what the student gets (views of the same values) when not X, W, b."""
    out = student.linear_scores(X if Xs is None else Xs, W if Ws is None else Ws, b if bs is None else bs)
    check_unmodified(student)
    check(out, reference.linear_scores(X, W, b), name="scores", hints={"the bias b is missing": lambda: X @ W})


@pytest.mark.function("linear_scores")
@pytest.mark.points(0.5)
def test_linear_scores_values(student, reference, rng):
    """7 examples, 6 features, 3 classes, float64"""
    check_scores(student, reference, torch.randn(7, 6, dtype=f64, generator=rng),
                 torch.randn(6, 3, dtype=f64, generator=rng), torch.randn(3, dtype=f64, generator=rng))


@pytest.mark.function("linear_scores")
@pytest.mark.points(0.5)
def test_linear_scores_edge_sizes(student, reference, rng):
    """a batch of 1; one class; one feature; float32"""
    for n, d, c in ((1, 5, 4), (6, 3, 1), (4, 1, 3)):
        check_scores(student, reference, torch.randn(n, d, dtype=f32, generator=rng),
                     torch.randn(d, c, dtype=f32, generator=rng), torch.randn(c, dtype=f32, generator=rng))


@pytest.mark.function("linear_scores")
@pytest.mark.points(0.5)
def test_linear_scores_views(student, reference, rng):
    """non-contiguous X, W and b (transposed and sliced views)"""
    X = torch.randn(5, 4, dtype=f64, generator=rng)
    W = torch.randn(4, 6, dtype=f64, generator=rng)
    b = torch.randn(6, dtype=f64, generator=rng)
    check_scores(student, reference, X, W, b, transposed(X), sliced(W, 1), sliced(b))


@pytest.mark.function("linear_scores")
@pytest.mark.points(0.5)
def test_linear_scores_zeros_and_large(student, reference, rng):
    """an all-zero example (its scores are exactly b) and features of size 1e3, float64"""
    X = 1e3 * torch.randn(4, 3, dtype=f64, generator=rng)
    X[2] = 0.0
    W = torch.randn(3, 5, dtype=f64, generator=rng)
    b = torch.randn(5, dtype=f64, generator=rng)
    check_scores(student, reference, X, W, b)


# ------------------------------------------------------------------ svm_loss (4)
def check_svm(student, reference, scores, y, margin=None, sent=None):
    """sent: (scores, y) as the student gets them (views) when not the same tensors."""
    s_in, y_in = (scores, y) if sent is None else sent
    out = student.svm_loss(s_in, y_in) if margin is None else student.svm_loss(s_in, y_in, margin)
    check_unmodified(student)
    m = 1.0 if margin is None else margin
    loss, d = reference.svm_loss(scores, y, m)
    n = scores.shape[0]
    hints = {
        "the correct class j = y[i] was counted in the sum (it adds the margin to every row)":
            (lambda: svm_variant(scores, y, m, with_correct=True)[0], None),
        "the loss is summed over the examples, not averaged (divide by N)": (lambda: float(loss) * n, lambda: d * n),
        "at the kink (a margin of exactly 0) the subgradient is 0: count only m > 0, not m >= 0":
            (None, lambda: svm_variant(scores, y, m, ge=True)[1]),
        "dscores[i, y[i]] is missing: each active margin also adds -1/N to the correct class":
            (None, lambda: svm_variant(scores, y, m, no_correct_grad=True)[1]),
    }
    check_loss_pair(out, (loss, d), "svm_loss", scores.dtype, hints=hints)
    return out


@pytest.mark.function("svm_loss")
@pytest.mark.points(1)
def test_svm_loss_values(student, reference, rng):
    """random scores, 8 examples, 5 classes, default margin, float64"""
    check_svm(student, reference, torch.randn(8, 5, dtype=f64, generator=rng), labels(rng, 8, 5))


@pytest.mark.function("svm_loss")
@pytest.mark.points(1)
def test_svm_loss_kinks(student, reference, rng):
    """integer scores, so many margins are exactly 0: margin 1.0 in float64, margin 2 (an int) in float32"""
    scores = torch.randint(-2, 3, (9, 4), generator=rng).to(f64)
    check_svm(student, reference, scores, labels(rng, 9, 4), 1.0)
    scores = torch.randint(-3, 3, (7, 6), generator=rng).to(f32)
    check_svm(student, reference, scores, labels(rng, 7, 6), 2)


@pytest.mark.function("svm_loss")
@pytest.mark.points(0.5)
def test_svm_loss_edge_sizes(student, reference, rng):
    """a batch of 1; two classes; more examples than classes, float32"""
    check_svm(student, reference, torch.randn(1, 6, dtype=f64, generator=rng), labels(rng, 1, 6), 0.5)
    check_svm(student, reference, torch.randn(5, 2, dtype=f64, generator=rng), labels(rng, 5, 2))
    check_svm(student, reference, torch.randn(13, 3, dtype=f32, generator=rng), labels(rng, 13, 3))


@pytest.mark.function("svm_loss")
@pytest.mark.points(0.5)
def test_svm_loss_views(student, reference, rng):
    """non-contiguous scores (a transposed view) and labels (a sliced view)"""
    scores = torch.randn(6, 4, dtype=f64, generator=rng)
    y = labels(rng, 6, 4)
    check_svm(student, reference, scores, y, 1.0, sent=(transposed(scores), sliced(y)))


@pytest.mark.function("svm_loss")
@pytest.mark.points(0.5)
def test_svm_loss_zero_loss(student, reference, rng):
    """every correct class wins by more than the margin: the loss and dscores are exactly 0"""
    scores = torch.randn(5, 4, dtype=f64, generator=rng)
    y = labels(rng, 5, 4)
    scores[torch.arange(5), y] += 10.0
    out = check_svm(student, reference, scores, y)
    if (out[1] != 0).any():
        fail("dscores must be exactly 0 when no margin is violated")


@pytest.mark.function("svm_loss")
@pytest.mark.points(0.5)
def test_svm_loss_large_scores(student, reference, rng):
    """scores of size 1e3, float32 and float64"""
    for dtype in (f32, f64):
        check_svm(student, reference, 1e3 * torch.randn(6, 5, dtype=dtype, generator=rng), labels(rng, 6, 5))


# ------------------------------------------------------------------ softmax (3)
def check_softmax(student, reference, scores, sent=None):
    out = student.softmax(scores if sent is None else sent)
    check_unmodified(student)
    if isinstance(out, torch.Tensor) and out.shape == scores.shape and not torch.isfinite(out).all():
        fail("softmax gives inf or NaN: exp of a large logit overflows; subtract each row's maximum before exp "
             "(the result does not change)")
    check(out, reference.softmax(scores), name="probs", hints={
        "normalised over the wrong axis: each ROW must sum to 1": lambda: reference.softmax(scores.T).T,
    })


@pytest.mark.function("softmax")
@pytest.mark.points(0.5)
def test_softmax_values(student, reference, rng):
    """random logits, 6 rows of 4, float64"""
    check_softmax(student, reference, 2 * torch.randn(6, 4, dtype=f64, generator=rng))


@pytest.mark.function("softmax")
@pytest.mark.points(1)
def test_softmax_large_logits(student, reference, rng):
    """logits of +1e4 and -1e4, whole rows and single entries, float64 and float32"""
    for dtype in (f64, f32):
        scores = torch.randn(6, 5, dtype=dtype, generator=rng)
        scores[0] += 1e4
        scores[1] -= 1e4
        scores[2, 3] = 1e4
        scores[3, 1] = -1e4
        scores[4] = 1e4 * torch.sign(torch.randn(5, dtype=dtype, generator=rng))
        check_softmax(student, reference, scores)


@pytest.mark.function("softmax")
@pytest.mark.points(0.5)
def test_softmax_edge_sizes(student, reference, rng):
    """a batch of 1; a single class (probability 1); more classes than rows, float32"""
    check_softmax(student, reference, torch.randn(1, 7, dtype=f64, generator=rng))
    check_softmax(student, reference, torch.randn(4, 1, dtype=f64, generator=rng))
    check_softmax(student, reference, torch.randn(2, 9, dtype=f32, generator=rng))


@pytest.mark.function("softmax")
@pytest.mark.points(0.5)
def test_softmax_views(student, reference, rng):
    """non-contiguous logits (a transposed and a sliced view)"""
    scores = torch.randn(5, 3, dtype=f64, generator=rng)
    check_softmax(student, reference, scores, transposed(scores))
    check_softmax(student, reference, scores, sliced(scores, 1))


@pytest.mark.function("softmax")
@pytest.mark.points(0.5)
def test_softmax_ties(student, reference, rng):
    """equal logits (uniform rows) and exact zeros, float32"""
    scores = torch.zeros(3, 4, dtype=f32)
    scores[1] = 7.5
    scores[2, :2] = torch.randn(2, dtype=f32, generator=rng)
    check_softmax(student, reference, scores)


# ------------------------------------------------------------------ softmax_loss (4)
def check_ce(student, reference, scores, y, sent=None):
    s_in, y_in = (scores, y) if sent is None else sent
    out = student.softmax_loss(s_in, y_in)
    check_unmodified(student)
    loss, d = reference.softmax_loss(scores, y)
    n, c = scores.shape
    check_loss_pair(out, (loss, d), "softmax_loss", scores.dtype, hints={
        "dscores is not divided by N (the loss is a mean, so its gradient carries 1/N)": (None, lambda: d * n),
        "the loss is summed over the examples, not averaged (divide by N)": (lambda: float(loss) * n, lambda: d * n),
        "dscores is missing the -1 at the correct class: dscores = (p - onehot(y)) / N":
            (None, lambda: d + torch.nn.functional.one_hot(y, c).to(scores.dtype) / n),
    })


@pytest.mark.function("softmax_loss")
@pytest.mark.points(1)
def test_softmax_loss_values(student, reference, rng):
    """random logits, 8 examples, 5 classes, float64"""
    check_ce(student, reference, 2 * torch.randn(8, 5, dtype=f64, generator=rng), labels(rng, 8, 5))


@pytest.mark.function("softmax_loss")
@pytest.mark.points(1)
def test_softmax_loss_large_logits(student, reference, rng):
    """logits of +-1e4 where the label's probability underflows to 0, float64 and float32"""
    for dtype in (f64, f32):
        scores = torch.randn(6, 4, dtype=dtype, generator=rng)
        y = labels(rng, 6, 4)
        scores[0] += 1e4
        scores[1, (int(y[1]) + 1) % 4] = 1e4        # a wrong class far ahead: loss about 1e4
        scores[2, int(y[2])] = -1e4                  # the label far behind
        scores[3, int(y[3])] = 1e4                   # the label far ahead: loss exactly 0
        check_ce(student, reference, scores, y)


@pytest.mark.function("softmax_loss")
@pytest.mark.points(0.5)
def test_softmax_loss_edge_sizes(student, reference, rng):
    """a batch of 1; two classes; float32 with more examples than classes"""
    check_ce(student, reference, torch.randn(1, 5, dtype=f64, generator=rng), labels(rng, 1, 5))
    check_ce(student, reference, torch.randn(6, 2, dtype=f64, generator=rng), labels(rng, 6, 2))
    check_ce(student, reference, torch.randn(20, 3, dtype=f32, generator=rng), labels(rng, 20, 3))


@pytest.mark.function("softmax_loss")
@pytest.mark.points(0.5)
def test_softmax_loss_views(student, reference, rng):
    """non-contiguous logits (a transposed view) and labels (a sliced view)"""
    scores = torch.randn(5, 6, dtype=f64, generator=rng)
    y = labels(rng, 5, 6)
    check_ce(student, reference, scores, y, sent=(transposed(scores), sliced(y)))


@pytest.mark.function("softmax_loss")
@pytest.mark.points(0.5)
def test_softmax_loss_uniform(student, reference, rng):
    """all-zero logits: the loss is exactly log C, float32"""
    check_ce(student, reference, torch.zeros(4, 7, dtype=f32), labels(rng, 4, 7))


@pytest.mark.function("softmax_loss")
@pytest.mark.points(0.5)
def test_softmax_loss_repeated_labels(student, reference, rng):
    """every example of one class; a class no example has, float64"""
    check_ce(student, reference, torch.randn(5, 4, dtype=f64, generator=rng), torch.full((5,), 2))
    check_ce(student, reference, torch.randn(6, 5, dtype=f64, generator=rng), labels(rng, 6, 3))


# ------------------------------------------------------------------ knn_predict (4)
def check_knn(student, reference, X_train, y_train, X_test, k, sent=None):
    args = (X_train, y_train, X_test, k) if sent is None else (*sent, k)
    out = student.knn_predict(*args)
    check_unmodified(student)
    check_labels(out, reference.knn_predict(X_train, y_train, X_test, k), f"y_pred (k = {k})",
                 {text: (lambda rule=rule: knn_variant(X_train, y_train, X_test, k, rule))
                  for rule, text in KNN_HINTS.items()})


@pytest.mark.function("knn_predict")
@pytest.mark.points(1)
def test_knn_predict_values(student, reference, rng):
    """random points in 4 dimensions, 5 classes, k = 1, 3 and 7, float64"""
    X_train = torch.randn(30, 4, dtype=f64, generator=rng)
    y_train = labels(rng, 30, 5)
    X_test = torch.randn(9, 4, dtype=f64, generator=rng)
    for k in (1, 3, 7):
        check_knn(student, reference, X_train, y_train, X_test, k)


@pytest.mark.function("knn_predict")
@pytest.mark.points(1)
def test_knn_predict_tied_votes(student, reference, rng):
    """even k on random points, so votes tie (the smallest label wins); a hand-made 2-2 tie"""
    X_train = torch.randn(24, 3, dtype=f64, generator=rng)
    y_train = labels(rng, 24, 4)
    X_test = torch.randn(10, 3, dtype=f64, generator=rng)
    for k in (2, 4, 6):
        check_knn(student, reference, X_train, y_train, X_test, k)
    # the two nearest have label 3, the next two label 1: k = 4 ties 2-2 and goes to label 1
    Xt = torch.tensor([[1.0], [2.0], [3.0], [4.0], [9.0]], dtype=f64)
    yt = torch.tensor([3, 3, 1, 1, 0])
    check_knn(student, reference, Xt, yt, torch.tensor([[0.5]], dtype=f64), 4)


@pytest.mark.function("knn_predict")
@pytest.mark.points(1)
def test_knn_predict_equal_distances(student, reference, rng):
    """integer points with many equal distances and duplicated training points: the lower index comes first"""
    X_train = torch.randint(-2, 3, (20, 2), generator=rng).to(f64)
    y_train = labels(rng, 20, 3)
    X_test = torch.randint(-2, 3, (8, 2), generator=rng).to(f64)
    for k in (1, 3):
        check_knn(student, reference, X_train, y_train, X_test, k)
    # the test point is at distance 1 from four points; k = 1 takes index 0 (label 2), k = 3 the first three
    Xt = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0], [0.0, 1.0]], dtype=f64)
    yt = torch.tensor([2, 0, 1, 1, 0])
    for k in (1, 3):
        check_knn(student, reference, Xt, yt, torch.zeros(1, 2, dtype=f64), k)


@pytest.mark.function("knn_predict")
@pytest.mark.points(1)
def test_knn_predict_edge_cases(student, reference, rng):
    """float32; one test point; k = N (every training point votes); non-contiguous inputs"""
    X_train = torch.randn(10, 5, dtype=f32, generator=rng)
    y_train = labels(rng, 10, 3)
    X_test = torch.randn(4, 5, dtype=f32, generator=rng)
    check_knn(student, reference, X_train, y_train, X_test, 3)
    check_knn(student, reference, X_train, y_train, X_test[:1].clone(), 2)
    check_knn(student, reference, X_train, y_train, X_test, 10)
    X_train = torch.randn(12, 3, dtype=f64, generator=rng)
    y_train = labels(rng, 12, 4)
    X_test = torch.randn(5, 3, dtype=f64, generator=rng)
    check_knn(student, reference, X_train, y_train, X_test, 3,
              sent=(transposed(X_train), sliced(y_train), sliced(X_test, 1)))
