"""Week 2: linear classifiers, their two losses, and k-nearest neighbours.

A linear classifier scores each of C classes with one matrix product; the
multiclass SVM (hinge) loss and the softmax (cross-entropy) loss say how bad
those scores are, and their gradients dL/dscores say how to change them. kNN
is the classifier with no training at all.

Conventions (the same in every function):
- X is `[N, D]`: N examples of D features. Scores are `[N, C]`. Labels `y`
  are int64 `[N]` with values in 0..C-1.
- Results have the input's dtype and device. Never modify an input in place.
- A loss function returns a tuple `(loss, dscores)`: the loss as a 0-d
  tensor (a Python float is accepted too) and dL/dscores shaped like scores.
  The loss is the MEAN over the N examples, so dscores carries the 1/N.
- Banned in `softmax` and `softmax_loss` (the point is to write them):
  `torch.softmax`, `F.softmax`, `F.log_softmax`, `torch.logsumexp`,
  `F.cross_entropy`, `F.nll_loss`. Every other spelling of the same torch
  operators counts too (`torch.special.softmax`, `Tensor.log_softmax`,
  `torch.ops.aten...`): the grader sees the operator. Everything else in
  torch is allowed, your own helper functions too.
"""

import torch


def linear_scores(X, W, b):
    """Class scores of a linear classifier.

    Inputs:
    - X: data, shape [N, D]
    - W: weights, shape [D, C]
    - b: biases, shape [C]

    Returns:
    - scores: shape [N, C], scores[i, c] = sum_d X[i, d] * W[d, c] + b[c]
    """
    # TODO: your code here
    raise NotImplementedError("linear_scores")


def svm_loss(scores, y, margin=1.0):
    """Multiclass SVM (hinge) loss and its gradient.

    Inputs:
    - scores: shape [N, C]
    - y: int64 labels, shape [N], values in 0..C-1
    - margin: the margin (a float; 1.0 by default)

    Returns a tuple (loss, dscores):
    - loss: a 0-d tensor,
        loss = (1/N) * sum_i sum_{j != y[i]} max(0, scores[i, j] - scores[i, y[i]] + margin)
      (the correct class j = y[i] is left out of the sum)
    - dscores: dL/dscores, shape [N, C]. A term max(0, m) with m > 0 adds
      1/N to dscores[i, j] and -1/N to dscores[i, y[i]]. At the kink, where m
      is exactly 0, the subgradient is 0: only m > 0 counts, not m >= 0.
    """
    # TODO: your code here
    raise NotImplementedError("svm_loss")


def softmax(scores):
    """Row-wise softmax, numerically stable.

    Inputs:
    - scores: shape [N, C]

    Returns:
    - probs: shape [N, C], probs[i, j] = exp(scores[i, j]) / sum_k exp(scores[i, k]).
      Each row sums to 1. Logits as large as +-1e4 must give finite, exact
      answers: exp(1e4) overflows, so subtract each row's maximum first (the
      result does not change).
    """
    # TODO: your code here
    raise NotImplementedError("softmax")


def softmax_loss(scores, y):
    """Softmax (cross-entropy) loss and its gradient.

    Inputs:
    - scores: shape [N, C]
    - y: int64 labels, shape [N], values in 0..C-1

    Returns a tuple (loss, dscores):
    - loss: a 0-d tensor, loss = -(1/N) * sum_i log p[i, y[i]] with p = softmax(scores)
    - dscores: dL/dscores, shape [N, C], dscores = (p - onehot(y)) / N

    Stable for logits of +-1e4: compute log p[i, j] = s[i, j] - max_i - log sum_k exp(s[i, k] - max_i),
    never log(softmax(...)) (p underflows to 0 and its log is -inf).
    """
    # TODO: your code here
    raise NotImplementedError("softmax_loss")


def knn_predict(X_train, y_train, X_test, k):
    """k-nearest-neighbour classification by majority vote.

    Inputs:
    - X_train: shape [N, D]
    - y_train: int64 labels, shape [N], values in 0..C-1
    - X_test: shape [M, D]
    - k: int, 1 <= k <= N

    Returns:
    - y_pred: int64, shape [M]. For each test point:
      1. squared L2 distance to every training point,
         d[i, j] = sum_d (X_test[i, d] - X_train[j, d]) ** 2;
      2. the k nearest training points; where distances are equal, the lower
         training index comes first (a stable sort);
      3. the label that most of those k have; a tied vote goes to the
         SMALLEST label.
    """
    # TODO: your code here
    raise NotImplementedError("knn_predict")
