# conv.py - week 4
import torch
import torch.nn.functional as F


def _pair(v):
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def conv2d_forward(x, w, b, stride=1, padding=0):
    # TODO write the loops; F.conv2d for now so that the rest can be tested
    return F.conv2d(x, w, b, stride=_pair(stride), padding=_pair(padding))


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    N, C, H, W = x.shape
    _, _, KH, KW = w.shape
    H_out, W_out = dout.shape[2], dout.shape[3]
    xpad = F.pad(x, (pw, pw, ph, ph))
    dxpad = torch.zeros_like(xpad)
    dw = torch.zeros_like(w)
    for i in range(KH):
        for j in range(KW):
            rows = slice(i, i + sh * H_out, sh)
            cols = slice(j, j + sw * W_out, sw)
            dw[:, :, i, j] = torch.einsum("nfhw,nchw->fc", dout, xpad[:, :, rows, cols])
            dxpad[:, :, rows, cols] += torch.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    db = dout.sum(dim=(0, 2, 3))
    dx = dxpad[:, :, ph:ph + H, pw:pw + W]
    return dx, dw, db


def maxpool2d_forward(x, kernel_size=2, stride=None):
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    N, C, H, W = x.shape
    H_out = (H - KH) // sh + 1
    W_out = (W - KW) // sw + 1
    out = torch.full((N, C, H_out, W_out), float("-inf"), dtype=x.dtype, device=x.device)
    for i in range(KH):
        for j in range(KW):
            out = torch.maximum(out, x[:, :, i:i + sh * H_out:sh, j:j + sw * W_out:sw])
    return out


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    H_out, W_out = dout.shape[2], dout.shape[3]
    windows = []
    for i in range(KH):
        for j in range(KW):
            windows.append(x[:, :, i:i + sh * H_out:sh, j:j + sw * W_out:sw])
    stacked = torch.stack(windows, dim=-1)   # [N, C, H_out, W_out, KH*KW] in row-major order
    first = stacked.argmax(dim=-1)           # argmax returns the first maximum
    dx = torch.zeros_like(x)
    for k in range(KH * KW):
        i, j = divmod(k, KW)
        dx[:, :, i:i + sh * H_out:sh, j:j + sw * W_out:sw] += dout * (first == k)
    return dx


SOBEL_X = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))


def sobel(images):
    N, _, H, W = images.shape
    p = F.pad(images, (1, 1, 1, 1))
    gx = torch.zeros_like(images)
    gy = torch.zeros_like(images)
    for i in range(3):
        for j in range(3):
            win = p[:, :, i:i + H, j:j + W]
            gx = gx + SOBEL_X[i][j] * win
            gy = gy + SOBEL_X[j][i] * win
    return gx, gy


def gradient_magnitude(gx, gy):
    return torch.sqrt(gx ** 2 + gy ** 2)
