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
