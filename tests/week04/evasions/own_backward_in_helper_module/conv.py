import torch
import torch.nn.functional as F

from layers import Conv, MaxPool, _pair


def conv2d_forward(x, w, b, stride=1, padding=0):
    return Conv.forward(x, w, b, {"stride": _pair(stride), "pad": _pair(padding)})[0]


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    cache = (x, w, b, {"stride": _pair(stride), "pad": _pair(padding)})
    return Conv.backward(dout, cache)


def maxpool2d_forward(x, kernel_size=2, stride=None):
    return MaxPool(kernel_size, stride).forward(x)[0]


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    pool = MaxPool(kernel_size, stride)
    return pool.backward(dout, (x,))


def sobel(images):
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=images.dtype)
    gx = Conv.forward(images, kx.view(1, 1, 3, 3), torch.zeros(1, dtype=images.dtype),
                      {"stride": (1, 1), "pad": (1, 1)})[0]
    gy = Conv.forward(images, kx.T.reshape(1, 1, 3, 3), torch.zeros(1, dtype=images.dtype),
                      {"stride": (1, 1), "pad": (1, 1)})[0]
    return gx, gy


def gradient_magnitude(gx, gy):
    return torch.sqrt(gx ** 2 + gy ** 2)
