"""Week 4 (conv.py)."""
import torch


def _as_tuple(v):
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _pad(x, ph, pw):
    if ph == 0 and pw == 0:
        return x
    N, C, H, W = x.shape
    xp = x.new_zeros(N, C, H + 2 * ph, W + 2 * pw)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    return xp


def _taps(t, i, j, sh, sw, ho, wo):
    """The entries of t that kernel tap (i, j) touches, one per output position."""
    return t[:, :, i:i + (ho - 1) * sh + 1:sh, j:j + (wo - 1) * sw + 1:sw]


def conv2d_forward(x, w, b, stride=1, padding=0):
    sh, sw = _as_tuple(stride)
    ph, pw = _as_tuple(padding)
    f, c, kh, kw = w.shape
    xp = _pad(x, ph, pw)
    ho = (xp.shape[2] - kh) // sh + 1
    wo = (xp.shape[3] - kw) // sw + 1
    out = b.reshape(1, f, 1, 1).repeat(x.shape[0], 1, ho, wo)
    for i in range(kh):
        for j in range(kw):
            t = _taps(xp, i, j, sh, sw, ho, wo)                      # [N, C, ho, wo]
            out = out + torch.tensordot(w[:, :, i, j], t, dims=([1], [1])).transpose(0, 1)
    return out


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    sh, sw = _as_tuple(stride)
    ph, pw = _as_tuple(padding)
    f, c, kh, kw = w.shape
    ho, wo = dout.shape[-2:]
    xp = _pad(x, ph, pw)
    dxp = torch.zeros_like(xp)
    dw = torch.empty_like(w)
    for i in range(kh):
        for j in range(kw):
            t = _taps(xp, i, j, sh, sw, ho, wo)
            dw[:, :, i, j] = torch.tensordot(dout, t, dims=([0, 2, 3], [0, 2, 3]))
            back = torch.tensordot(dout, w[:, :, i, j], dims=([1], [0])).permute(0, 3, 1, 2)
            _taps(dxp, i, j, sh, sw, ho, wo).add_(back)
    db = dout.sum(dim=(0, 2, 3))
    dx = dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]
    return dx, dw, db


def maxpool2d_forward(x, kernel_size=2, stride=None):
    kh, kw = _as_tuple(kernel_size)
    sh, sw = _as_tuple(kernel_size if stride is None else stride)
    ho = (x.shape[2] - kh) // sh + 1
    wo = (x.shape[3] - kw) // sw + 1
    best = _taps(x, 0, 0, sh, sw, ho, wo).clone()
    for i in range(kh):
        for j in range(kw):
            best = torch.maximum(best, _taps(x, i, j, sh, sw, ho, wo))
    return best


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    kh, kw = _as_tuple(kernel_size)
    sh, sw = _as_tuple(kernel_size if stride is None else stride)
    ho, wo = dout.shape[-2:]
    # scan each window in row-major order and remember where its maximum is;
    # a strict > keeps the first of several equal maxima
    best = _taps(x, 0, 0, sh, sw, ho, wo)
    where = torch.zeros(best.shape, dtype=torch.long, device=x.device)
    for k in range(1, kh * kw):
        i, j = divmod(k, kw)
        v = _taps(x, i, j, sh, sw, ho, wo)
        bigger = v > best
        best = torch.where(bigger, v, best)
        where[bigger] = k
    dx = torch.zeros_like(x)
    for k in range(kh * kw):
        i, j = divmod(k, kw)
        _taps(dx, i, j, sh, sw, ho, wo).add_(torch.where(where == k, dout, torch.zeros_like(dout)))
    return dx


def sobel(images):
    kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    h, w = images.shape[-2:]
    p = _pad(images, 1, 1)
    gx = torch.zeros_like(images)
    gy = torch.zeros_like(images)
    for i in range(3):
        for j in range(3):
            t = _taps(p, i, j, 1, 1, h, w)
            if kx[i][j]:
                gx = gx + kx[i][j] * t
            if kx[j][i]:
                gy = gy + kx[j][i] * t
    return gx, gy


def gradient_magnitude(gx, gy):
    return gx * gx + gy * gy
