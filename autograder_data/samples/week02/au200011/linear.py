"""Week 2, written with loops so that every index can be checked by hand."""
import math

import torch


def linear_scores(X, W, b):
    N, D = X.shape
    C = W.shape[1]
    out = torch.zeros(N, C, dtype=X.dtype)
    for i in range(N):
        for c in range(C):
            s = b[c]
            for d in range(D):
                s = s + X[i, d] * W[d, c]
            out[i, c] = s
    return out


def svm_loss(scores, y, margin=1.0):
    N, C = scores.shape
    loss = 0.0
    dscores = torch.zeros_like(scores)
    for i in range(N):
        yi = int(y[i])
        for j in range(C):
            if j == yi:
                continue
            m = scores[i, j] - scores[i, yi] + margin
            if m > 0:
                loss += m
                dscores[i, j] += 1
                dscores[i, yi] -= 1
    return loss / N, dscores / N


def softmax(scores):
    N, C = scores.shape
    probs = torch.empty_like(scores)
    for i in range(N):
        row = scores[i].tolist()
        top = max(row)
        exps = [math.exp(v - top) for v in row]
        total = sum(exps)
        for j in range(C):
            probs[i, j] = exps[j] / total
    return probs


def softmax_loss(scores, y):
    # TODO: your code here
    raise NotImplementedError("softmax_loss")


def knn_predict(X_train, y_train, X_test, k):
    # TODO: your code here
    raise NotImplementedError("knn_predict")
