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
    # TODO: your code here
    raise NotImplementedError("scaled_dot_product_attention")


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
        # TODO: your code here
        raise NotImplementedError("__init__")

    def forward(self, x, attn_mask=None):
        # TODO: your code here
        raise NotImplementedError("forward")


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
    # TODO: your code here
    raise NotImplementedError("patchify")


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
        # TODO: your code here
        raise NotImplementedError("__init__")

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError("forward")


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
    # TODO: your code here
    raise NotImplementedError("sinusoidal_position_encoding")
