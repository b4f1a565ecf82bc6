"""Week 12: attention and vision transformers by hand: scaled dot-product
attention, multi-head self-attention, cutting images into patches, a patch
embedding and the sinusoidal position encoding.

Conventions (the same in every function):
- Results have the input's dtype and device (float32 or float64). Never modify
  an input in place.
- Banned (the point is to write them): `F.scaled_dot_product_attention`,
  `nn.MultiheadAttention`, `F.multi_head_attention_forward`, `F.unfold`,
  `nn.Unfold`. Every other spelling of the same torch operators counts too
  (`torch.ops.aten...`): the grader sees the operator. Everything else in torch
  is allowed: `softmax`, `masked_fill`, `reshape`, `permute`, `nn.Linear`, your
  own helper functions and classes.
"""

import math

import torch
from torch import nn


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False):
    """Scaled dot-product attention, like `F.scaled_dot_product_attention`,
    returning the attention weights as well.

    Inputs:
    - q: queries, shape [..., L, E]
    - k: keys, shape [..., S, E]
    - v: values, shape [..., S, Ev] (Ev may differ from E)
      The leading dims `...` are the same in q, k and v (any number, even none).
    - attn_mask: None, or a bool tensor broadcastable to [..., L, S] (often just
      [L, S]); True = query l may attend to key s, False = it may not.
    - is_causal: if True, query l may attend only to keys s <= l (the diagonal is
      kept). Used together with attn_mask, both must allow a pair.

    Returns a tuple (out, weights):
    - weights: shape [..., L, S], softmax over s of (q @ k^T) / sqrt(E), with the
      pairs that may not attend set to -inf before the softmax (weight exactly 0)
    - out: shape [..., L, Ev], weights @ v
    Every query row is tested with at least one key it may attend to.
    """
    # BEGIN SOLUTION
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(E)
    if is_causal:
        causal = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights
    # END SOLUTION


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention, equal to `nn.MultiheadAttention(E, num_heads,
    batch_first=True)` called as `mha(x, x, x, attn_mask=...)` with
    `in_proj_weight = qkv.weight`, `in_proj_bias = qkv.bias`, `out_proj = proj`.

    Attributes (their names and layout are graded: the grader loads its own
    state_dict into your module):
    - qkv = nn.Linear(E, 3E): its output is [q | k | v] along the last dim, in
      that order, each of size E.
    - proj = nn.Linear(E, E): the output projection.
    With d = E // num_heads, head h uses dims h*d:(h+1)*d of q, k and v.

    forward(x, attn_mask=None):
    - x: shape [N, L, E]
    - attn_mask: None, or a bool tensor [L, L], True = may attend
    - returns shape [N, L, E]: each head does scaled dot-product attention (scale
      1/sqrt(d)) on its own slices, the heads' outputs are put back side by side
      (head h in dims h*d:(h+1)*d), then proj is applied.
    """

    def __init__(self, embed_dim, num_heads):
        super().__init__()
        # BEGIN SOLUTION
        assert embed_dim % num_heads == 0
        self.num_heads = num_heads
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
        self.proj = nn.Linear(embed_dim, embed_dim)
        # END SOLUTION

    def forward(self, x, attn_mask=None):
        # BEGIN SOLUTION
        N, L, E = x.shape
        H = self.num_heads
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(N, L, H, E // H).transpose(1, 2) for t in (q, k, v))  # [N, H, L, d]
        scores = q @ k.transpose(-2, -1) / math.sqrt(E // H)  # [N, H, L, L]
        if attn_mask is not None:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        out = scores.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(N, L, E))
        # END SOLUTION


def patchify(images, patch_size):
    """Cut images into non-overlapping P x P patches, each flattened.

    Inputs:
    - images: shape [N, C, H, W]; H and W are multiples of P
    - patch_size: P, an int

    Returns:
    - patches: shape [N, (H/P)*(W/P), C*P*P]. Patches are in row-major order
      (patch index = row * (W/P) + col), and each patch is flattened in
      (C, P, P) order: patches[n, i] = images[n, :, r*P:(r+1)*P, c*P:(c+1)*P].reshape(-1)
      for patch i at row r, column c.
    """
    # BEGIN SOLUTION
    N, C, H, W = images.shape
    P = patch_size
    x = images.reshape(N, C, H // P, P, W // P, P)
    x = x.permute(0, 2, 4, 1, 3, 5)  # [N, H/P, W/P, C, P, P]
    return x.reshape(N, (H // P) * (W // P), C * P * P)
    # END SOLUTION


class PatchEmbedding(nn.Module):
    """The patch embedding of a vision transformer.

    Attributes (graded by name: the grader loads its own state_dict):
    - proj = nn.Linear(C*P*P, E)

    forward(x):
    - x: shape [N, C, H, W]; H and W multiples of P
    - returns proj(patchify(x, P)), shape [N, (H/P)*(W/P), E]
    """

    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        # BEGIN SOLUTION
        self.patch_size = patch_size
        self.proj = nn.Linear(in_channels * patch_size * patch_size, embed_dim)
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        N, C, H, W = x.shape
        P = self.patch_size
        x = x.reshape(N, C, H // P, P, W // P, P).permute(0, 2, 4, 1, 3, 5)
        return self.proj(x.reshape(N, (H // P) * (W // P), C * P * P))
        # END SOLUTION


def sinusoidal_position_encoding(num_positions, dim):
    """The sinusoidal position encoding of "Attention Is All You Need".

    Inputs:
    - num_positions: the number of positions p = 0..num_positions-1
    - dim: the encoding size (even)

    Returns:
    - PE: float32 tensor of shape [num_positions, dim] with
        PE[p, 2i]   = sin(p / 10000^(2i/dim))
        PE[p, 2i+1] = cos(p / 10000^(2i/dim))
      Accurate at large positions too (p in the thousands): the angle is best
      computed in float64 and the result cast to float32.
    """
    # BEGIN SOLUTION
    p = torch.arange(num_positions, dtype=torch.float64).unsqueeze(1)
    freq = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    pe = torch.zeros(num_positions, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(p * freq)
    pe[:, 1::2] = torch.cos(p * freq)
    return pe.float()
    # END SOLUTION
