# conv.py (week 4): windows as a strided view, products with tensordot.
import torch
import torch.nn.functional as F


def pair(v):
    return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def windows(t, KH, KW, sh, sw):
    """View of t [N, C, H, W] as [N, C, Ho, Wo, KH, KW] without copying."""
    t = t.contiguous()
    N, C, H, W = t.shape
    Ho, Wo = (H - KH) // sh + 1, (W - KW) // sw + 1
    sN, sC, sH, sW = t.stride()
    return t.as_strided((N, C, Ho, Wo, KH, KW), (sN, sC, sH * sh, sW * sw, sH, sW))


def flat_positions(Ho, Wo, KH, KW, sh, sw, W, device):
    """Index into a flattened [H*W] image of every window entry, shape [Ho, Wo, KH, KW]."""
    rows = torch.arange(Ho, device=device).view(Ho, 1, 1, 1) * sh + torch.arange(KH, device=device).view(1, 1, KH, 1)
    cols = torch.arange(Wo, device=device).view(1, Wo, 1, 1) * sw + torch.arange(KW, device=device).view(1, 1, 1, KW)
    return rows * W + cols


def conv2d_forward(x, w, b, stride=1, padding=0):
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    KH, KW = w.shape[-2:]
    win = windows(F.pad(x, (pw, pw, ph, ph)), KH, KW, sh, sw)
    out = torch.tensordot(win, w, dims=([1, 4, 5], [1, 2, 3]))     # [N, Ho, Wo, F]
    return out.permute(0, 3, 1, 2).contiguous() + b.view(1, -1, 1, 1)


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    N, C, H, W = x.shape
    KH, KW = w.shape[-2:]
    xp = F.pad(x, (pw, pw, ph, ph))
    Hp, Wp = xp.shape[-2:]
    Ho, Wo = dout.shape[-2:]
    win = windows(xp, KH, KW, sh, sw)
    dw = torch.tensordot(dout, win, dims=([0, 2, 3], [0, 2, 3]))   # [F, C, KH, KW]
    db = dout.sum(dim=(0, 2, 3))
    dwin = torch.tensordot(dout, w, dims=([1], [0]))               # [N, Ho, Wo, C, KH, KW]
    dwin = dwin.permute(0, 3, 1, 2, 4, 5).reshape(N, C, -1)
    idx = flat_positions(Ho, Wo, KH, KW, sh, sw, Wp, x.device).reshape(-1)
    dxp = torch.zeros(N, C, Hp * Wp, dtype=x.dtype, device=x.device).index_add_(2, idx, dwin)
    dx = dxp.view(N, C, Hp, Wp)[:, :, ph:ph + H, pw:pw + W].contiguous()
    return dx, dw, db


def maxpool2d_forward(x, kernel_size=2, stride=None):
    KH, KW = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    return windows(x, KH, KW, sh, sw).amax(dim=(-2, -1))


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    KH, KW = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[-2:]
    win = windows(x, KH, KW, sh, sw).reshape(N, C, Ho, Wo, KH * KW)
    k = win.argmax(dim=-1)                                          # first maximum, row-major
    r = torch.arange(Ho, device=x.device).view(1, 1, Ho, 1) * sh + torch.div(k, KW, rounding_mode="floor")
    c = torch.arange(Wo, device=x.device).view(1, 1, 1, Wo) * sw + k % KW
    dx = torch.zeros(N, C, H * W, dtype=x.dtype, device=x.device)
    dx.scatter_add_(2, (r * W + c).reshape(N, C, -1), dout.reshape(N, C, -1))
    return dx.view(N, C, H, W)


def sobel(images):
    """Sobel is separable: smooth with [1, 2, 1] one way, difference [-1, 0, 1] the other."""
    H, W = images.shape[-2:]
    p = F.pad(images, (1, 1, 1, 1))
    smooth_rows = p[:, :, 0:H] + 2 * p[:, :, 1:H + 1] + p[:, :, 2:H + 2]             # [N, 1, H, W+2]
    gx = smooth_rows[..., 2:W + 2] - smooth_rows[..., 0:W]
    smooth_cols = p[..., 0:W] + 2 * p[..., 1:W + 1] + p[..., 2:W + 2]                 # [N, 1, H+2, W]
    gy = smooth_cols[:, :, 2:H + 2] - smooth_cols[:, :, 0:H]
    return gx, gy


def gradient_magnitude(gx, gy):
    return torch.linalg.vector_norm(torch.stack((gx, gy)), dim=0)
