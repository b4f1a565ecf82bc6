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


def patchify(images, patch_size)
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
