# Week 4 - conv.py
# One loop over the output positions; at each position the whole batch and
# all filters are done at once with einsum.
import torch
import torch.nn.functional as F


def _hw(v):
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def conv2d_forward(x, w, b, stride=1, padding=0):
    (sh, sw), (ph, pw) = _hw(stride), _hw(padding)
    KH, KW = w.shape[2], w.shape[3]
    xp = F.pad(x, (pw, pw, ph, ph))
    Ho = (xp.shape[2] - KH) // sh + 1
    Wo = (xp.shape[3] - KW) // sw + 1
    out = x.new_empty(x.shape[0], w.shape[0], Ho, Wo)
    for r in range(Ho):
        for c in range(Wo):
            win = xp[:, :, r * sh:r * sh + KH, c * sw:c * sw + KW]
            out[:, :, r, c] = torch.einsum("nchw,fchw->nf", win, w) + b
    return out


def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    (sh, sw), (ph, pw) = _hw(stride), _hw(padding)
    H, W = x.shape[2], x.shape[3]
    KH, KW = w.shape[2], w.shape[3]
    xp = F.pad(x, (pw, pw, ph, ph))
    dxp = torch.zeros_like(xp)
    dw = torch.zeros_like(w)
    for r in range(dout.shape[2]):
        for c in range(dout.shape[3]):
            rows = slice(r * sh, r * sh + KH)
            cols = slice(c * sw, c * sw + KW)
            g = dout[:, :, r, c]                                   # [N, F]
            dw += torch.einsum("nf,nchw->fchw", g, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += torch.einsum("nf,fchw->nchw", g, w)
    db = dout.sum(dim=(0, 2, 3))
    return dxp[:, :, ph:ph + H, pw:pw + W].clone(), dw, db


def maxpool2d_forward(x, kernel_size=2, stride=None):
    KH, KW = _hw(kernel_size)
    sh, sw = _hw(stride) if stride is not None else (KH, KW)
    N, C, H, W = x.shape
    Ho, Wo = (H - KH) // sh + 1, (W - KW) // sw + 1
    out = x.new_empty(N, C, Ho, Wo)
    for r in range(Ho):
        for c in range(Wo):
            out[:, :, r, c] = x[:, :, r * sh:r * sh + KH, c * sw:c * sw + KW].amax(dim=(2, 3))
    return out


def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
    KH, KW = _hw(kernel_size)
    sh, sw = _hw(stride) if stride is not None else (KH, KW)
    N, C, Ho, Wo = dout.shape
    dx = torch.zeros_like(x)
    for r in range(Ho):
        for c in range(Wo):
            rows = slice(r * sh, r * sh + KH)
            cols = slice(c * sw, c * sw + KW)
            flat = x[:, :, rows, cols].reshape(N, C, KH * KW)
            k = flat.argmax(dim=2, keepdim=True)        # argmax gives the first maximum
            g = torch.zeros_like(flat).scatter_(2, k, dout[:, :, r, c].unsqueeze(2))
            dx[:, :, rows, cols] += g.reshape(N, C, KH, KW)
    return dx


def sobel(images):
    gx_kernel = torch.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=images.dtype, device=images.device)
    kernels = torch.stack([gx_kernel, gx_kernel.T]).unsqueeze(1)        # [2, 1, 3, 3]
    both = conv2d_forward(images, kernels, images.new_zeros(2), stride=1, padding=1)
    return both[:, 0:1], both[:, 1:2]


def gradient_magnitude(gx, gy):
    return torch.hypot(gx, gy)
