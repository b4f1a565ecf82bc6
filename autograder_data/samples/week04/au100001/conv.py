"""Week 4: convolution and max-pooling with plain loops.

Everything is an explicit loop so that each index can be checked by hand
against the formulas from the lecture. Slow, but easy to follow.
"""
import torch

KX = [[-1, 0, 1],
      [-2, 0, 2],
      [-1, 0, 1]]


def _two(v):
    if isinstance(v, int):
        return v, v
    return int(v[0]), int(v[1])


def _zero_pad(x, ph, pw):
    N, C, H, W = x.shape
    xp = torch.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype, device=x.device)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    return xp


def conv2d_forward(x, w, b, stride=1, padding=0):
    sh, sw = _two(stride)
    ph, pw = _two(padding)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho = (H + 2 * ph - KH) // sh + 1
    Wo = (W + 2 * pw - KW) // sw + 1
    xp = _zero_pad(x, ph, pw)
    out = torch.zeros((N, F, Ho, Wo), dtype=x.dtype, device=x.device)
    for n in range(N):
        for f in range(F):
            for r in range(Ho):
                for s in range(Wo):
                    acc = b[f].clone()
                    for i in range(KH):
                        for j in range(KW):
                            # sum over the input channels at this kernel tap
                            acc = acc + torch.dot(xp[n, :, r * sh + i, s * sw + j], w[f, :, i, j])
                    out[n, f, r, s] = acc
    return out


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    sh, sw = _two(stride)
    ph, pw = _two(padding)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    xp = _zero_pad(x, ph, pw)
    dxp = torch.zeros_like(xp)
    dw = torch.zeros_like(w)
    db = torch.zeros_like(b)
    for n in range(N):
        for f in range(F):
            for r in range(Ho):
                for s in range(Wo):
                    g = dout[n, f, r, s]
                    db[f] += g
                    for i in range(KH):
                        for j in range(KW):
                            dxp[n, :, r * sh + i, s * sw + j] += g * w[f, :, i, j]
                            dw[f, :, i, j] += g * xp[n, :, r * sh + i, s * sw + j]
    dx = dxp[:, :, ph:ph + H, pw:pw + W].clone()
    return dx, dw, db


def maxpool2d_forward(x, kernel_size=2, stride=None):
    KH, KW = _two(kernel_size)
    sh, sw = _two(kernel_size if stride is None else stride)
    N, C, H, W = x.shape
    Ho = (H - KH) // sh + 1
    Wo = (W - KW) // sw + 1
    out = torch.zeros((N, C, Ho, Wo), dtype=x.dtype, device=x.device)
    for n in range(N):
        for c in range(C):
            for r in range(Ho):
                for s in range(Wo):
                    out[n, c, r, s] = x[n, c, r * sh:r * sh + KH, s * sw:s * sw + KW].max()
    return out


def _first_max(window):
    """(i, j) of the first largest entry of a 2-D list, scanning row by row."""
    best, best_i, best_j = window[0][0], 0, 0
    for i, row in enumerate(window):
        for j, v in enumerate(row):
            if v > best:
                best, best_i, best_j = v, i, j
    return best_i, best_j


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    KH, KW = _two(kernel_size)
    sh, sw = _two(kernel_size if stride is None else stride)
    N, C, Ho, Wo = dout.shape
    dx = torch.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for r in range(Ho):
                for s in range(Wo):
                    window = x[n, c, r * sh:r * sh + KH, s * sw:s * sw + KW].tolist()
                    i, j = _first_max(window)
                    dx[n, c, r * sh + i, s * sw + j] += dout[n, c, r, s]
    return dx


def sobel(images):
    N, _, H, W = images.shape
    p = _zero_pad(images, 1, 1)
    kx = torch.tensor(KX, dtype=images.dtype, device=images.device)
    ky = kx.t()
    gx = torch.zeros_like(images)
    gy = torch.zeros_like(images)
    for n in range(N):
        for r in range(H):
            for s in range(W):
                patch = p[n, 0, r:r + 3, s:s + 3]
                gx[n, 0, r, s] = (patch * kx).sum()
                gy[n, 0, r, s] = (patch * ky).sum()
    return gx, gy


def gradient_magnitude(gx, gy):
    return (gx * gx + gy * gy).sqrt()
