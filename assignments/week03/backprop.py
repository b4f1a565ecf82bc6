"""Week 3: backpropagation by hand.

Each layer is a pair of functions. The forward pass returns its output and a
`cache`, what the backward pass needs; the backward pass takes the upstream
gradient `dout` = dL/dout and the cache and returns the gradients of the loss
with respect to the layer's inputs (the chain rule, one layer at a time). Then
a numerical gradient to check them, and a two-layer network put together by
hand.

Conventions (the same in every function):
- Results have the input's dtype and device. Never modify an input in place
  (numerical_gradient changes x while it runs, and puts every entry back).
- Each cache is exactly what its forward function's docstring says, because
  the grader tests every backward function on its own, with a cache it builds
  itself: (x, w, b) for the affine layer, x for ReLU and for the sigmoid.
- Autograd is banned in the whole week: no `.backward()`, no
  `torch.autograd` (grad, Function, functional), no `torch.func`. Any
  gradient the autograd engine computes while your function runs counts,
  however it was started. Your own helper functions and classes are yours to
  use, a class with a `backward` method of its own too. Everything else in
  torch is allowed.
"""

import itertools

import torch


def affine_forward(x, w, b):
    """Forward pass of a fully-connected (affine) layer.

    Inputs:
    - x: input, shape [N, d1, ..., dk]; each example is flattened to a row of
      D = d1 * ... * dk features (x may be non-contiguous: use reshape, not view)
    - w: weights, shape [D, M]
    - b: biases, shape [M]

    Returns a tuple (out, cache):
    - out: shape [N, M], out = x_flat @ w + b with x_flat of shape [N, D]
    - cache: the tuple (x, w, b), x in its original shape
    """
    # TODO: your code here
    raise NotImplementedError("affine_forward")


def affine_backward(dout, cache):
    """Backward pass of affine_forward.

    Inputs:
    - dout: upstream gradient dL/dout, shape [N, M]
    - cache: the tuple (x, w, b) of the forward pass, x of shape [N, d1, ..., dk]

    Returns a tuple (dx, dw, db):
    - dx: shape [N, d1, ..., dk] (like x), dx = (dout @ w^T) reshaped to x's shape
    - dw: shape [D, M], dw = x_flat^T @ dout
    - db: shape [M], db = sum over the batch of dout
    """
    # TODO: your code here
    raise NotImplementedError("affine_backward")


def relu_forward(x):
    """Forward pass of a ReLU, max(0, x) elementwise.

    Inputs:
    - x: any shape

    Returns a tuple (out, cache):
    - out: same shape as x, max(0, x)
    - cache: x itself
    """
    # TODO: your code here
    raise NotImplementedError("relu_forward")


def relu_backward(dout, cache):
    """Backward pass of relu_forward.

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: x, the input of the forward pass

    Returns:
    - dx: same shape as x; dout where x > 0, and 0 where x <= 0 (at x exactly
      0 the gradient is 0)
    """
    # TODO: your code here
    raise NotImplementedError("relu_backward")


def sigmoid_forward(x):
    """Forward pass of a sigmoid, 1 / (1 + exp(-x)) elementwise.

    Inputs:
    - x: any shape

    Returns a tuple (out, cache):
    - out: same shape as x, values in [0, 1]
    - cache: x itself

    Stable for |x| up to 1e3: exp(1e3) overflows to inf (and inf / inf is NaN),
    so exponentiate only -|x|: for x >= 0 use 1 / (1 + exp(-x)), for x < 0 use
    exp(x) / (1 + exp(x)).
    """
    # TODO: your code here
    raise NotImplementedError("sigmoid_forward")


def sigmoid_backward(dout, cache):
    """Backward pass of sigmoid_forward.

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: x, the input of the forward pass

    Returns:
    - dx: same shape as x, dx = dout * s * (1 - s) with s = sigmoid(x);
      finite for |x| up to 1e3 (compute s stably, as in the forward pass)
    """
    # TODO: your code here
    raise NotImplementedError("sigmoid_backward")


def numerical_gradient(f, x, h=1e-5):
    """Numerical gradient of a scalar function by central differences.

    Inputs:
    - f: a function of one tensor returning a scalar (a 0-d tensor or a Python
      float). f may read x itself rather than its argument (like
      `f = lambda _: model_loss()`), so perturb x IN PLACE: set one entry to
      x[i] + h, evaluate f(x), set it to x[i] - h, evaluate f(x), and put the
      original value back.
    - x: the point, any shape, float32 or float64 (possibly a non-contiguous view)
    - h: the step

    Returns:
    - grad: shape and dtype of x, grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h)

    When it returns, x holds exactly its original values.
    """
    # TODO: your code here
    raise NotImplementedError("numerical_gradient")


def two_layer_net(params, X, y=None, reg=0.0):
    """A two-layer network: affine -> ReLU -> affine, with a softmax loss.

    Inputs:
    - params: a dict with W1 [D, H], b1 [H], W2 [H, C], b2 [C]
    - X: data, shape [N, D]
    - y: None, or int64 labels of shape [N] with values in 0..C-1
    - reg: the L2 regularisation strength

    Returns:
    - without y: the scores, shape [N, C]
    - with y: a tuple (loss, grads):
      - loss: a 0-d tensor (a Python float is accepted too),
          loss = mean_i of -log softmax(scores)[i, y[i]]  +  reg * (sum(W1 ** 2) + sum(W2 ** 2))
        (the biases are not regularised); compute the softmax stably
      - grads: a dict with the four keys of params, each dL/dparam shaped like
        the param; the regulariser adds 2 * reg * W to dW1 and dW2. The ReLU
        passes no gradient where its input is <= 0.
    """
    # TODO: your code here
    raise NotImplementedError("two_layer_net")
