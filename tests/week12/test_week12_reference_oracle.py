"""The week12 reference solution against oracles that share none of its code.

Attention against F.scaled_dot_product_attention (bool masks broadcast from
[L, S], causal with the diagonal kept, L != S, E != Ev, extra batch dims) and
its weights against a softmax written per query row; multi-head self-attention
against nn.MultiheadAttention with the weights copied (in_proj_weight =
qkv.weight, out_proj = proj), outputs and gradients; patchify against F.unfold;
the patch embedding against a strided Conv2d holding the same weights; the
sinusoidal encoding against a float64 formula at large positions.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week12" / "attention.py"
DTYPES = [torch.float32, torch.float64]


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def att():
    spec = importlib.util.spec_from_file_location("week12_attention_under_test", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
@pytest.mark.parametrize("mode", ["none", "mask", "causal", "both"])
def test_sdpa_against_torch(att, dtype, batch, mode):
    g = torch.Generator().manual_seed(len(batch) * 10 + DTYPES.index(dtype))
    L, S, E, Ev = 5, 7, 4, 6
    q = torch.randn(*batch, L, E, dtype=dtype, generator=g)
    k = torch.randn(*batch, S, E, dtype=dtype, generator=g)
    v = torch.randn(*batch, S, Ev, dtype=dtype, generator=g)
    mask = torch.rand(L, S, generator=g) < 0.6
    mask[:, 0] = True  # every row may attend to something
    attn_mask = mask if mode in ("mask", "both") else None
    causal = mode in ("causal", "both")
    out, w = att.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=causal)
    allowed = torch.ones(L, S, dtype=torch.bool)
    if causal:
        allowed &= torch.ones(L, S, dtype=torch.bool).tril()
    if attn_mask is not None:
        allowed &= attn_mask
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    if mode == "causal":
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), **tol(dtype))
    torch.testing.assert_close(out, expected, **tol(dtype))
    assert out.shape == (*batch, L, Ev) and w.shape == (*batch, L, S) and out.dtype == dtype
    # the weights, one query row at a time
    for l in range(L):
        s_ok = allowed[l].nonzero().flatten()
        scores = (q[..., l, :].unsqueeze(-2) * k[..., s_ok, :]).sum(-1) / math.sqrt(E)
        row = torch.zeros(*batch, S, dtype=dtype)
        row[..., s_ok] = torch.exp(scores - scores.amax(-1, keepdim=True))
        row = row / row.sum(-1, keepdim=True)
        torch.testing.assert_close(w[..., l, :], row, **tol(dtype))
    assert (w[..., ~allowed] == 0).all()


def test_sdpa_broadcast_mask_shapes(att):
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 3, n, 4, generator=g, dtype=torch.float64) for n in (4, 4, 4))
    mask = torch.rand(3, 1, 4, generator=g) < 0.5
    mask[..., 0] = True
    out, _ = att.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("E,H,masked", [(8, 2, False), (12, 3, True), (6, 1, True), (8, 8, False)])
def test_mhsa_against_nn_multihead(att, dtype, E, H, masked):
    torch.manual_seed(E * 10 + H)
    mine = att.MultiHeadSelfAttention(E, H).to(dtype)
    assert set(mine.state_dict()) == {"qkv.weight", "qkv.bias", "proj.weight", "proj.bias"}
    ref = nn.MultiheadAttention(E, H, batch_first=True).to(dtype)
    with torch.no_grad():
        ref.in_proj_weight.copy_(mine.qkv.weight)
        ref.in_proj_bias.copy_(torch.randn(3 * E, dtype=dtype))
        mine.qkv.bias.copy_(ref.in_proj_bias)
        ref.out_proj.weight.copy_(mine.proj.weight)
        ref.out_proj.bias.copy_(mine.proj.bias)
    N, L = 3, 5
    x = torch.randn(N, L, E, dtype=dtype, requires_grad=True)
    mask = None
    if masked:
        mask = torch.rand(L, L) < 0.5
        mask[:, 2] = True
    y = mine(x, attn_mask=mask)
    # nn.MultiheadAttention's bool mask is True = may NOT attend
    y_ref, _ = ref(x, x, x, attn_mask=None if mask is None else ~mask, need_weights=False)
    torch.testing.assert_close(y, y_ref, **tol(dtype))
    gy = torch.randn_like(y)
    grads = torch.autograd.grad(y, [x, mine.qkv.weight, mine.qkv.bias, mine.proj.weight], gy)
    grads_ref = torch.autograd.grad(y_ref, [x, ref.in_proj_weight, ref.in_proj_bias, ref.out_proj.weight], gy)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,C,H,W,P", [(2, 3, 8, 12, 4), (1, 1, 6, 6, 2), (3, 2, 4, 10, 2), (1, 3, 5, 5, 5)])
def test_patchify_against_unfold(att, dtype, N, C, H, W, P):
    x = torch.randn(N, C, H, W, dtype=dtype)
    expected = F.unfold(x, kernel_size=P, stride=P).transpose(1, 2)
    out = att.patchify(x, P)
    assert out.shape == (N, (H // P) * (W // P), C * P * P)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    # non-contiguous input
    xt = torch.randn(N, C, W, H, dtype=dtype).transpose(2, 3)
    torch.testing.assert_close(att.patchify(xt, P), F.unfold(xt, P, stride=P).transpose(1, 2), rtol=0, atol=0)
    # patch i at row r, col c, by hand
    Wp = W // P
    for i in range(out.shape[1]):
        r, c = divmod(i, Wp)
        assert torch.equal(out[:, i], x[:, :, r * P:(r + 1) * P, c * P:(c + 1) * P].reshape(N, -1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_patch_embedding_against_unfold_and_conv(att, dtype):
    torch.manual_seed(3)
    C, P, E = 3, 4, 5
    emb = att.PatchEmbedding(C, P, E).to(dtype)
    assert set(emb.state_dict()) == {"proj.weight", "proj.bias"}
    x = torch.randn(2, C, 8, 12, dtype=dtype, requires_grad=True)
    y = emb(x)
    expected = F.unfold(x, P, stride=P).transpose(1, 2) @ emb.proj.weight.T + emb.proj.bias
    torch.testing.assert_close(y, expected, **tol(dtype))
    conv = nn.Conv2d(C, E, P, stride=P).to(dtype)
    with torch.no_grad():
        conv.weight.copy_(emb.proj.weight.reshape(E, C, P, P))
        conv.bias.copy_(emb.proj.bias)
    torch.testing.assert_close(y, conv(x).flatten(2).transpose(1, 2), **tol(dtype))
    gy = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, [x], gy)
    (gx_ref,) = torch.autograd.grad(expected, [x], gy)
    torch.testing.assert_close(gx, gx_ref, **tol(dtype))


@pytest.mark.parametrize("n,dim", [(1, 2), (7, 6), (5000, 16), (3000, 64)])
def test_sinusoidal_against_float64_formula(att, n, dim):
    pe = att.sinusoidal_position_encoding(n, dim)
    assert pe.shape == (n, dim) and pe.dtype == torch.float32
    expected = torch.empty(n, dim, dtype=torch.float64)
    for j in range(dim):
        i2 = j - j % 2
        angles = torch.arange(n, dtype=torch.float64) / 10000.0 ** (i2 / dim)
        expected[:, j] = torch.sin(angles) if j % 2 == 0 else torch.cos(angles)
    torch.testing.assert_close(pe.double(), expected, rtol=0, atol=1e-6)
    assert pe[0, 0::2].eq(0).all() and pe[0, 1::2].eq(1).all()
