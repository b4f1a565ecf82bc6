#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week04/: a sample class for week04 (`conv.py`).

Run it from anywhere:

    python autograder_data/samples/make_week04_samples.py

It deletes and rewrites `week04/` next to this script, deterministically (fixed
zip timestamps, fixed notebook cell ids): running it twice gives the same
bytes. It needs only the standard library; nothing here imports torch.

The class, one entry per student, in the three shapes `dlgrade grade` takes:
- `auNNNNNN/`        a folder holding the student's `conv.py` (and sometimes a helper)
- `auNNNNNN.ipynb`   a notebook
- `auNNNNNN.zip`     a zip, most of them made the way `dlgrade submit` makes one

The entries, and what each one must score, are listed in `week04/EXPECTED.toml`:
- correct (au100001-au100008): eight independent implementations in different
  styles. They also serve as second implementations when checking the
  reference solution or the hidden suite.
- wrong (au100009-au100024): each breaks ONE function the way students do
  (flipped kernel, one-sided padding, ties in max-pooling, a banned call, ...);
  every other function of the entry is right.
- partial (au100025-au100028): some functions still raise NotImplementedError.
- broken (au100029-au100036): syntax error, a missing function, wrong return
  types, an invalid notebook, a truncated zip, an import of a missing module,
  an endless loop in one function.

Most wrong, partial and broken entries are made from four "student" modules
(STUDENT_A..D below) by replacing one function with its buggy version, so the
generator shows each bug in full, next to a note saying which function it
breaks. The correct entries are written out in full, each on its own.

When you change an entry, re-check it against torch (F.conv2d, F.max_pool2d,
autograd) before you trust EXPECTED.toml.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import textwrap
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "week04"

FUNCTIONS = ["conv2d_forward", "conv2d_backward", "maxpool2d_forward", "maxpool2d_backward",
             "sobel", "gradient_magnitude"]
ZIP_TIME = (2026, 11, 20, 14, 0, 0)          # every zip member gets this timestamp
CREATED = "2026-11-20T14:00:00Z"              # the manifest's "created"
DLGRADE_VERSION = "0.1.0"


def src(text: str) -> str:
    """Module source from an indented triple-quoted string."""
    return textwrap.dedent(text).lstrip("\n")


# =====================================================================================
# The correct entries: eight implementations written independently of each other.
# =====================================================================================

# au100001: everything as explicit nested loops (six for the convolution).
CORRECT_NAIVE = src('''
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
''')

# au100002: a loop over output positions, one einsum per position.
CORRECT_POSITIONS = src('''
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
''')

# au100003: a loop over the KH x KW kernel offsets, each a strided slice times a matrix.
CORRECT_OFFSETS = src('''
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
''')

# au100004: as_strided windows and tensordot; dx and the max-pool gradient by scatter-add.
CORRECT_STRIDED = src('''
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
''')

# au100005: one valid-correlation routine (im2col by stacking); the backward pass uses
# the transposed relations: dx is a full correlation of the stride-dilated dout with the
# flipped kernel, dw a correlation of the padded input with the dilated dout.
CORRECT_TRANSPOSED = src('''
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
''')

# au100007 (a zip made like `dlgrade submit`): im2col by advanced indexing and index_put_.
CORRECT_GATHER = src('''
    """Week 4 convolution via im2col.

    The patches are gathered with advanced indexing (row and column index
    tensors); the backward pass scatters them back with index_put_(...,
    accumulate=True), which adds up the entries of overlapping windows.
    """
    import torch
    import torch.nn.functional as F


    def _pair(v):
        if isinstance(v, int):
            return v, v
        h, w = v
        return int(h), int(w)


    def _index(n_out, k, s, device):
        """[n_out, k]: the input rows (or columns) seen by each output row (or column)."""
        return (torch.arange(n_out, device=device) * s)[:, None] + torch.arange(k, device=device)[None, :]


    def _patches(xp, KH, KW, sh, sw):
        """[N, C, Ho, Wo, KH, KW] patches and the row/column index tensors that made them."""
        Ho = (xp.shape[2] - KH) // sh + 1
        Wo = (xp.shape[3] - KW) // sw + 1
        R = _index(Ho, KH, sh, xp.device)[:, None, :, None]      # [Ho, 1, KH, 1]
        Q = _index(Wo, KW, sw, xp.device)[None, :, None, :]      # [1, Wo, 1, KW]
        return xp[:, :, R, Q], R, Q


    def conv2d_forward(x, w, b, stride=1, padding=0):
        sh, sw = _pair(stride)
        ph, pw = _pair(padding)
        N = x.shape[0]
        Fn, C, KH, KW = w.shape
        p, _, _ = _patches(F.pad(x, (pw, pw, ph, ph)), KH, KW, sh, sw)
        Ho, Wo = p.shape[2], p.shape[3]
        cols = p.permute(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * KH * KW)
        out = cols @ w.reshape(Fn, -1).t() + b
        return out.reshape(N, Ho, Wo, Fn).permute(0, 3, 1, 2).contiguous()


    def conv2d_backward(dout, x, w, b, stride=1, padding=0):
        sh, sw = _pair(stride)
        ph, pw = _pair(padding)
        N, C, H, W = x.shape
        Fn, _, KH, KW = w.shape
        xp = F.pad(x, (pw, pw, ph, ph))
        p, R, Q = _patches(xp, KH, KW, sh, sw)
        Ho, Wo = p.shape[2], p.shape[3]
        cols = p.permute(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * KH * KW)
        g = dout.permute(0, 2, 3, 1).reshape(N * Ho * Wo, Fn)
        dw = (g.t() @ cols).reshape(Fn, C, KH, KW)
        db = g.sum(dim=0)
        dcols = (g @ w.reshape(Fn, -1)).reshape(N, Ho, Wo, C, KH, KW).permute(0, 3, 1, 2, 4, 5)
        n_idx = torch.arange(N, device=x.device).view(N, 1, 1, 1, 1, 1)
        c_idx = torch.arange(C, device=x.device).view(1, C, 1, 1, 1, 1)
        dxp = torch.zeros_like(xp)
        dxp.index_put_((n_idx, c_idx, R, Q), dcols, accumulate=True)
        return dxp[:, :, ph:ph + H, pw:pw + W].contiguous(), dw, db


    def maxpool2d_forward(x, kernel_size=2, stride=None):
        KH, KW = _pair(kernel_size)
        sh, sw = (KH, KW) if stride is None else _pair(stride)
        p, _, _ = _patches(x, KH, KW, sh, sw)
        return p.amax(dim=(4, 5))


    def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
        KH, KW = _pair(kernel_size)
        sh, sw = (KH, KW) if stride is None else _pair(stride)
        N, C = x.shape[:2]
        p, R, Q = _patches(x, KH, KW, sh, sw)
        Ho, Wo = p.shape[2], p.shape[3]
        first = p.reshape(N, C, Ho, Wo, KH * KW).argmax(dim=-1)     # first maximum, row-major
        onehot = F.one_hot(first, KH * KW).to(x.dtype) * dout[..., None]
        n_idx = torch.arange(N, device=x.device).view(N, 1, 1, 1, 1, 1)
        c_idx = torch.arange(C, device=x.device).view(1, C, 1, 1, 1, 1)
        dx = torch.zeros_like(x)
        dx.index_put_((n_idx, c_idx, R, Q), onehot.reshape(N, C, Ho, Wo, KH, KW), accumulate=True)
        return dx


    def sobel(images):
        k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                         dtype=images.dtype, device=images.device)
        out = conv2d_forward(images, torch.stack([k, k.T]).unsqueeze(1), images.new_zeros(2), padding=1)
        return out[:, 0:1], out[:, 1:2]


    def gradient_magnitude(gx, gy):
        return torch.sqrt(torch.square(gx) + torch.square(gy))
''')

# au100008: conv.py imports its own helper module utils.py from the same folder.
CORRECT_UTILS_HELPER = src('''
    """Small helpers for my week 4 code."""
    import torch


    def as_pair(v):
        if isinstance(v, (list, tuple)):
            assert len(v) == 2, "expected an (h, w) pair"
            return int(v[0]), int(v[1])
        return int(v), int(v)


    def out_size(n, k, s, p=0):
        """Output length of a sliding window: input n, window k, stride s, padding p."""
        return (n + 2 * p - k) // s + 1


    def zero_pad(x, ph, pw):
        """x [N, C, H, W] with ph zero rows on top and bottom and pw zero columns left and right."""
        n, c, h, w = x.shape
        rows = x.new_zeros(n, c, ph, w)
        x = torch.cat([rows, x, rows], dim=2)
        cols = x.new_zeros(n, c, h + 2 * ph, pw)
        return torch.cat([cols, x, cols], dim=3)
''')

CORRECT_UTILS = src('''
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
''')

# au100006: a Colab notebook (cells below). Unfold-based (Tensor.unfold, which is
# allowed: only F.unfold and nn.Unfold are banned). Around the functions: a pip cell,
# magics, markdown, top-level checks that call F.conv2d and F.max_pool2d, and a
# %%time training demo with prints. Intake must drop all of that and keep the
# imports, the constant SOBEL_X and the functions.
NOTEBOOK_CORRECT_CELLS = [
    ("markdown", "# Week 4: convolution from scratch\n\nStudent id: au100006\n\n"
                 "Implement the functions below, then run the demo at the end."),
    ("code", "!pip install torch --quiet"),
    ("code", "%matplotlib inline\nimport torch\nimport torch.nn.functional as F"),
    ("markdown", "## Helpers"),
    ("code", src('''
        SOBEL_X = [[-1, 0, 1],
                   [-2, 0, 2],
                   [-1, 0, 1]]


        def pair(v):
            """stride / padding / kernel size given as an int or an (h, w) pair"""
            if isinstance(v, (tuple, list)):
                return int(v[0]), int(v[1])
            return int(v), int(v)
    ''')),
    ("markdown", "## Convolution\n\n`Tensor.unfold(dim, size, step)` gives all the sliding windows along "
                 "one dimension, so two calls give every window of the padded image."),
    ("code", src('''
        def conv2d_forward(x, w, b, stride=1, padding=0):
            sh, sw = pair(stride)
            ph, pw = pair(padding)
            KH, KW = w.shape[-2:]
            xp = F.pad(x, (pw, pw, ph, ph))
            win = xp.unfold(2, KH, sh).unfold(3, KW, sw)          # [N, C, Ho, Wo, KH, KW]
            return torch.einsum("nchwij,fcij->nfhw", win, w) + b.view(1, -1, 1, 1)
    ''')),
    ("code", src('''
        x = torch.randn(2, 3, 7, 7)
        w = torch.randn(4, 3, 3, 3)
        b = torch.randn(4)
        print("max error vs F.conv2d:", (conv2d_forward(x, w, b, stride=2, padding=1)
                                         - F.conv2d(x, w, b, stride=2, padding=1)).abs().max().item())
    ''')),
    ("code", src('''
        def conv2d_backward(dout, x, w, b, stride=1, padding=0):
            sh, sw = pair(stride)
            ph, pw = pair(padding)
            H, W = x.shape[-2:]
            KH, KW = w.shape[-2:]
            Ho, Wo = dout.shape[-2:]
            xp = F.pad(x, (pw, pw, ph, ph))
            win = xp.unfold(2, KH, sh).unfold(3, KW, sw)
            dw = torch.einsum("nfhw,nchwij->fcij", dout, win)
            db = dout.sum(dim=(0, 2, 3))
            dwin = torch.einsum("nfhw,fcij->nchwij", dout, w)     # gradient of every window entry
            dxp = torch.zeros_like(xp)
            for i in range(KH):
                for j in range(KW):
                    dxp[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw] += dwin[..., i, j]
            return dxp[:, :, ph:ph + H, pw:pw + W].clone(), dw, db
    ''')),
    ("markdown", "## Max pooling\n\nTies: the gradient goes to the first maximum (row-major)."),
    ("code", src('''
        def maxpool2d_forward(x, kernel_size=2, stride=None):
            KH, KW = pair(kernel_size)
            sh, sw = pair(kernel_size if stride is None else stride)
            return x.unfold(2, KH, sh).unfold(3, KW, sw).amax(dim=(-2, -1))


        def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
            KH, KW = pair(kernel_size)
            sh, sw = pair(kernel_size if stride is None else stride)
            N, C, Ho, Wo = dout.shape
            dx = torch.zeros_like(x)
            for r in range(Ho):
                for c in range(Wo):
                    win = x[:, :, r * sh:r * sh + KH, c * sw:c * sw + KW].reshape(N, C, KH * KW)
                    k = win.argmax(dim=-1)                        # first maximum in row-major order
                    mask = F.one_hot(k, KH * KW).reshape(N, C, KH, KW).to(x.dtype)
                    dx[:, :, r * sh:r * sh + KH, c * sw:c * sw + KW] += mask * dout[:, :, r:r + 1, c:c + 1]
            return dx
    ''')),
    ("code", src('''
        x = torch.randn(1, 2, 6, 6)
        print(torch.equal(maxpool2d_forward(x, 3, 2), F.max_pool2d(x, 3, 2)))
    ''')),
    ("markdown", "## Sobel edges"),
    ("code", src('''
        def sobel(images):
            kx = torch.tensor(SOBEL_X, dtype=images.dtype, device=images.device)
            k = torch.stack([kx, kx.t()]).unsqueeze(1)            # [2, 1, 3, 3]
            g = conv2d_forward(images, k, torch.zeros(2, dtype=images.dtype, device=images.device), padding=1)
            return g[:, :1], g[:, 1:]


        def gradient_magnitude(gx, gy):
            return torch.sqrt(gx ** 2 + gy ** 2)
    ''')),
    ("markdown", "## Demo: learn the Sobel x-filter with gradient descent"),
    ("code", src('''
        %%time
        torch.manual_seed(0)
        img = torch.rand(4, 1, 16, 16)
        target, _ = sobel(img)
        w = 0.1 * torch.randn(1, 1, 3, 3)
        b = torch.zeros(1)
        lr = 0.1
        for step in range(301):
            out = conv2d_forward(img, w, b, padding=1)
            loss = ((out - target) ** 2).mean()
            dout = 2 * (out - target) / out.numel()
            _, dw, db = conv2d_backward(dout, img, w, b, padding=1)
            w -= lr * dw
            b -= lr * db
            if step % 50 == 0:
                print(f"step {step:3d}  loss {loss.item():.5f}")
        print(w.squeeze().round(decimals=2))
    ''')),
]

# What the notebook's cells printed when the student ran them (kept for realism).
NOTEBOOK_CORRECT_OUTPUTS = {
    7: "max error vs F.conv2d: 9.5367431640625e-07\n",
    11: "True\n",
    15: ("step   0  loss 1.64859\nstep  50  loss 0.15071\nstep 100  loss 0.01624\nstep 150  loss 0.00210\n"
         "step 200  loss 0.00037\nstep 250  loss 0.00010\nstep 300  loss 0.00003\n"
         "tensor([[-1.0000, -0.0100,  1.0000],\n        [-2.0000, -0.0100,  1.9900],\n"
         "        [-1.0000, -0.0100,  1.0000]])\nCPU times: user 1.02 s, sys: 12.1 ms, total: 1.03 s\n"
         "Wall time: 1.04 s\n"),
}


# =====================================================================================
# Four "student" modules from which the wrong, partial and broken entries are made.
# Each is correct as written here; an entry replaces one function with a buggy one.
# In these modules no function calls another graded function (except where a partial
# entry says so), so one bug costs exactly one function.
# =====================================================================================

# Student A: loops over kernel offsets, einsum per offset; the hint from the stub's docstring.
STUDENT_A = src('''
    # conv.py - week 4
    import torch
    import torch.nn.functional as F


    def _pair(v):
        if isinstance(v, (tuple, list)):
            return int(v[0]), int(v[1])
        return int(v), int(v)


    def conv2d_forward(x, w, b, stride=1, padding=0):
        sh, sw = _pair(stride)
        ph, pw = _pair(padding)
        N, C, H, W = x.shape
        F_, _, KH, KW = w.shape
        xp = F.pad(x, (pw, pw, ph, ph))  # left, right, top, bottom
        H_out = (xp.shape[2] - KH) // sh + 1
        W_out = (xp.shape[3] - KW) // sw + 1
        out = torch.zeros(N, F_, H_out, W_out, dtype=x.dtype, device=x.device)
        for i in range(KH):
            for j in range(KW):
                # every output position sees the input pixel (y*sh + i, x*sw + j) through w[:, :, i, j]
                xs = xp[:, :, i:i + sh * H_out:sh, j:j + sw * W_out:sw]
                out += torch.einsum("nchw,fc->nfhw", xs, w[:, :, i, j])
        out += b.view(1, -1, 1, 1)
        return out


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
''')

# Student B: loops over output positions with broadcasting; backward also loops over the batch.
STUDENT_B = src('''
    import torch


    def to_pair(v):
        if type(v) is int:
            return (v, v)
        return tuple(v)


    def pad_input(x, ph, pw):
        N, C, H, W = x.shape
        out = torch.zeros(N, C, H + 2 * ph, W + 2 * pw, dtype=x.dtype, device=x.device)
        out[:, :, ph:ph + H, pw:pw + W] = x
        return out


    def conv2d_forward(x, w, b, stride=1, padding=0):
        sh, sw = to_pair(stride)
        ph, pw = to_pair(padding)
        N, C, H, W = x.shape
        num_f, _, kh, kw = w.shape
        out_h = (H + 2 * ph - kh) // sh + 1
        out_w = (W + 2 * pw - kw) // sw + 1
        xp = pad_input(x, ph, pw)
        out = torch.zeros(N, num_f, out_h, out_w, dtype=x.dtype, device=x.device)
        for r in range(out_h):
            for c in range(out_w):
                patch = xp[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw]     # [N, C, kh, kw]
                # multiply every filter with the patch and add everything up
                out[:, :, r, c] = (patch[:, None] * w[None]).sum(dim=(2, 3, 4)) + b
        return out


    def conv2d_backward(dout, x, w, b, stride=1, padding=0):
        sh, sw = to_pair(stride)
        ph, pw = to_pair(padding)
        N, C, H, W = x.shape
        num_f, _, kh, kw = w.shape
        out_h, out_w = dout.shape[2], dout.shape[3]
        xp = pad_input(x, ph, pw)
        dxp = torch.zeros_like(xp)
        dw = torch.zeros_like(w)
        for n in range(N):
            for r in range(out_h):
                for c in range(out_w):
                    patch = xp[n, :, r * sh:r * sh + kh, c * sw:c * sw + kw]    # [C, kh, kw]
                    g = dout[n, :, r, c]                                         # [F]
                    dw += g[:, None, None, None] * patch[None]
                    dxp[n, :, r * sh:r * sh + kh, c * sw:c * sw + kw] += (g[:, None, None, None] * w).sum(dim=0)
        db = dout.sum(dim=(0, 2, 3))
        dx = dxp[:, :, ph:ph + H, pw:pw + W].clone()
        return dx, dw, db


    def maxpool2d_forward(x, kernel_size=2, stride=None):
        kh, kw = to_pair(kernel_size)
        if stride is None:
            stride = kernel_size
        sh, sw = to_pair(stride)
        N, C, H, W = x.shape
        out_h = (H - kh) // sh + 1
        out_w = (W - kw) // sw + 1
        out = torch.zeros(N, C, out_h, out_w, dtype=x.dtype, device=x.device)
        for r in range(out_h):
            for c in range(out_w):
                out[:, :, r, c] = x[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw].amax(dim=(2, 3))
        return out


    def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
        kh, kw = to_pair(kernel_size)
        if stride is None:
            stride = kernel_size
        sh, sw = to_pair(stride)
        N, C, out_h, out_w = dout.shape
        dx = torch.zeros_like(x)
        for r in range(out_h):
            for c in range(out_w):
                win = x[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw].reshape(N, C, -1)
                idx = win.argmax(dim=2)          # index of the first max in each window
                onehot = torch.zeros_like(win)
                onehot.scatter_(2, idx[..., None], 1.0)
                dx[:, :, r * sh:r * sh + kh, c * sw:c * sw + kw] += (onehot * dout[:, :, r, c, None]).reshape(N, C, kh, kw)
        return dx


    def sobel(images):
        kx = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]], dtype=images.dtype, device=images.device)
        ky = kx.t()
        N, _, H, W = images.shape
        p = pad_input(images, 1, 1)
        gx = torch.zeros_like(images)
        gy = torch.zeros_like(images)
        for r in range(H):
            for c in range(W):
                patch = p[:, 0, r:r + 3, c:c + 3]      # [N, 3, 3]
                gx[:, 0, r, c] = (patch * kx).sum(dim=(1, 2))
                gy[:, 0, r, c] = (patch * ky).sum(dim=(1, 2))
        return gx, gy


    def gradient_magnitude(gx, gy):
        return torch.sqrt(gx ** 2 + gy ** 2)
''')

# Student C: strided "taps" with tensordot; max-pool gradient by a scan with a strict >.
STUDENT_C = src('''
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
        return (gx * gx + gy * gy).sqrt()
''')

# Student D: all kernel taps stacked into one tensor, one einsum; Sobel reuses conv2d_forward.
STUDENT_D = src('''
    import torch
    import torch.nn.functional as F


    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)


    def _stack_taps(xp, KH, KW, sh, sw):
        Ho = (xp.shape[-2] - KH) // sh + 1
        Wo = (xp.shape[-1] - KW) // sw + 1
        taps = [xp[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]
                for i in range(KH) for j in range(KW)]
        return torch.stack(taps, dim=2)                    # [N, C, KH*KW, Ho, Wo]


    def conv2d_forward(x, w, b, stride=1, padding=0):
        (sh, sw), (ph, pw) = pair(stride), pair(padding)
        F_, C, KH, KW = w.shape
        cols = _stack_taps(F.pad(x, [pw, pw, ph, ph]), KH, KW, sh, sw)
        out = torch.einsum("nckhw,fck->nfhw", cols, w.reshape(F_, C, KH * KW))
        return out + b[None, :, None, None]


    def conv2d_backward(dout, x, w, b, stride=1, padding=0):
        (sh, sw), (ph, pw) = pair(stride), pair(padding)
        N, C, H, W = x.shape
        F_, _, KH, KW = w.shape
        Ho, Wo = dout.shape[-2:]
        xp = F.pad(x, [pw, pw, ph, ph])
        cols = _stack_taps(xp, KH, KW, sh, sw)
        db = dout.sum((0, 2, 3))
        dw = torch.einsum("nfhw,nckhw->fck", dout, cols).reshape(w.shape)
        dcols = torch.einsum("nfhw,fck->nckhw", dout, w.reshape(F_, C, KH * KW))
        dxp = torch.zeros_like(xp)
        for k in range(KH * KW):
            i, j = divmod(k, KW)
            dxp[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw] += dcols[:, :, k]
        return dxp[:, :, ph:ph + H, pw:pw + W], dw, db


    def maxpool2d_forward(x, kernel_size=2, stride=None):
        KH, KW = pair(kernel_size)
        sh, sw = pair(stride or kernel_size)
        return _stack_taps(x, KH, KW, sh, sw).amax(dim=2)


    def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
        KH, KW = pair(kernel_size)
        sh, sw = pair(stride or kernel_size)
        Ho, Wo = dout.shape[-2:]
        arg = _stack_taps(x, KH, KW, sh, sw).argmax(dim=2)      # the first maximum wins a tie
        dx = torch.zeros_like(x)
        for k in range(KH * KW):
            i, j = divmod(k, KW)
            dx[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw] += dout * (arg == k)
        return dx


    def sobel(images):
        gx_k = torch.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=images.dtype, device=images.device)
        k = torch.stack([gx_k, gx_k.T])[:, None]
        out = conv2d_forward(images, k, torch.zeros(2, dtype=images.dtype, device=images.device), 1, 1)
        return out[:, :1], out[:, 1:]


    def gradient_magnitude(gx, gy):
        return torch.sqrt(gx * gx + gy * gy)
''')


# =====================================================================================
# Turning a student module into a buggy or unfinished one.
# =====================================================================================

def _top_function(tree: ast.Module, name: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise KeyError(f"no top-level function {name}")


def replace_function(source: str, new_def: str) -> str:
    """source with the top-level function named in new_def replaced by new_def."""
    new_def = src(new_def).rstrip("\n") + "\n"
    name = ast.parse(new_def).body[0].name
    node = _top_function(ast.parse(source), name)
    lines = source.splitlines(keepends=True)
    return "".join(lines[:node.lineno - 1]) + new_def + "".join(lines[node.end_lineno:])


def replace_text(source: str, old: str, new: str) -> str:
    """source with the one occurrence of old replaced by new."""
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times"
    return source.replace(old, new)


def stub(source: str, *names: str) -> str:
    """Bodies of the named functions replaced by the release stub's TODO + NotImplementedError."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in sorted((_top_function(tree, n) for n in names), key=lambda n: -n.lineno):
        first = node.body[0]
        has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
            first.value.value, str)
        start = first.end_lineno if has_doc else node.lineno          # keep the def line and docstring
        body = f'    # TODO: your code here\n    raise NotImplementedError("{node.name}")\n'
        lines[start:node.end_lineno] = [body]
    return "".join(lines)


def remove_function(source: str, name: str) -> str:
    node = _top_function(ast.parse(source), name)
    lines = source.splitlines(keepends=True)
    end = node.end_lineno
    while end < len(lines) and not lines[end].strip():
        end += 1
    return "".join(lines[:node.lineno - 1] + lines[end:])


# =====================================================================================
# The class.
# =====================================================================================

@dataclass
class Entry:
    student: str
    form: str                  # "folder", "ipynb", "zip" (made like dlgrade submit), "raw" (bytes as given)
    kind: str                  # correct | wrong | partial | broken
    broken: list[str]          # functions that must lose points
    note: str
    files: dict[str, str] = field(default_factory=dict)        # folder / zip: name -> text
    cells: list = field(default_factory=list)                 # ipynb: (cell type, source)
    outputs: dict = field(default_factory=dict)               # ipynb: cell index -> printed text
    raw: bytes = b""                                          # raw: the file's bytes
    suffix: str = ""                                          # raw: ".ipynb" or ".zip"
    gradable: bool = True

    @property
    def name(self) -> str:
        return {"folder": f"{self.student}/", "ipynb": f"{self.student}.ipynb",
                "zip": f"{self.student}.zip", "raw": f"{self.student}{self.suffix}"}[self.form]


def notebook_cells_from_module(source: str, title: str, tail: list) -> list:
    """Cells a student might have: title, pip, imports with a magic, one cell per function, then `tail`."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    imports, blocks = [], []
    for i, node in enumerate(tree.body):
        end = tree.body[i + 1].lineno - 1 if i + 1 < len(tree.body) else len(lines)
        text = "".join(lines[node.lineno - 1:end]).strip("\n")
        (imports if isinstance(node, (ast.Import, ast.ImportFrom)) else blocks).append((node, text))
    cells = [("markdown", title), ("code", "!pip install -q torch torchvision"),
             ("code", "%load_ext autoreload\n%autoreload 2\n" + "\n".join(t for _, t in imports))]
    for node, text in blocks:
        if isinstance(node, ast.FunctionDef) and node.name in FUNCTIONS:
            cells.append(("markdown", f"### `{node.name}`"))
        cells.append(("code", text))
    return cells + tail


def notebook_json(cells: list, outputs: dict | None = None) -> str:
    """An nbformat 4.5 notebook as nbformat would write it (indent 1, sorted keys)."""
    outputs = outputs or {}
    nb_cells, count = [], 0
    for k, (kind, text) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"c{k:03d}", "metadata": {}, "source": text.splitlines(keepends=True)}
        if kind == "code":
            count += 1
            cell["execution_count"] = count
            cell["outputs"] = ([{"name": "stdout", "output_type": "stream",
                                 "text": outputs[k].splitlines(keepends=True)}] if k in outputs else [])
        nb_cells.append(cell)
    nb = {"cells": nb_cells,
          "metadata": {"colab": {"provenance": []},
                       "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                       "language_info": {"name": "python", "version": "3.11.9"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def submit_zip(student: str, files: dict[str, str]) -> bytes:
    """The zip `dlgrade submit` makes: the .py files plus manifest.json (fixed timestamps)."""
    import io

    names = sorted(n for n in files if n.endswith(".py"))
    manifest = {"student": student, "week": "week04",
                "files": {n: hashlib.sha256(files[n].encode()).hexdigest() for n in names},
                "created": CREATED, "dlgrade_version": DLGRADE_VERSION}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in [(n, files[n]) for n in names] + [("manifest.json", json.dumps(manifest, indent=2))]:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text)
    return buf.getvalue()


ALL = list(FUNCTIONS)


def build_class() -> list[Entry]:
    e: list[Entry] = []

    # ------------------------------------------------------------------ correct
    e.append(Entry("au100001", "folder", "correct", [], "naive loops: six nested loops for the convolution, "
                   "a Python scan for the first maximum", files={"conv.py": CORRECT_NAIVE}))
    e.append(Entry("au100002", "folder", "correct", [], "loop over output positions, einsum per position; "
                   "max-pool gradient by argmax + scatter_; sobel through its own conv2d_forward; hypot",
                   files={"conv.py": CORRECT_POSITIONS}))
    e.append(Entry("au100003", "folder", "correct", [], "loop over the KH x KW kernel offsets (strided slices "
                   "times a matrix); first tied maximum by cumsum; returns dx as a non-contiguous view",
                   files={"conv.py": CORRECT_OFFSETS}))
    e.append(Entry("au100004", "folder", "correct", [], "as_strided windows + tensordot; dx by index_add_, "
                   "max-pool gradient by scatter_add_; separable Sobel", files={"conv.py": CORRECT_STRIDED}))
    e.append(Entry("au100005", "folder", "correct", [], "im2col correlation; backward by the transposed "
                   "relations (dx = full correlation of the dilated dout with the flipped kernel)",
                   files={"conv.py": CORRECT_TRANSPOSED}))
    e.append(Entry("au100006", "ipynb", "correct", [], "Colab notebook using Tensor.unfold (allowed); intake "
                   "must drop !pip, %matplotlib, %%time, the top-level checks that call F.conv2d and "
                   "F.max_pool2d, the training demo and its prints, and keep the constant SOBEL_X",
                   cells=NOTEBOOK_CORRECT_CELLS, outputs=NOTEBOOK_CORRECT_OUTPUTS))
    e.append(Entry("au100007", "zip", "correct", [], "zip made like dlgrade submit (conv.py + manifest.json); "
                   "im2col by advanced indexing, backward by index_put_(accumulate=True)",
                   files={"conv.py": CORRECT_GATHER}))
    e.append(Entry("au100008", "folder", "correct", [], "conv.py imports its own helper module utils.py "
                   "from the same folder", files={"conv.py": CORRECT_UTILS, "utils.py": CORRECT_UTILS_HELPER}))

    # ------------------------------------------------------------------ wrong: one function each
    flipped = replace_text(
        STUDENT_A,
        '    for i in range(KH):\n        for j in range(KW):\n'
        '            # every output position sees the input pixel (y*sh + i, x*sw + j) through w[:, :, i, j]\n'
        '            xs = xp[:, :, i:i + sh * H_out:sh, j:j + sw * W_out:sw]\n'
        '            out += torch.einsum("nchw,fc->nfhw", xs, w[:, :, i, j])\n',
        '    wf = torch.flip(w, dims=(2, 3))  # convolution flips the kernel\n'
        '    for i in range(KH):\n        for j in range(KW):\n'
        '            xs = xp[:, :, i:i + sh * H_out:sh, j:j + sw * W_out:sw]\n'
        '            out += torch.einsum("nchw,fc->nfhw", xs, wf[:, :, i, j])\n')
    e.append(Entry("au100009", "folder", "wrong", ["conv2d_forward"],
                   "conv2d_forward flips the kernel (true convolution, not cross-correlation)",
                   files={"conv.py": flipped}))

    one_sided = replace_text(STUDENT_A, "xp = F.pad(x, (pw, pw, ph, ph))  # left, right, top, bottom",
                             "xp = F.pad(x, (pw, 0, ph, 0))  # zeros on the left and on top")
    e.append(Entry("au100010", "folder", "wrong", ["conv2d_forward"],
                   "conv2d_forward pads only the top and the left: outputs too small whenever padding > 0",
                   files={"conv.py": one_sided}))

    off_by_one = replace_text(replace_text(
        STUDENT_A, "H_out = (xp.shape[2] - KH) // sh + 1", "H_out = (xp.shape[2] - KH + 1) // sh"),
        "W_out = (xp.shape[3] - KW) // sw + 1", "W_out = (xp.shape[3] - KW + 1) // sw")
    e.append(Entry("au100011", "zip", "wrong", ["conv2d_forward"],
                   "conv2d_forward output size (H + 2p - K + 1) // s: right for stride 1, one short for some "
                   "strides > 1", files={"conv.py": off_by_one}))

    no_stride_back = replace_function(STUDENT_B, '''
        def conv2d_backward(dout, x, w, b, stride=1, padding=0):
            ph, pw = to_pair(padding)
            N, C, H, W = x.shape
            num_f, _, kh, kw = w.shape
            out_h, out_w = dout.shape[2], dout.shape[3]
            xp = pad_input(x, ph, pw)
            dxp = torch.zeros_like(xp)
            dw = torch.zeros_like(w)
            for n in range(N):
                for r in range(out_h):
                    for c in range(out_w):
                        patch = xp[n, :, r:r + kh, c:c + kw]                          # [C, kh, kw]
                        g = dout[n, :, r, c]                                         # [F]
                        dw += g[:, None, None, None] * patch[None]
                        dxp[n, :, r:r + kh, c:c + kw] += (g[:, None, None, None] * w).sum(dim=0)
            db = dout.sum(dim=(0, 2, 3))
            dx = dxp[:, :, ph:ph + H, pw:pw + W].clone()
            return dx, dw, db
    ''')
    e.append(Entry("au100012", "folder", "wrong", ["conv2d_backward"],
                   "conv2d_backward ignores the stride (windows at r, c instead of r*sh, c*sw); right for stride 1",
                   files={"conv.py": no_stride_back}))

    db_only_n = replace_text(STUDENT_B, "    db = dout.sum(dim=(0, 2, 3))\n",
                             "    db = dout.sum(dim=0)  # sum over the batch\n")
    e.append(Entry("au100013", "folder", "wrong", ["conv2d_backward"],
                   "conv2d_backward sums db over the batch only: shape [F, H_out, W_out] instead of [F]",
                   files={"conv.py": db_only_n}))

    dw_last_sample = replace_text(
        STUDENT_B, "    dw = torch.zeros_like(w)\n    for n in range(N):\n",
        "    for n in range(N):\n        dw = torch.zeros_like(w)  # gradient for this image\n")
    e.append(Entry("au100014", "ipynb", "wrong", ["conv2d_backward"],
                   "notebook; conv2d_backward resets dw for every image, so dw holds only the last sample",
                   cells=notebook_cells_from_module(dw_last_sample, "# Week 4 - convolution\nau100014", [
                       ("markdown", "### Quick check"),
                       ("code", "x = torch.randn(2, 3, 5, 5)\nw = torch.randn(4, 3, 3, 3)\nb = torch.randn(4)\n"
                                "dx, dw, db = conv2d_backward(torch.ones(2, 4, 3, 3), x, w, b)\n"
                                "print(dx.shape, dw.shape, db.shape)")]),
                   outputs={}))

    all_ties = replace_function(STUDENT_C, '''
        def maxpool2d_backward(dout, x, kernel_size=2, stride=None):
            kh, kw = _as_tuple(kernel_size)
            sh, sw = _as_tuple(kernel_size if stride is None else stride)
            ho, wo = dout.shape[-2:]
            m = maxpool2d_forward(x, kernel_size, stride)
            dx = torch.zeros_like(x)
            for i in range(kh):
                for j in range(kw):
                    t = _taps(x, i, j, sh, sw, ho, wo)
                    # the gradient goes where the input equals the window's maximum
                    _taps(dx, i, j, sh, sw, ho, wo).add_(dout * (t == m))
            return dx
    ''')
    e.append(Entry("au100015", "folder", "wrong", ["maxpool2d_backward"],
                   "maxpool2d_backward sends the gradient to every tied maximum (mask x == max); right "
                   "without ties", files={"conv.py": all_ties}))

    last_tie = replace_text(replace_text(
        STUDENT_C, "    # scan each window in row-major order and remember where its maximum is;\n"
                   "    # a strict > keeps the first of several equal maxima\n",
        "    # scan each window and remember where its maximum is\n"),
        "bigger = v > best", "bigger = v >= best")
    e.append(Entry("au100016", "folder", "wrong", ["maxpool2d_backward"],
                   "maxpool2d_backward scans with >= so a tie goes to the last maximum; right without ties",
                   files={"conv.py": last_tie}))

    pool_stride = replace_text(
        STUDENT_B, "    kh, kw = to_pair(kernel_size)\n    if stride is None:\n        stride = kernel_size\n"
                   "    sh, sw = to_pair(stride)\n    N, C, H, W = x.shape\n",
        "    kh, kw = to_pair(kernel_size)\n    stride = kernel_size  # the windows do not overlap\n"
        "    sh, sw = to_pair(stride)\n    N, C, H, W = x.shape\n")
    e.append(Entry("au100017", "folder", "wrong", ["maxpool2d_forward"],
                   "maxpool2d_forward always uses stride = kernel_size, even when a stride is given",
                   files={"conv.py": pool_stride}))

    swapped = replace_text(STUDENT_A, "            gx = gx + SOBEL_X[i][j] * win\n            gy = gy + SOBEL_X[j][i] * win\n",
                           "            gx = gx + SOBEL_X[j][i] * win\n            gy = gy + SOBEL_X[i][j] * win\n")
    e.append(Entry("au100018", "zip", "wrong", ["sobel"], "sobel returns gx and gy swapped",
                   files={"conv.py": swapped}))

    sobel_valid = replace_function(STUDENT_B, '''
        def sobel(images):
            kx = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]], dtype=images.dtype, device=images.device)
            ky = kx.t()
            N, _, H, W = images.shape
            gx = torch.zeros(N, 1, H - 2, W - 2, dtype=images.dtype, device=images.device)
            gy = torch.zeros(N, 1, H - 2, W - 2, dtype=images.dtype, device=images.device)
            for r in range(H - 2):
                for c in range(W - 2):
                    patch = images[:, 0, r:r + 3, c:c + 3]      # [N, 3, 3]
                    gx[:, 0, r, c] = (patch * kx).sum(dim=(1, 2))
                    gy[:, 0, r, c] = (patch * ky).sum(dim=(1, 2))
            return gx, gy
    ''')
    e.append(Entry("au100019", "folder", "wrong", ["sobel"],
                   "sobel without padding: outputs [N, 1, H-2, W-2] (and an error on 1x1 images)",
                   files={"conv.py": sobel_valid}))

    no_sqrt = replace_function(STUDENT_C, '''
        def gradient_magnitude(gx, gy):
            return gx * gx + gy * gy
    ''')
    e.append(Entry("au100020", "folder", "wrong", ["gradient_magnitude"],
                   "gradient_magnitude forgets the square root", files={"conv.py": no_sqrt}))

    float32_out = replace_text(STUDENT_A, "    out = torch.zeros(N, F_, H_out, W_out, dtype=x.dtype, device=x.device)\n",
                               "    out = torch.zeros(N, F_, H_out, W_out)\n")
    e.append(Entry("au100021", "folder", "wrong", ["conv2d_forward"],
                   "conv2d_forward accumulates into torch.zeros without dtype: float64 input gives a float32 "
                   "result (dtype lost, values rounded to float32); float32 input is right", files={"conv.py": float32_out}))

    in_place = replace_function(STUDENT_A, '''
        def conv2d_forward(x, w, b, stride=1, padding=0):
            sh, sw = _pair(stride)
            ph, pw = _pair(padding)
            N, C, H, W = x.shape
            F_, _, KH, KW = w.shape
            scale = x.abs().max()
            x /= scale          # work with values in [-1, 1] while summing
            xp = F.pad(x, (pw, pw, ph, ph))  # left, right, top, bottom
            H_out = (xp.shape[2] - KH) // sh + 1
            W_out = (xp.shape[3] - KW) // sw + 1
            out = torch.zeros(N, F_, H_out, W_out, dtype=x.dtype, device=x.device)
            for i in range(KH):
                for j in range(KW):
                    xs = xp[:, :, i:i + sh * H_out:sh, j:j + sw * W_out:sw]
                    out += torch.einsum("nchw,fc->nfhw", xs, w[:, :, i, j])
            x * scale           # undo the scaling
            return out * scale + b.view(1, -1, 1, 1)
    ''')
    e.append(Entry("au100022", "folder", "wrong", ["conv2d_forward"],
                   "conv2d_forward divides x in place (x /= scale) and never restores it (`x * scale` is "
                   "discarded); its output is right, the caller's x is changed", files={"conv.py": in_place}))

    uses_conv2d = replace_function(STUDENT_A, '''
        def conv2d_forward(x, w, b, stride=1, padding=0):
            # TODO write the loops; F.conv2d for now so that the rest can be tested
            return F.conv2d(x, w, b, stride=_pair(stride), padding=_pair(padding))
    ''')
    e.append(Entry("au100023", "folder", "wrong", ["conv2d_forward"],
                   "conv2d_forward calls F.conv2d (banned); values right, must score 0 as banned",
                   files={"conv.py": uses_conv2d}))

    uses_autograd = replace_function(STUDENT_C, '''
        def conv2d_backward(dout, x, w, b, stride=1, padding=0):
            # my forward pass is differentiable, so let autograd do the work
            x_ = x.detach().clone().requires_grad_(True)
            w_ = w.detach().clone().requires_grad_(True)
            b_ = b.detach().clone().requires_grad_(True)
            out = conv2d_forward(x_, w_, b_, stride, padding)
            dx, dw, db = torch.autograd.grad(out, (x_, w_, b_), grad_outputs=dout)
            return dx, dw, db
    ''')
    e.append(Entry("au100024", "folder", "wrong", ["conv2d_backward"],
                   "conv2d_backward uses torch.autograd.grad through its own forward (banned in the backward "
                   "functions); values right, must score 0 as banned", files={"conv.py": uses_autograd}))

    # ------------------------------------------------------------------ partial
    e.append(Entry("au100025", "folder", "partial",
                   ["conv2d_backward", "maxpool2d_backward", "sobel", "gradient_magnitude"],
                   "only the two forward passes done; the other four raise NotImplementedError",
                   files={"conv.py": stub(STUDENT_B, "conv2d_backward", "maxpool2d_backward", "sobel",
                                          "gradient_magnitude")}))
    e.append(Entry("au100026", "folder", "partial", ["conv2d_backward", "maxpool2d_forward", "maxpool2d_backward"],
                   "conv2d_forward, sobel and gradient_magnitude done; conv2d_backward and both max-pool "
                   "functions raise NotImplementedError",
                   files={"conv.py": stub(STUDENT_A, "conv2d_backward", "maxpool2d_forward", "maxpool2d_backward")}))
    e.append(Entry("au100027", "zip", "partial",
                   ["conv2d_backward", "maxpool2d_forward", "maxpool2d_backward", "sobel"],
                   "zip made like dlgrade submit; only conv2d_forward and gradient_magnitude done, the rest raise "
                   "NotImplementedError",
                   files={"conv.py": stub(STUDENT_C, "conv2d_backward", "maxpool2d_forward", "maxpool2d_backward",
                                          "sobel")}))
    e.append(Entry("au100028", "folder", "partial", ["conv2d_forward", "conv2d_backward", "sobel"],
                   "both convolution functions raise NotImplementedError; sobel calls conv2d_forward, so it "
                   "fails too; max-pooling and gradient_magnitude done",
                   files={"conv.py": stub(STUDENT_D, "conv2d_forward", "conv2d_backward")}))

    # ------------------------------------------------------------------ broken
    e.append(Entry("au100029", "folder", "broken", ALL,
                   "syntax error (a for without its colon in maxpool2d_backward): gradable, scores 0 everywhere",
                   files={"conv.py": replace_text(STUDENT_A, "    for k in range(KH * KW):\n",
                                                  "    for k in range(KH * KW)\n")}))
    e.append(Entry("au100030", "folder", "broken", ["maxpool2d_backward"],
                   "maxpool2d_backward is not defined; the other five are right",
                   files={"conv.py": remove_function(STUDENT_B, "maxpool2d_backward")}))
    e.append(Entry("au100031", "folder", "broken", ["conv2d_backward"],
                   "conv2d_backward returns a list [dx, dw] (db forgotten) instead of the tuple (dx, dw, db)",
                   files={"conv.py": replace_text(STUDENT_B, "    return dx, dw, db\n",
                                                  "    return [dx, dw]\n")}))

    numpy_back = replace_function(STUDENT_C, '''
        def conv2d_backward(dout, x, w, b, stride=1, padding=0):
            # easier to think about in numpy
            sh, sw = _as_tuple(stride)
            ph, pw = _as_tuple(padding)
            d, xn, wn = dout.numpy(), x.numpy(), w.numpy()
            f, c, kh, kw = wn.shape
            ho, wo = d.shape[2], d.shape[3]
            xp = np.pad(xn, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
            dxp = np.zeros_like(xp)
            dw = np.zeros_like(wn)
            for r in range(ho):
                for s in range(wo):
                    win = xp[:, :, r * sh:r * sh + kh, s * sw:s * sw + kw]
                    dw += np.einsum("nf,nchw->fchw", d[:, :, r, s], win)
                    dxp[:, :, r * sh:r * sh + kh, s * sw:s * sw + kw] += np.einsum("nf,fchw->nchw", d[:, :, r, s], wn)
            db = d.sum(axis=(0, 2, 3))
            dx = dxp[:, :, ph:ph + xn.shape[2], pw:pw + xn.shape[3]]
            return dx, dw, db
    ''')
    numpy_back = replace_text(numpy_back, '"""Week 4 (conv.py)."""\nimport torch\n',
                              '"""Week 4 (conv.py)."""\nimport numpy as np\nimport torch\n')
    e.append(Entry("au100032", "folder", "broken", ["conv2d_backward"],
                   "conv2d_backward computes in numpy and returns numpy arrays, not tensors (values right)",
                   files={"conv.py": numpy_back}))

    truncated_nb = notebook_json(notebook_cells_from_module(STUDENT_D, "# Week 4\nau100033", []))
    e.append(Entry("au100033", "raw", "broken", ALL,
                   "notebook cut off in the middle of a cell (the upload stopped): not valid JSON, not gradable",
                   raw=truncated_nb[:len(truncated_nb) * 2 // 3].encode(), suffix=".ipynb", gradable=False))

    whole_zip = submit_zip("au100034", {"conv.py": STUDENT_D})
    e.append(Entry("au100034", "raw", "broken", ALL,
                   "zip truncated to 60% of its bytes (no central directory): not gradable",
                   raw=whole_zip[:len(whole_zip) * 3 // 5], suffix=".zip", gradable=False))

    missing_module = replace_text(STUDENT_A, "import torch.nn.functional as F\n",
                                  "import torch.nn.functional as F\nfrom im2col import im2col_indices\n")
    missing_module = replace_function(missing_module, '''
        def conv2d_forward(x, w, b, stride=1, padding=0):
            sh, sw = _pair(stride)
            ph, pw = _pair(padding)
            N, C, H, W = x.shape
            F_, _, KH, KW = w.shape
            H_out = (H + 2 * ph - KH) // sh + 1
            W_out = (W + 2 * pw - KW) // sw + 1
            cols = im2col_indices(x, KH, KW, padding=(ph, pw), stride=(sh, sw))   # [C*KH*KW, N*H_out*W_out]
            out = w.reshape(F_, -1) @ cols + b.reshape(-1, 1)
            return out.reshape(F_, H_out, W_out, N).permute(3, 0, 1, 2)
    ''')
    e.append(Entry("au100035", "folder", "broken", ALL,
                   "imports im2col, a helper module that was not handed in: ModuleNotFoundError on import, "
                   "gradable, scores 0 everywhere", files={"conv.py": missing_module}))

    endless = replace_function(STUDENT_B, '''
        def sobel(images):
            kx = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]], dtype=images.dtype, device=images.device)
            ky = kx.t()
            N, _, H, W = images.shape
            p = pad_input(images, 1, 1)
            gx = torch.zeros_like(images)
            gy = torch.zeros_like(images)
            r = 0
            while r < H:
                c = 0
                while c < W:
                    patch = p[:, 0, r:r + 3, c:c + 3]
                    gx[:, 0, r, c] = (patch * kx).sum(dim=(1, 2))
                    gy[:, 0, r, c] = (patch * ky).sum(dim=(1, 2))
                    c += 1
            return gx, gy
    ''')
    e.append(Entry("au100036", "folder", "broken", ["sobel"],
                   "sobel never increments its row counter: an endless loop; only the sobel tests may time "
                   "out, the other five are right", files={"conv.py": endless}))
    return e


# =====================================================================================
# Writing it out.
# =====================================================================================

def toml_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)    # a JSON string is a valid TOML basic string


def write_expected(entries: list[Entry]) -> str:
    out = ["# What each sample submission in this folder must score under `dlgrade grade week04`.",
           "# Written by ../make_week04_samples.py; do not edit by hand, change the generator.",
           "#",
           "# [<entry>]          the folder (with /), .ipynb or .zip name",
           "# kind              correct | wrong | partial | broken",
           "# broken_functions  the functions that must lose points (all six when nothing can be graded);",
           "#                   every other function must score full marks",
           "# gradable          false only where intake cannot read the submission (status not_gradable)",
           "# note              what is wrong, in one line", ""]
    for en in entries:
        out += [f"[{toml_string(en.name)}]",
                f"kind = {toml_string(en.kind)}",
                "broken_functions = [" + ", ".join(toml_string(f) for f in en.broken) + "]",
                f"gradable = {'true' if en.gradable else 'false'}",
                f"note = {toml_string(en.note)}", ""]
    return "\n".join(out)


def main() -> None:
    entries = build_class()
    assert len({en.student for en in entries}) == len(entries), "student ids must be unique"
    for en in entries:
        assert set(en.broken) <= set(FUNCTIONS), en.broken
        for name, text in en.files.items():
            if name.endswith(".py") and en.student != "au100029":
                compile(text, f"{en.student}/{name}", "exec")      # only the syntax-error entry may fail
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    for en in entries:
        if en.form == "folder":
            folder = OUT / en.student
            folder.mkdir()
            for name, text in sorted(en.files.items()):
                (folder / name).write_text(text)
        elif en.form == "ipynb":
            (OUT / en.name).write_text(notebook_json(en.cells, en.outputs))
        elif en.form == "zip":
            (OUT / en.name).write_bytes(submit_zip(en.student, en.files))
        else:
            (OUT / en.name).write_bytes(en.raw)
    (OUT / "EXPECTED.toml").write_text(write_expected(entries))
    print(f"wrote {len(entries)} submissions and EXPECTED.toml to {OUT}")


if __name__ == "__main__":
    main()
