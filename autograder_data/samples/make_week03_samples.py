#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week03/: a sample class for week03 (`backprop.py`).

    python autograder_data/samples/make_week03_samples.py

Deterministic (running it twice gives the same bytes); standard library only.

- correct (au300001-au300005): loops and math.exp; vectorised with torch.where, einsum and
  torch.sigmoid (allowed); layer classes of the student's own with `backward` methods (which
  are not `Tensor.backward`) and a helper module, losses as Python floats; a notebook whose
  top-level gradient check uses autograd (dropped by intake); a zip with two files.
- wrong (au300006-au300010): the ReLU's kink, an unstable sigmoid, a numerical gradient on a
  copy of x, and autograd twice (loss.backward(), and torch.autograd.grad inside a backward
  method of the student's own class): banned, values right.
- partial (au300011): two functions still raise NotImplementedError.
- broken (au300012-au300014): a syntax error, a missing function, an endless loop.
"""

from __future__ import annotations

from pathlib import Path

from samplekit import Entry, notebook_cells_from_module, remove_function, replace_function, replace_text, src, \
    stub, write_class

HERE = Path(__file__).resolve().parent
WEEK = "week03"
FUNCTIONS = ["affine_forward", "affine_backward", "relu_forward", "relu_backward", "sigmoid_forward",
             "sigmoid_backward", "numerical_gradient", "two_layer_net"]
ALL = list(FUNCTIONS)

# au300001: loops and Python floats.
LOOPS = src('''
    """Week 3 with loops: every formula written index by index."""
    import math

    import torch


    def affine_forward(x, w, b):
        N = x.shape[0]
        xf = x.reshape(N, -1)
        D, M = w.shape
        out = torch.zeros(N, M, dtype=x.dtype)
        for n in range(N):
            for m in range(M):
                total = b[m]
                for d in range(D):
                    total = total + xf[n, d] * w[d, m]
                out[n, m] = total
        return out, (x, w, b)


    def affine_backward(dout, cache):
        x, w, b = cache
        N = x.shape[0]
        xf = x.reshape(N, -1)
        D, M = w.shape
        dxf = torch.zeros(N, D, dtype=x.dtype)
        dw = torch.zeros(D, M, dtype=w.dtype)
        db = torch.zeros(M, dtype=b.dtype)
        for n in range(N):
            for m in range(M):
                db[m] += dout[n, m]
                for d in range(D):
                    dxf[n, d] += dout[n, m] * w[d, m]
                    dw[d, m] += xf[n, d] * dout[n, m]
        return dxf.reshape(x.shape), dw, db


    def relu_forward(x):
        values = [v if v > 0 else 0.0 for v in x.reshape(-1).tolist()]
        return torch.tensor(values, dtype=x.dtype).reshape(x.shape), x


    def relu_backward(dout, cache):
        xs, ds = cache.reshape(-1).tolist(), dout.reshape(-1).tolist()
        values = [d if v > 0 else 0.0 for v, d in zip(xs, ds)]
        return torch.tensor(values, dtype=dout.dtype).reshape(dout.shape)


    def sigmoid(v):
        if v >= 0:
            return 1.0 / (1.0 + math.exp(-v))
        e = math.exp(v)
        return e / (1.0 + e)


    def sigmoid_forward(x):
        values = [sigmoid(v) for v in x.reshape(-1).tolist()]
        return torch.tensor(values, dtype=x.dtype).reshape(x.shape), x


    def sigmoid_backward(dout, cache):
        values = []
        for v, d in zip(cache.reshape(-1).tolist(), dout.reshape(-1).tolist()):
            s = sigmoid(v)
            values.append(d * s * (1.0 - s))
        return torch.tensor(values, dtype=dout.dtype).reshape(dout.shape)


    def numerical_gradient(f, x, h=1e-5):
        grad = torch.zeros_like(x)
        index = [0] * x.dim()
        for _ in range(x.numel()):
            i = tuple(index)
            old = x[i].item()
            x[i] = old + h
            fp = float(f(x))
            x[i] = old - h
            fm = float(f(x))
            x[i] = old
            grad[i] = (fp - fm) / (2 * h)
            for d in reversed(range(x.dim())):     # next index, last dimension fastest
                index[d] += 1
                if index[d] < x.shape[d]:
                    break
                index[d] = 0
        return grad


    def two_layer_net(params, X, y=None, reg=0.0):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        a = X @ W1 + b1
        hidden = a * (a > 0)
        scores = hidden @ W2 + b2
        if y is None:
            return scores
        N, C = scores.shape
        loss = 0.0
        dscores = torch.zeros_like(scores)
        for i in range(N):
            row = scores[i].tolist()
            top = max(row)
            log_total = math.log(sum(math.exp(s - top) for s in row))
            loss += -(row[int(y[i])] - top - log_total) / N
            for j in range(C):
                dscores[i, j] = math.exp(row[j] - top - log_total) / N
            dscores[i, int(y[i])] -= 1.0 / N
        loss += reg * (float((W1 ** 2).sum()) + float((W2 ** 2).sum()))
        da = (dscores @ W2.T) * (a > 0)
        grads = {"W1": X.T @ da + 2 * reg * W1, "b1": da.sum(0),
                 "W2": hidden.T @ dscores + 2 * reg * W2, "b2": dscores.sum(0)}
        return loss, grads
''')

# au300002: vectorised, with torch's own sigmoid (allowed) and einsum.
VECTORISED = src('''
    import itertools

    import torch
    import torch.nn.functional as F


    def affine_forward(x, w, b):
        return F.linear(x.flatten(1), w.T, b), (x, w, b)


    def affine_backward(dout, cache):
        x, w, b = cache
        dx = torch.einsum("nm,dm->nd", dout, w).reshape(x.shape)
        dw = torch.einsum("nd,nm->dm", x.flatten(1), dout)
        return dx, dw, dout.sum(dim=0)


    def relu_forward(x):
        return torch.where(x > 0, x, torch.zeros_like(x)), x


    def relu_backward(dout, cache):
        return torch.where(cache > 0, dout, torch.zeros_like(dout))


    def sigmoid_forward(x):
        return torch.sigmoid(x), x


    def sigmoid_backward(dout, cache):
        s = torch.sigmoid(cache)
        return dout * s * (1 - s)


    def numerical_gradient(f, x, h=1e-5):
        grad = torch.empty_like(x)
        for idx in itertools.product(*map(range, x.shape)):
            keep = x[idx].clone()
            x[idx] = keep + h
            up = f(x)
            x[idx] = keep - h
            down = f(x)
            x[idx] = keep
            grad[idx] = (up - down) / (2 * h)
        return grad


    def two_layer_net(params, X, y=None, reg=0.0):
        z1 = X @ params["W1"] + params["b1"]
        a1 = F.relu(z1)
        scores = a1 @ params["W2"] + params["b2"]
        if y is None:
            return scores
        N, C = scores.shape
        logp = scores - scores.max(dim=1, keepdim=True).values
        logp = logp - logp.exp().sum(dim=1, keepdim=True).log()
        onehot = F.one_hot(y, C).to(scores.dtype)
        loss = -(logp * onehot).sum() / N + reg * (params["W1"].square().sum() + params["W2"].square().sum())
        d = (logp.exp() - onehot) / N
        dz1 = (d @ params["W2"].T) * (z1 > 0)
        return loss, {"W1": X.T @ dz1 + 2 * reg * params["W1"], "b1": dz1.sum(0),
                      "W2": a1.T @ d + 2 * reg * params["W2"], "b2": d.sum(0)}
''')

# au300003 / au300005: layer classes of the student's own, each with forward and backward methods.
LAYERS = src('''
    """My layers: each keeps what its backward needs."""
    import torch


    class Affine:
        def forward(self, x, w, b):
            self.cache = (x, w, b)
            return x.reshape(x.shape[0], -1) @ w + b

        def backward(self, dout):
            x, w, b = self.cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(0)


    class ReLU:
        def forward(self, x):
            self.mask = x > 0
            return x * self.mask

        def backward(self, dout):
            return dout * self.mask


    class Sigmoid:
        def forward(self, x):
            x64 = x.double()                       # compute in float64, cast back
            s = torch.where(x64 >= 0, 1 / (1 + torch.exp(-x64.abs())),
                            torch.exp(-x64.abs()) / (1 + torch.exp(-x64.abs())))
            self.s = s
            return s.to(x.dtype)

        def backward(self, dout):
            return (dout.double() * self.s * (1 - self.s)).to(dout.dtype)


    class SoftmaxCrossEntropy:
        def forward(self, scores, y):
            shifted = scores - scores.max(dim=1, keepdim=True).values
            self.logp = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
            self.y = y
            return -self.logp[torch.arange(len(y)), y].mean()

        def backward(self):
            d = self.logp.exp()
            d[torch.arange(len(self.y)), self.y] -= 1
            return d / len(self.y)
''')
OWN = src('''
    """Week 3 built from my own layer classes (layers.py)."""
    import torch

    from layers import Affine, ReLU, Sigmoid, SoftmaxCrossEntropy


    def affine_forward(x, w, b):
        layer = Affine()
        return layer.forward(x, w, b), layer.cache


    def affine_backward(dout, cache):
        layer = Affine()
        layer.cache = cache
        return layer.backward(dout)


    def relu_forward(x):
        return ReLU().forward(x), x


    def relu_backward(dout, cache):
        layer = ReLU()
        layer.forward(cache)
        return layer.backward(dout)


    def sigmoid_forward(x):
        return Sigmoid().forward(x), x


    def sigmoid_backward(dout, cache):
        layer = Sigmoid()
        layer.forward(cache)
        return layer.backward(dout)


    def numerical_gradient(f, x, h=1e-5):
        grad = torch.zeros_like(x)
        for k in range(x.numel()):
            idx = tuple(int(i) for i in torch.unravel_index(torch.tensor(k), x.shape))
            old = float(x[idx])
            values = []
            for step in (h, -h):
                x[idx] = old + step
                values.append(float(f(x)))
            x[idx] = old
            grad[idx] = (values[0] - values[1]) / (2 * h)
        return grad


    def two_layer_net(params, X, y=None, reg=0.0):
        fc1, relu, fc2 = Affine(), ReLU(), Affine()
        scores = fc2.forward(relu.forward(fc1.forward(X, params["W1"], params["b1"])), params["W2"], params["b2"])
        if y is None:
            return scores
        loss_layer = SoftmaxCrossEntropy()
        loss = float(loss_layer.forward(scores, y))
        loss += reg * float((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())
        dh, dW2, db2 = fc2.backward(loss_layer.backward())
        _, dW1, db1 = fc1.backward(relu.backward(dh))
        return loss, {"W1": dW1 + 2 * reg * params["W1"], "b1": db1, "W2": dW2 + 2 * reg * params["W2"], "b2": db2}
''')

BASE = VECTORISED


def build_class() -> list[Entry]:
    e = []
    e.append(Entry("au300001", "folder", "correct", [],
                   "loops and math.exp: the affine layer index by index, a hand-rolled multi-index in "
                   "numerical_gradient, the softmax row by row; loss as a Python float", files={"backprop.py": LOOPS}))
    e.append(Entry("au300002", "folder", "correct", [],
                   "vectorised: F.linear, einsum, torch.where, torch.sigmoid (allowed), itertools.product for the "
                   "numerical gradient with 0-d tensors from f", files={"backprop.py": VECTORISED}))
    e.append(Entry("au300003", "folder", "correct", [],
                   "layer classes of its own in layers.py (Affine, ReLU, Sigmoid, SoftmaxCrossEntropy), each with a "
                   "backward METHOD (not Tensor.backward: no ban); sigmoid in float64 cast back; losses as floats",
                   files={"backprop.py": OWN, "layers.py": LAYERS}))
    cells = notebook_cells_from_module(VECTORISED, "# Week 3: backprop\nau300004", FUNCTIONS, [
        ("markdown", "## Gradient check against autograd"),
        ("code", "x = torch.randn(4, 5, requires_grad=True)\nw = torch.randn(5, 3, requires_grad=True)\n"
                 "b = torch.zeros(3, requires_grad=True)\nout, cache = affine_forward(x, w, b)\n"
                 "out.sum().backward()\nprint(torch.allclose(affine_backward(torch.ones(4, 3), cache)[1], w.grad))"),
    ])
    e.append(Entry("au300004", "ipynb", "correct", [],
                   "Colab notebook, vectorised; intake drops !pip, %matplotlib and the top-level check cell that "
                   "calls .backward() (autograd outside the functions is not graded)", cells=cells))
    e.append(Entry("au300005", "zip", "correct", [],
                   "zip made like dlgrade submit with two files (backprop.py imports its layer classes from layers.py)",
                   files={"backprop.py": OWN, "layers.py": LAYERS}))

    e.append(Entry("au300006", "folder", "wrong", ["relu_backward"],
                   "relu_backward passes the gradient where x >= 0: 1 instead of 0 at the kink",
                   files={"backprop.py": replace_text(BASE, "torch.where(cache > 0, dout", "torch.where(cache >= 0, dout")}))
    e.append(Entry("au300007", "folder", "wrong", ["sigmoid_forward"],
                   "sigmoid_forward computes exp(x) / (1 + exp(x)): NaN at x = 1e3 (sigmoid_backward uses "
                   "torch.sigmoid and is right)",
                   files={"backprop.py": replace_function(BASE, '''
                       def sigmoid_forward(x):
                           e = torch.exp(x)
                           return e / (1 + e), x
                   ''')}))
    e.append(Entry("au300008", "folder", "wrong", ["numerical_gradient"],
                   "numerical_gradient perturbs copies of x: an f that reads x itself gives a zero gradient",
                   files={"backprop.py": replace_function(BASE, '''
                       def numerical_gradient(f, x, h=1e-5):
                           grad = torch.zeros_like(x)
                           for idx in itertools.product(*map(range, x.shape)):
                               xp, xm = x.clone(), x.clone()
                               xp[idx] += h
                               xm[idx] -= h
                               grad[idx] = (f(xp) - f(xm)) / (2 * h)
                           return grad
                   ''')}))
    e.append(Entry("au300009", "folder", "wrong", ["two_layer_net"],
                   "two_layer_net lets autograd compute the gradients (loss.backward()); values right, banned",
                   files={"backprop.py": replace_function(BASE, '''
                       def two_layer_net(params, X, y=None, reg=0.0):
                           p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
                           scores = F.relu(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
                           if y is None:
                               return scores.detach()
                           loss = F.cross_entropy(scores, y) + reg * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
                           loss.backward()
                           return loss.detach(), {k: v.grad for k, v in p.items()}
                   ''')}))
    hidden_autograd = replace_text(
        LAYERS,
        "        x, w, b = self.cache\n"
        "        return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(0)\n",
        "        x, w, b = (t.detach().requires_grad_(True) for t in self.cache)\n"
        "        out = x.reshape(x.shape[0], -1) @ w + b\n"
        "        return torch.autograd.grad(out, (x, w, b), dout)\n")
    e.append(Entry("au300010", "folder", "wrong", ["affine_backward", "two_layer_net"],
                   "its Affine class's backward method calls torch.autograd.grad (in layers.py): banned in "
                   "affine_backward and in two_layer_net, which use it; values right",
                   files={"backprop.py": OWN, "layers.py": hidden_autograd}))
    e.append(Entry("au300011", "folder", "partial", ["numerical_gradient", "two_layer_net"],
                   "the six layer functions done; numerical_gradient and two_layer_net raise NotImplementedError",
                   files={"backprop.py": stub(LOOPS, "numerical_gradient", "two_layer_net")}))

    e.append(Entry("au300012", "folder", "broken", ALL,
                   "syntax error (an unclosed bracket in two_layer_net): gradable, scores 0 everywhere",
                   files={"backprop.py": replace_text(VECTORISED, 'onehot = F.one_hot(y, C).to(scores.dtype)',
                                                      'onehot = F.one_hot(y, C.to(scores.dtype)')}))
    e.append(Entry("au300013", "folder", "broken", ["sigmoid_backward"],
                   "sigmoid_backward is not defined; the other seven are right",
                   files={"backprop.py": remove_function(LOOPS, "sigmoid_backward")}))
    e.append(Entry("au300014", "folder", "broken", ["relu_backward"],
                   "relu_backward's while loop never advances its index: an endless loop (only the relu_backward "
                   "tests time out)",
                   files={"backprop.py": replace_function(LOOPS, '''
                       def relu_backward(dout, cache):
                           xs, ds = cache.reshape(-1).tolist(), dout.reshape(-1).tolist()
                           values = []
                           i = 0
                           while i < len(xs):
                               values.append(ds[i] if xs[i] > 0 else 0.0)
                           return torch.tensor(values, dtype=dout.dtype).reshape(dout.shape)
                   ''')}))
    return e


def main() -> None:
    write_class(HERE / WEEK, WEEK, FUNCTIONS, build_class(), "make_week03_samples.py", may_not_compile=("au300012",))


if __name__ == "__main__":
    main()
