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
