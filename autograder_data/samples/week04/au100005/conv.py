"""Week 4, conv.py.

Everything is built on one routine, `_correlate` (valid cross-correlation via
im2col). The backward pass is written as correlations too:
  dx = full correlation of the stride-dilated dout with the flipped kernel,
  dw = correlation of the padded input with the stride-dilated dout.
"""
import torch


def _pair(v):
    if isinstance(v, (list, tuple)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _pad(x, top, bottom, left, right):
    N, C, H, W = x.shape
    out = x.new_zeros(N, C, H + top + bottom, W + left + right)
    out[:, :, top:top + H, left:left + W] = x
    return out


def _correlate(inp, ker, sh=1, sw=1):
    """Valid cross-correlation: inp [N, C, H, W], ker [F, C, KH, KW] -> [N, F, Ho, Wo]."""
    N, C, H, W = inp.shape
    Fn, _, KH, KW = ker.shape
    Ho = (H - KH) // sh + 1
    Wo = (W - KW) // sw + 1
    cols = torch.stack([inp[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]
                        for i in range(KH) for j in range(KW)], dim=2)     # [N, C, KH*KW, Ho, Wo]
    cols = cols.reshape(N, C * KH * KW, Ho * Wo)
    out = ker.reshape(Fn, C * KH * KW) @ cols                             # [N, F, Ho*Wo]
    return out.reshape(N, Fn, Ho, Wo)


def conv2d_forward(x, w, b, stride=1, padding=0):
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    return _correlate(_pad(x, ph, ph, pw, pw), w, sh, sw) + b.reshape(1, -1, 1, 1)


def _dilate(dout, sh, sw):
    """Put sh - 1 zero rows and sw - 1 zero columns between the entries of dout."""
    N, Fn, Ho, Wo = dout.shape
    d = dout.new_zeros(N, Fn, (Ho - 1) * sh + 1, (Wo - 1) * sw + 1)
    d[:, :, ::sh, ::sw] = dout
    return d


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    N, C, H, W = x.shape
    Fn, _, KH, KW = w.shape
    xp = _pad(x, ph, ph, pw, pw)
    Hp, Wp = xp.shape[-2:]
    d = _dilate(dout, sh, sw)                                    # [N, F, Hd, Wd]

    # dx: full correlation with the flipped kernel, channels in and out swapped
    d_full = _pad(d, KH - 1, KH - 1, KW - 1, KW - 1)
    w_t = w.flip(2, 3).transpose(0, 1)                           # [C, F, KH, KW]
    reached = _correlate(d_full, w_t)                            # rows/cols the windows reached
    dxp = xp.new_zeros(N, C, Hp, Wp)
    dxp[:, :, :reached.shape[2], :reached.shape[3]] = reached    # rows never reached get 0
    dx = dxp[:, :, ph:ph + H, pw:pw + W].clone()

    # dw: the batch plays the role of the channels
    corr = _correlate(xp.transpose(0, 1), d.transpose(0, 1))     # [C, F, >=KH, >=KW]
    dw = corr[:, :, :KH, :KW].transpose(0, 1).contiguous()

    db = dout.sum(dim=(0, 2, 3))
    return dx, dw, db


def _windows_last(x, kernel_size, stride):
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(kernel_size) if stride is None else _pair(stride)
    Ho = (x.shape[2] - KH) // sh + 1
    Wo = (x.shape[3] - KW) // sw + 1
    slices = [(slice(i, i + sh * (Ho - 1) + 1, sh), slice(j, j + sw * (Wo - 1) + 1, sw))
              for i in range(KH) for j in range(KW)]
    stacked = torch.stack([x[:, :, r, c] for r, c in slices], dim=-1)    # [N, C, Ho, Wo, KH*KW]
    return stacked, slices


def maxpool2d_forward(x, kernel_size=2, stride=None):
    stacked, _ = _windows_last(x, kernel_size, stride)
    return stacked.amax(dim=-1)


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    stacked, slices = _windows_last(x, kernel_size, stride)
    winner = stacked.argmax(dim=-1)          # the first maximum in row-major order
    dx = torch.zeros_like(x)
    for k, (r, c) in enumerate(slices):
        dx[:, :, r, c] += torch.where(winner == k, dout, torch.zeros_like(dout))
    return dx


def sobel(images):
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=images.dtype,
                      device=images.device)
    both = _correlate(_pad(images, 1, 1, 1, 1), torch.stack([kx, kx.t()])[:, None])
    return both[:, :1], both[:, 1:]


def gradient_magnitude(gx, gy):
    return (gx ** 2 + gy ** 2) ** 0.5
