"""conv.py: week 4.

For a kernel offset (i, j) the input pixels used by all output positions form
one strided slice of the padded input, so the convolution is a sum of
KH * KW matrix products.
"""
import torch


def _pair(v):
    if isinstance(v, (tuple, list)):
        a, b = v
        return int(a), int(b)
    return int(v), int(v)


def _pad(x, ph, pw):
    N, C, H, W = x.shape
    xp = x.new_zeros(N, C, H + 2 * ph, W + 2 * pw)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    return xp


def _tap(t, i, j, sh, sw, Ho, Wo):
    return t[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]


def conv2d_forward(x, w, b, stride=1, padding=0):
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    N, C, H, W = x.shape
    Fn, _, KH, KW = w.shape
    Ho = (H + 2 * ph - KH) // sh + 1
    Wo = (W + 2 * pw - KW) // sw + 1
    xp = _pad(x, ph, pw)
    acc = torch.zeros(N, Ho, Wo, Fn, dtype=x.dtype, device=x.device)
    for i in range(KH):
        for j in range(KW):
            tap = _tap(xp, i, j, sh, sw, Ho, Wo)                    # [N, C, Ho, Wo]
            acc += tap.permute(0, 2, 3, 1) @ w[:, :, i, j].t()      # [N, Ho, Wo, F]
    return (acc + b).permute(0, 3, 1, 2).contiguous()


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    N, C, H, W = x.shape
    Fn, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2:]
    xp = _pad(x, ph, pw)
    dxp = torch.zeros_like(xp)
    dw = torch.zeros_like(w)
    g = dout.permute(0, 2, 3, 1).reshape(-1, Fn)                     # [N*Ho*Wo, F]
    for i in range(KH):
        for j in range(KW):
            tap = _tap(xp, i, j, sh, sw, Ho, Wo).permute(0, 2, 3, 1).reshape(-1, C)
            dw[:, :, i, j] = g.t() @ tap
            back = (g @ w[:, :, i, j]).reshape(N, Ho, Wo, C).permute(0, 3, 1, 2)
            _tap(dxp, i, j, sh, sw, Ho, Wo).add_(back)
    db = g.sum(dim=0)
    return dxp[:, :, ph:ph + H, pw:pw + W], dw, db


def _stacked_taps(x, kernel_size, stride):
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    Ho = (x.shape[2] - KH) // sh + 1
    Wo = (x.shape[3] - KW) // sw + 1
    taps = [_tap(x, i, j, sh, sw, Ho, Wo) for i in range(KH) for j in range(KW)]
    return torch.stack(taps, dim=-1), (KH, KW, sh, sw, Ho, Wo)   # [N, C, Ho, Wo, KH*KW]


def maxpool2d_forward(x, kernel_size=2, stride=None):
    taps, _ = _stacked_taps(x, kernel_size, stride)
    return taps.amax(dim=-1)


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    taps, (KH, KW, sh, sw, Ho, Wo) = _stacked_taps(x, kernel_size, stride)
    is_max = taps == taps.amax(dim=-1, keepdim=True)
    first = is_max & (is_max.cumsum(dim=-1) == 1)      # only the first maximum, row-major
    dx = torch.zeros_like(x)
    for k in range(KH * KW):
        i, j = divmod(k, KW)
        _tap(dx, i, j, sh, sw, Ho, Wo).add_(dout * first[..., k])
    return dx


SOBEL = {(0, 0): -1, (0, 2): 1, (1, 0): -2, (1, 2): 2, (2, 0): -1, (2, 2): 1}


def sobel(images):
    H, W = images.shape[-2:]
    p = _pad(images, 1, 1)
    gx = torch.zeros_like(images)
    gy = torch.zeros_like(images)
    for (i, j), k in SOBEL.items():
        gx += k * p[:, :, i:i + H, j:j + W]
        gy += k * p[:, :, j:j + H, i:i + W]
    return gx, gy


def gradient_magnitude(gx, gy):
    return torch.sqrt(gx.pow(2) + gy.pow(2))
