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
    N, C = scores.shape
    loss = 0.0
    dscores = torch.empty_like(scores)
    for i in range(N):
        row = scores[i].tolist()
        top = max(row)
        log_total = math.log(sum(math.exp(v - top) for v in row))
        yi = int(y[i])
        loss -= row[yi] - top - log_total
        for j in range(C):
            dscores[i, j] = math.exp(row[j] - top - log_total) / N
        dscores[i, yi] -= 1.0 / N
    return torch.tensor(loss / N, dtype=scores.dtype), dscores


def knn_predict(X_train, y_train, X_test, k):
    M, N = X_test.shape[0], X_train.shape[0]
    y_pred = torch.zeros(M, dtype=torch.int64)
    for i in range(M):
        dists = []
        for j in range(N):
            diff = X_test[i] - X_train[j]
            dists.append((float((diff * diff).sum()), j))
        dists.sort()                      # by distance, then by index
        counts = {}
        for _, j in dists[:k]:
            label = int(y_train[j])
            counts[label] = counts.get(label, 0) + 1
        best = max(counts.values())
        y_pred[i] = min(label for label, c in counts.items() if c == best)   # a tie: the smallest label
    return y_pred
