#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week02/: a sample class for week02 (`linear.py`).

    python autograder_data/samples/make_week02_samples.py

Deterministic (running it twice gives the same bytes); standard library only.

- correct (au200001-au200005): plain loops; vectorised with one_hot, gather and the
  |a|^2 + |b|^2 - 2ab distance expansion; own classes and a helper module, computing in
  float64 and returning the losses as Python floats; a notebook; a zip with two files.
- wrong (au200006-au200010): one function broken the way students do (the kink counted,
  softmax without the max, a Counter vote, F.cross_entropy (banned), dscores without 1/N).
- partial (au200011): two functions still raise NotImplementedError.
- broken (au200012-au200014): a syntax error, a missing function, an endless loop on tied votes.
"""

from __future__ import annotations

from pathlib import Path

from samplekit import Entry, notebook_cells_from_module, remove_function, replace_function, replace_text, src, \
    stub, write_class

HERE = Path(__file__).resolve().parent
WEEK = "week02"
FUNCTIONS = ["linear_scores", "svm_loss", "softmax", "softmax_loss", "knn_predict"]
ALL = list(FUNCTIONS)

# au200001: explicit loops, the formulas index by index.
LOOPS = src('''
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
''')

# au200002: vectorised, different from the reference at every step.
VECTORISED = src('''
    import torch
    import torch.nn.functional as F


    def linear_scores(X, W, b):
        return torch.addmm(b, X, W)


    def svm_loss(scores, y, margin=1.0):
        N, C = scores.shape
        correct = scores.gather(1, y.unsqueeze(1))                # [N, 1]
        mask = F.one_hot(y, C).bool()
        margins = (scores - correct + margin).clamp(min=0).masked_fill(mask, 0)
        loss = margins.sum() / N
        pos = (margins > 0).to(scores.dtype)
        dscores = pos - mask.to(scores.dtype) * pos.sum(dim=1, keepdim=True)
        return loss, dscores / N


    def softmax(scores):
        z = scores - scores.max(dim=1, keepdim=True).values
        return torch.exp(z) / torch.exp(z).sum(dim=1, keepdim=True)


    def softmax_loss(scores, y):
        N, C = scores.shape
        z = scores - scores.max(dim=1, keepdim=True).values
        log_probs = z - torch.log(torch.exp(z).sum(dim=1, keepdim=True))
        onehot = F.one_hot(y, C).to(scores.dtype)
        loss = -(onehot * log_probs).sum() / N
        return loss, (log_probs.exp() - onehot) / N


    def knn_predict(X_train, y_train, X_test, k):
        d = (X_test ** 2).sum(1, keepdim=True) + (X_train ** 2).sum(1) - 2 * X_test @ X_train.T
        idx = torch.argsort(d, dim=1, stable=True)[:, :k]
        votes = F.one_hot(y_train[idx], int(y_train.max()) + 1).sum(dim=1)
        return torch.argmax(votes, dim=1)
''')

# au200003: classes of its own and a helper module; float64 inside, Python floats for the losses.
OWN_UTILS = src('''
    """Helpers for linear.py."""
    import torch


    def log_softmax_rows(scores):
        shifted = scores - scores.max(dim=1, keepdim=True).values
        return shifted - shifted.exp().sum(dim=1, keepdim=True).log()


    def onehot(y, num_classes, dtype):
        out = torch.zeros(len(y), num_classes, dtype=dtype)
        out[torch.arange(len(y)), y] = 1
        return out
''')
OWN = src('''
    """Week 2 with a classifier class and a kNN class, like the lecture notes."""
    import torch

    from utils import log_softmax_rows, onehot


    class LinearClassifier:
        def __init__(self, W, b):
            self.W, self.b = W, b

        def scores(self, X):
            return torch.einsum("nd,dc->nc", X, self.W) + self.b


    class NearestNeighbor:
        def __init__(self, k):
            self.k = k

        def train(self, X, y):
            self.X, self.y = X.double(), y

        def predict(self, X):
            d = torch.cdist(X.double(), self.X, compute_mode="donot_use_mm_for_euclid_dist") ** 2
            order = torch.sort(d, dim=1, stable=True).indices[:, :self.k]
            num_classes = int(self.y.max()) + 1
            return torch.stack([torch.bincount(self.y[row], minlength=num_classes).argmax() for row in order])


    def linear_scores(X, W, b):
        return LinearClassifier(W, b).scores(X)


    def svm_loss(scores, y, margin=1.0):
        s = scores.double()
        N, C = s.shape
        Y = onehot(y, C, torch.float64)
        correct = (s * Y).sum(dim=1, keepdim=True)
        m = (s - correct + margin) * (1 - Y)
        active = (m > 0).double()
        loss = float((m * active).sum() / N)
        d = active - Y * active.sum(dim=1, keepdim=True)
        return loss, (d / N).to(scores.dtype)


    def softmax(scores):
        return log_softmax_rows(scores.double()).exp().to(scores.dtype)


    def softmax_loss(scores, y):
        N, C = scores.shape
        lp = log_softmax_rows(scores.double())
        Y = onehot(y, C, torch.float64)
        loss = -(lp * Y).sum().item() / N
        return loss, ((lp.exp() - Y) / N).to(scores.dtype)


    def knn_predict(X_train, y_train, X_test, k):
        model = NearestNeighbor(k)
        model.train(X_train, y_train)
        return model.predict(X_test)
''')

# a tidy vectorised module the wrong entries are made from (one function replaced each)
BASE = VECTORISED


def build_class() -> list[Entry]:
    e = []
    e.append(Entry("au200001", "folder", "correct", [],
                   "plain loops everywhere: Python floats inside softmax, a sorted list of (distance, index) in kNN",
                   files={"linear.py": LOOPS}))
    e.append(Entry("au200002", "folder", "correct", [],
                   "vectorised: addmm, gather + one_hot + masked_fill for the hinge, the |a|^2+|b|^2-2ab distances, "
                   "argsort(stable=True) and one_hot votes", files={"linear.py": VECTORISED}))
    e.append(Entry("au200003", "folder", "correct", [],
                   "classes of its own (LinearClassifier, NearestNeighbor) and a helper module utils.py; float64 "
                   "inside, cast back; losses returned as Python floats", files={"linear.py": OWN, "utils.py": OWN_UTILS}))
    cells = notebook_cells_from_module(VECTORISED, "# Week 2: linear classifiers\nau200004", FUNCTIONS, [
        ("markdown", "## Sanity checks"),
        ("code", "s = torch.randn(4, 3)\nprint(torch.allclose(softmax(s), F.softmax(s, dim=1)))\n"
                 "print(softmax_loss(s, torch.tensor([0, 1, 2, 0]))[0], F.cross_entropy(s, torch.tensor([0, 1, 2, 0])))"),
    ])
    e.append(Entry("au200004", "ipynb", "correct", [],
                   "Colab notebook, vectorised; intake drops !pip, %matplotlib and the top-level checks that call "
                   "F.softmax and F.cross_entropy (banned inside the functions, not in a check cell)", cells=cells))
    e.append(Entry("au200005", "zip", "correct", [],
                   "zip made like dlgrade submit with two files (linear.py imports utils.py)",
                   files={"linear.py": OWN, "utils.py": OWN_UTILS}))

    e.append(Entry("au200006", "folder", "wrong", ["svm_loss"],
                   "svm_loss counts a margin of exactly 0 as violated (>= 0): dscores wrong at the kinks",
                   files={"linear.py": replace_text(BASE, "pos = (margins > 0).to(scores.dtype)",
                                                    "pos = ((scores - correct + margin >= 0) & ~mask).to(scores.dtype)")}))
    e.append(Entry("au200007", "folder", "wrong", ["softmax"],
                   "softmax exponentiates the raw logits: NaN at +-1e4 (softmax_loss subtracts the max and is right)",
                   files={"linear.py": replace_function(BASE, '''
                       def softmax(scores):
                           e = torch.exp(scores)
                           return e / e.sum(dim=1, keepdim=True)
                   ''')}))
    e.append(Entry("au200008", "folder", "wrong", ["knn_predict"],
                   "knn_predict votes with Counter.most_common: a tied vote goes to the nearer label, not the smallest",
                   files={"linear.py": replace_function(BASE, '''
                       def knn_predict(X_train, y_train, X_test, k):
                           from collections import Counter
                           d = ((X_test[:, None] - X_train[None]) ** 2).sum(-1)
                           idx = torch.argsort(d, dim=1, stable=True)[:, :k]
                           return torch.tensor([Counter(r.tolist()).most_common(1)[0][0] for r in y_train[idx]])
                   ''')}))
    e.append(Entry("au200009", "folder", "wrong", ["softmax_loss"],
                   "softmax_loss calls F.cross_entropy and autograd (values right): banned, scores 0 as banned",
                   files={"linear.py": replace_function(BASE, '''
                       def softmax_loss(scores, y):
                           s = scores.detach().clone().requires_grad_(True)
                           loss = F.cross_entropy(s, y)
                           loss.backward()
                           return loss.detach(), s.grad
                   ''')}))
    e.append(Entry("au200010", "folder", "wrong", ["softmax_loss"],
                   "softmax_loss averages the loss but forgets the 1/N in dscores",
                   files={"linear.py": replace_text(BASE, "return loss, (log_probs.exp() - onehot) / N",
                                                    "return loss, log_probs.exp() - onehot")}))
    e.append(Entry("au200011", "folder", "partial", ["softmax_loss", "knn_predict"],
                   "linear_scores, svm_loss and softmax done; softmax_loss and knn_predict raise NotImplementedError",
                   files={"linear.py": stub(LOOPS, "softmax_loss", "knn_predict")}))

    e.append(Entry("au200012", "folder", "broken", ALL,
                   "syntax error (a def without its colon): gradable, scores 0 everywhere",
                   files={"linear.py": replace_text(VECTORISED, "def softmax(scores):", "def softmax(scores)")}))
    e.append(Entry("au200013", "folder", "broken", ["svm_loss"],
                   "svm_loss is not defined; the other four are right",
                   files={"linear.py": remove_function(OWN, "svm_loss"), "utils.py": OWN_UTILS}))
    e.append(Entry("au200014", "folder", "broken", ["knn_predict"],
                   "knn_predict resolves a tied vote by shrinking k but never shrinks it: an endless loop on ties "
                   "(only the knn_predict tests time out)",
                   files={"linear.py": replace_function(VECTORISED, '''
                       def knn_predict(X_train, y_train, X_test, k):
                           d = ((X_test[:, None] - X_train[None]) ** 2).sum(-1)
                           idx = torch.argsort(d, dim=1, stable=True)
                           out = []
                           for row in idx:
                               kk = k
                               while True:
                                   votes = torch.bincount(y_train[row[:kk]])
                                   if (votes == votes.max()).sum() == 1:
                                       break
                                   # a tie: look at one neighbour fewer (forgot kk -= 1)
                               out.append(int(votes.argmax()))
                           return torch.tensor(out)
                   ''')}))
    return e


def main() -> None:
    write_class(HERE / WEEK, WEEK, FUNCTIONS, build_class(), "make_week02_samples.py", may_not_compile=("au200012",))


if __name__ == "__main__":
    main()
