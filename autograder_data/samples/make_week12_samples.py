#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week12/: a sample class for week12 (`attention.py`).

    python autograder_data/samples/make_week12_samples.py

Deterministic (running it twice gives the same bytes); standard library only.

- correct (au120001-au120005): plain loops over the heads, the patches and the positions;
  vectorised with einsum, unflatten and torch.where; a helper module of its own with an
  attention function computing in float64 and casting back; a notebook; a zip.
- wrong (au120006-au120010): one function broken the way students do (no 1/sqrt(E); the
  heads split by a straight reshape; patches flattened (P, P, C); sin and cos concatenated;
  F.unfold, banned).
- partial (au120011): two functions still raise NotImplementedError.
- broken (au120012-au120014): a syntax error, a missing function, an endless loop.
"""

from __future__ import annotations

from pathlib import Path

from samplekit import Entry, notebook_cells_from_module, remove_function, replace_function, replace_text, src, \
    stub, write_class

HERE = Path(__file__).resolve().parent
WEEK = "week12"
FUNCTIONS = ["scaled_dot_product_attention", "MultiHeadSelfAttention", "patchify", "PatchEmbedding",
             "sinusoidal_position_encoding"]
ALL = list(FUNCTIONS)

LOOPS = src('''
    import math

    import torch
    from torch import nn


    def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False):
        L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(E)
        allowed = torch.ones(L, S, dtype=torch.bool, device=q.device)
        for l in range(L):
            for s in range(S):
                if is_causal and s > l:
                    allowed[l, s] = False
        if attn_mask is not None:
            allowed = allowed & attn_mask
        scores = scores.masked_fill(~allowed, float("-inf"))
        scores = scores - scores.max(dim=-1, keepdim=True).values
        e = torch.exp(scores)
        weights = e / e.sum(dim=-1, keepdim=True)
        return torch.matmul(weights, v), weights


    class MultiHeadSelfAttention(nn.Module):
        def __init__(self, embed_dim, num_heads):
            super().__init__()
            self.num_heads = num_heads
            self.head_dim = embed_dim // num_heads
            self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
            self.proj = nn.Linear(embed_dim, embed_dim)

        def forward(self, x, attn_mask=None):
            E = x.shape[-1]
            d = self.head_dim
            qkv = self.qkv(x)
            q, k, v = qkv[..., :E], qkv[..., E:2 * E], qkv[..., 2 * E:]
            heads = []
            for h in range(self.num_heads):
                sl = slice(h * d, (h + 1) * d)
                s = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(d)
                if attn_mask is not None:
                    s = s.masked_fill(~attn_mask, float("-inf"))
                heads.append(torch.softmax(s, dim=-1) @ v[..., sl])
            return self.proj(torch.cat(heads, dim=-1))


    def patchify(images, patch_size):
        N, C, H, W = images.shape
        P = patch_size
        out = []
        for r in range(H // P):
            for c in range(W // P):
                out.append(images[:, :, r * P:(r + 1) * P, c * P:(c + 1) * P].reshape(N, -1))
        return torch.stack(out, dim=1)


    class PatchEmbedding(nn.Module):
        def __init__(self, in_channels, patch_size, embed_dim):
            super().__init__()
            self.patch_size = patch_size
            self.proj = nn.Linear(in_channels * patch_size * patch_size, embed_dim)

        def forward(self, x):
            return self.proj(patchify(x, self.patch_size))


    def sinusoidal_position_encoding(num_positions, dim):
        pe = torch.zeros(num_positions, dim, dtype=torch.float64)
        for i in range(dim // 2):
            freq = 1.0 / 10000 ** (2 * i / dim)
            ang = torch.arange(num_positions, dtype=torch.float64) * freq
            pe[:, 2 * i] = torch.sin(ang)
            pe[:, 2 * i + 1] = torch.cos(ang)
        return pe.float()
''')

VECTORISED = src('''
    import math

    import torch
    import torch.nn as nn


    def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False):
        scores = torch.einsum("...le,...se->...ls", q, k) * q.shape[-1] ** -0.5
        L, S = scores.shape[-2:]
        keep = torch.ones(L, S, dtype=torch.bool, device=q.device)
        if is_causal:
            keep = torch.tril(keep)
        if attn_mask is not None:
            keep = keep & attn_mask
        scores = torch.where(keep, scores, torch.tensor(float("-inf"), dtype=scores.dtype, device=q.device))
        weights = torch.softmax(scores, dim=-1)
        return torch.einsum("...ls,...sv->...lv", weights, v), weights


    class MultiHeadSelfAttention(nn.Module):
        def __init__(self, embed_dim, num_heads):
            super().__init__()
            self.h = num_heads
            self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
            self.proj = nn.Linear(embed_dim, embed_dim)

        def forward(self, x, attn_mask=None):
            N, L, E = x.shape
            qkv = self.qkv(x).unflatten(-1, (3, self.h, E // self.h)).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            out, _ = scaled_dot_product_attention(q, k, v, attn_mask)
            return self.proj(out.permute(0, 2, 1, 3).flatten(2))


    def patchify(images, patch_size):
        N, C, H, W = images.shape
        P = patch_size
        x = images.unflatten(2, (H // P, P)).unflatten(4, (W // P, P))
        return x.permute(0, 2, 4, 1, 3, 5).flatten(3).flatten(1, 2)


    class PatchEmbedding(nn.Module):
        def __init__(self, in_channels, patch_size, embed_dim):
            super().__init__()
            self.p = patch_size
            self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

        def forward(self, x):
            return self.proj(patchify(x, self.p))


    def sinusoidal_position_encoding(num_positions, dim):
        pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
        div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
        ang = pos * div
        return torch.stack([ang.sin(), ang.cos()], dim=-1).reshape(num_positions, dim).float()
''')

OWN_HELPERS = src('''
    import math

    import torch


    def softmax_attention(q, k, v, keep):
        """float64 inside, cast back"""
        dt = q.dtype
        q, k, v = q.double(), k.double(), v.double()
        s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if keep is not None:
            s = s.masked_fill(~keep, -math.inf)
        w = s.softmax(-1)
        return (w @ v).to(dt), w.to(dt)


    class Patcher:
        def __init__(self, p):
            self.p = p

        def __call__(self, x):
            N, C, H, W = x.shape
            p = self.p
            return x.reshape(N, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(N, -1, C * p * p)
''')

OWN = src('''
    import torch
    from torch import nn

    from helpers import Patcher, softmax_attention


    def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False):
        keep = None
        if is_causal:
            keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        if attn_mask is not None:
            keep = attn_mask if keep is None else keep & attn_mask
        return softmax_attention(q, k, v, keep)


    class MultiHeadSelfAttention(nn.Module):
        def __init__(self, embed_dim, num_heads):
            super().__init__()
            self.n_heads = num_heads
            self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
            self.proj = nn.Linear(embed_dim, embed_dim)

        def split(self, t):
            N, L, E = t.shape
            return t.view(N, L, self.n_heads, E // self.n_heads).transpose(1, 2)

        def forward(self, x, attn_mask=None):
            N, L, E = x.shape
            q, k, v = map(self.split, self.qkv(x).split(E, dim=-1))
            out, _ = softmax_attention(q, k, v, attn_mask)
            return self.proj(out.transpose(1, 2).reshape(N, L, E))


    def patchify(images, patch_size):
        return Patcher(patch_size)(images)


    class PatchEmbedding(nn.Module):
        def __init__(self, in_channels, patch_size, embed_dim):
            super().__init__()
            self.patcher = Patcher(patch_size)
            self.proj = nn.Linear(in_channels * patch_size * patch_size, embed_dim)

        def forward(self, x):
            return self.proj(self.patcher(x))


    def sinusoidal_position_encoding(num_positions, dim):
        pe = torch.empty(num_positions, dim, dtype=torch.float64)
        p = torch.arange(num_positions, dtype=torch.float64).unsqueeze(1)
        i2 = torch.arange(0, dim, 2, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(p / 10000 ** (i2 / dim))
        pe[:, 1::2] = torch.cos(p / 10000 ** (i2 / dim))
        return pe.to(torch.float32)
''')

BASE = VECTORISED


def build_class() -> list[Entry]:
    e = []
    e.append(Entry("au120001", "folder", "correct", [],
                   "plain loops: the causal mask built entry by entry, one head at a time, one patch at a time, "
                   "one frequency at a time", files={"attention.py": LOOPS}))
    e.append(Entry("au120002", "folder", "correct", [],
                   "vectorised: einsum, torch.where, unflatten and permute, the heads through its own attention",
                   files={"attention.py": VECTORISED}))
    e.append(Entry("au120003", "folder", "correct", [],
                   "a helper module helpers.py with an attention function (float64 inside, cast back) and a "
                   "Patcher class of its own", files={"attention.py": OWN, "helpers.py": OWN_HELPERS}))
    cells = notebook_cells_from_module(VECTORISED, "# Week 12: attention\nau120004", FUNCTIONS, [
        ("markdown", "## Checks against torch"),
        ("code", "q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 2)\n"
                 "print(torch.allclose(scaled_dot_product_attention(q, k, v)[0], "
                 "F.scaled_dot_product_attention(q, k, v), atol=1e-6))\n"
                 "x = torch.randn(1, 3, 4, 4)\n"
                 "print(torch.equal(patchify(x, 2), F.unfold(x, 2, stride=2).transpose(1, 2)))"),
    ])
    e.append(Entry("au120004", "ipynb", "correct", [],
                   "Colab notebook, vectorised; intake drops !pip, %matplotlib and the top-level checks that call "
                   "F.scaled_dot_product_attention and F.unfold (banned inside the functions, not in a check cell)",
                   cells=cells))
    e.append(Entry("au120005", "zip", "correct", [],
                   "zip made like dlgrade submit with two files (attention.py imports helpers.py)",
                   files={"attention.py": OWN, "helpers.py": OWN_HELPERS}))

    e.append(Entry("au120006", "folder", "wrong", ["scaled_dot_product_attention"],
                   "scaled_dot_product_attention forgets the 1/sqrt(E) scale (its own MHSA is written apart)",
                   files={"attention.py": replace_text(LOOPS, "k.transpose(-1, -2)) / math.sqrt(E)",
                                                       "k.transpose(-1, -2))")}))
    e.append(Entry("au120007", "folder", "wrong", ["MultiHeadSelfAttention"],
                   "MultiHeadSelfAttention splits the heads with a straight view to [N, H, L, d]",
                   files={"attention.py": replace_text(OWN, "return t.view(N, L, self.n_heads, E // self.n_heads)"
                                                       ".transpose(1, 2)",
                                                       "return t.reshape(N, self.n_heads, L, E // self.n_heads)"),
                          "helpers.py": OWN_HELPERS}))
    e.append(Entry("au120008", "folder", "wrong", ["patchify"],
                   "patchify flattens each patch in (P, P, C) order; PatchEmbedding has its own Patcher and is right",
                   files={"attention.py": replace_function(OWN, '''
                       def patchify(images, patch_size):
                           N, C, H, W = images.shape
                           p = patch_size
                           x = images.reshape(N, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)
                           return x.reshape(N, -1, C * p * p)
                   '''), "helpers.py": OWN_HELPERS}))
    e.append(Entry("au120009", "folder", "wrong", ["sinusoidal_position_encoding"],
                   "sin and cos concatenated instead of interleaved",
                   files={"attention.py": replace_text(BASE, "torch.stack([ang.sin(), ang.cos()], dim=-1)"
                                                       ".reshape(num_positions, dim)",
                                                       "torch.cat([ang.sin(), ang.cos()], dim=-1)")}))
    e.append(Entry("au120010", "folder", "wrong", ["patchify"],
                   "patchify calls F.unfold (values right): banned, scores 0 as banned",
                   files={"attention.py": replace_function(OWN, '''
                       def patchify(images, patch_size):
                           import torch.nn.functional as F
                           return F.unfold(images, patch_size, stride=patch_size).transpose(1, 2)
                   '''), "helpers.py": OWN_HELPERS}))
    e.append(Entry("au120011", "folder", "partial", ["patchify", "sinusoidal_position_encoding"],
                   "attention and the modules done (PatchEmbedding with its own Patcher); patchify and the "
                   "encoding raise NotImplementedError",
                   files={"attention.py": stub(OWN, "patchify", "sinusoidal_position_encoding"),
                          "helpers.py": OWN_HELPERS}))

    e.append(Entry("au120012", "folder", "broken", ALL,
                   "syntax error (a def without its colon): gradable, scores 0 everywhere",
                   files={"attention.py": replace_text(VECTORISED, "def patchify(images, patch_size):",
                                                       "def patchify(images, patch_size)")}))
    e.append(Entry("au120013", "folder", "broken", ["sinusoidal_position_encoding"],
                   "sinusoidal_position_encoding is not defined; the others are right",
                   files={"attention.py": remove_function(OWN, "sinusoidal_position_encoding"),
                          "helpers.py": OWN_HELPERS}))
    e.append(Entry("au120014", "folder", "broken", ["sinusoidal_position_encoding"],
                   "sinusoidal_position_encoding walks the frequencies with a while loop and forgets i += 1: an "
                   "endless loop (only its tests time out)",
                   files={"attention.py": replace_function(LOOPS, '''
                       def sinusoidal_position_encoding(num_positions, dim):
                           pe = torch.zeros(num_positions, dim, dtype=torch.float64)
                           i = 0
                           while i < dim // 2:
                               ang = torch.arange(num_positions, dtype=torch.float64) / 10000 ** (2 * i / dim)
                               pe[:, 2 * i] = torch.sin(ang)
                               pe[:, 2 * i + 1] = torch.cos(ang)
                           return pe.float()
                   ''')}))
    return e


def main() -> None:
    write_class(HERE / WEEK, WEEK, FUNCTIONS, build_class(), "make_week12_samples.py", may_not_compile=("au120012",))


if __name__ == "__main__":
    main()
