"""Week 4 - conv.py. Uses my helpers in utils.py (same folder)."""
import torch

from utils import as_pair, out_size, zero_pad


def conv2d_forward(x, w, b, stride=1, padding=0):
    sh, sw = as_pair(stride)
    ph, pw = as_pair(padding)
    N, C, H, W = x.shape
    nf, _, kh, kw = w.shape
    ho, wo = out_size(H, kh, sh, ph), out_size(W, kw, sw, pw)
    xp = zero_pad(x, ph, pw)
    out = x.new_zeros(N, nf, ho, wo)
    for f in range(nf):
        acc = x.new_zeros(N, ho, wo) + b[f]
        for i in range(kh):
            for j in range(kw):
                tap = xp[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
                acc = acc + (tap * w[f, :, i, j].view(1, C, 1, 1)).sum(dim=1)
        out[:, f] = acc
    return out


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    sh, sw = as_pair(stride)
    ph, pw = as_pair(padding)
    N, C, H, W = x.shape
    nf, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    xp = zero_pad(x, ph, pw)
    dxp = torch.zeros_like(xp)
    dw = torch.zeros_like(w)
    db = torch.zeros_like(b)
    for f in range(nf):
        g = dout[:, f]                                    # [N, ho, wo]
        db[f] = g.sum()
        for i in range(kh):
            for j in range(kw):
                rows = slice(i, i + sh * (ho - 1) + 1, sh)
                cols = slice(j, j + sw * (wo - 1) + 1, sw)
                dw[f, :, i, j] = (xp[:, :, rows, cols] * g[:, None]).sum(dim=(0, 2, 3))
                dxp[:, :, rows, cols] += g[:, None] * w[f, :, i, j].view(1, C, 1, 1)
    return dxp[:, :, ph:ph + H, pw:pw + W].clone(), dw, db


def maxpool2d_forward(x, kernel_size=2, stride=None):
    kh, kw = as_pair(kernel_size)
    sh, sw = as_pair(stride if stride is not None else kernel_size)
    N, C, H, W = x.shape
    ho, wo = out_size(H, kh, sh), out_size(W, kw, sw)
    out = x.new_zeros(N, C, ho, wo)
    for r in range(ho):
        for c in range(wo):
            out[:, :, r, c] = x[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw].amax(dim=(2, 3))
    return out


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    kh, kw = as_pair(kernel_size)
    sh, sw = as_pair(stride if stride is not None else kernel_size)
    N, C, ho, wo = dout.shape
    dx = torch.zeros_like(x)
    for r in range(ho):
        for c in range(wo):
            win = x[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw].reshape(N, C, -1)
            hit = win == win.amax(dim=2, keepdim=True)
            first = hit & (hit.cumsum(dim=2) == 1)          # keep only the first tied maximum
            g = first * dout[:, :, r, c].unsqueeze(2)
            dx[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw] += g.reshape(N, C, kh, kw)
    return dx


def sobel(images):
    kx = torch.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=images.dtype, device=images.device)
    weights = torch.stack([kx, kx.t()]).unsqueeze(1)
    g = conv2d_forward(images, weights, images.new_zeros(2), stride=1, padding=1)
    return g[:, :1], g[:, 1:]


def gradient_magnitude(gx, gy):
    return torch.sqrt(gx ** 2 + gy ** 2)
