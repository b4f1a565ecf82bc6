"""The student's own layer classes, kept in a file of their own."""
"""Layers as classes with forward/backward methods and a cache (a correct submission)."""

import torch
import torch.nn.functional as F


def _pair(v):
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


class Conv:
    @staticmethod
    def forward(x, w, b, conv_param):
        (sh, sw), (ph, pw) = conv_param["stride"], conv_param["pad"]
        xp = F.pad(x, (pw, pw, ph, ph))
        cols = xp.unfold(2, w.shape[2], sh).unfold(3, w.shape[3], sw)
        out = torch.einsum("nchwij,fcij->nfhw", cols, w) + b.view(1, -1, 1, 1)
        return out, (x, w, b, conv_param)

    @staticmethod
    def backward(dout, cache):
        x, w, b, conv_param = cache
        (sh, sw), (ph, pw) = conv_param["stride"], conv_param["pad"]
        H, W = x.shape[2:]
        KH, KW = w.shape[2:]
        Ho, Wo = dout.shape[2:]
        xp = F.pad(x, (pw, pw, ph, ph))
        dw = torch.einsum("nfhw,nchwij->fcij", dout, xp.unfold(2, KH, sh).unfold(3, KW, sw))
        dxp = torch.zeros_like(xp)
        for i in range(KH):
            for j in range(KW):
                dxp[:, :, i : i + sh * (Ho - 1) + 1 : sh, j : j + sw * (Wo - 1) + 1 : sw] += torch.einsum(
                    "nfhw,fc->nchw", dout, w[:, :, i, j])
        return dxp[:, :, ph : ph + H, pw : pw + W].clone(), dw, dout.sum((0, 2, 3))


class MaxPool:
    def __init__(self, kernel_size, stride):
        self.k = _pair(kernel_size)
        self.s = _pair(kernel_size if stride is None else stride)

    def forward(self, x):
        out = x.unfold(2, self.k[0], self.s[0]).unfold(3, self.k[1], self.s[1]).amax((-2, -1))
        return out, (x,)

    def backward(self, dout, cache):
        (x,) = cache
        (KH, KW), (sh, sw) = self.k, self.s
        Ho, Wo = dout.shape[2:]
        win = x.unfold(2, KH, sh).unfold(3, KW, sw)
        first = win.reshape(*win.shape[:4], KH * KW).argmax(-1)
        dx = torch.zeros_like(x)
        for i in range(KH):
            for j in range(KW):
                dx[:, :, i : i + sh * (Ho - 1) + 1 : sh, j : j + sw * (Wo - 1) + 1 : sw] += dout * (first == i * KW + j)
        return dx


