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
