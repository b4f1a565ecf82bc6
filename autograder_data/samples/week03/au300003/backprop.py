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
