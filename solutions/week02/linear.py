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
    # BEGIN SOLUTION
    return X @ W + b
    # END SOLUTION


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
    # BEGIN SOLUTION
    N = scores.shape[0]
    rows = torch.arange(N, device=scores.device)
    correct = scores[rows, y].unsqueeze(1)                 # [N, 1]
    m = scores - correct + margin                          # [N, C]
    active = (m > 0).to(scores.dtype)
    active[rows, y] = 0.0                                  # the correct class is not a term
    loss = (m * active).sum() / N
    dscores = active.clone()
    dscores[rows, y] = -active.sum(dim=1)
    return loss, dscores / N
    # END SOLUTION


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
    # BEGIN SOLUTION
    shifted = scores - scores.amax(dim=1, keepdim=True)    # [N, C], max of each row is 0
    e = shifted.exp()
    return e / e.sum(dim=1, keepdim=True)
    # END SOLUTION


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
    # BEGIN SOLUTION
    N = scores.shape[0]
    rows = torch.arange(N, device=scores.device)
    shifted = scores - scores.amax(dim=1, keepdim=True)
    log_p = shifted - shifted.exp().sum(dim=1, keepdim=True).log()   # [N, C]
    loss = -log_p[rows, y].mean()
    dscores = log_p.exp()
    dscores[rows, y] -= 1.0
    return loss, dscores / N
    # END SOLUTION


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
    # BEGIN SOLUTION
    d = ((X_test[:, None, :] - X_train[None, :, :]) ** 2).sum(dim=2)   # [M, N]
    nearest = torch.sort(d, dim=1, stable=True).indices[:, :k]         # [M, k]
    labels = y_train[nearest]                                          # [M, k]
    num_classes = int(y_train.max()) + 1
    votes = torch.zeros(X_test.shape[0], num_classes, dtype=torch.int64, device=X_test.device)
    votes.scatter_add_(1, labels, torch.ones_like(labels))
    return votes.argmax(dim=1)                 # argmax takes the first (smallest) label on a tie
    # END SOLUTION
