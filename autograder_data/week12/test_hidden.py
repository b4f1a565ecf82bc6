"""Week 12 hidden tests: run only by `dlgrade grade`.

Attention: no mask, a [L, S] mask broadcast over two batch dims, causal (the
diagonal kept) alone and with a mask, L != S, E != Ev, no batch dim, a batch of
1, a non-contiguous key, scores large enough that a softmax without the max
overflows. Multi-head: 1, 3, 4 and E heads, with and without a mask, the
reference's weights loaded, output and every gradient. Patches: non-square
images and grids, C = 1, P = 1 and P = H, transposed and sliced views.
Encoding: one position, and 5000 positions.

Points: scaled_dot_product_attention 3, MultiHeadSelfAttention 3, patchify 2,
PatchEmbedding 2, sinusoidal_position_encoding 2 (12 in all).
"""

import math

from torch import nn  # noqa: F401  (scenarios run where `nn` and `device` are predefined)

import pytest
import torch

from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


# ---------------------------------------------------------------- wrong answers, for hints
def attention(q, k, v, mask=None, causal=False, *, scale=None, no_scale=False, mask_inverted=False,
              causal_strict=False, causal_upper=False, softmax_dim=-1):
    """Attention done right, or wrong in the way the flags say: (out, weights)."""
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    s = q @ k.transpose(-2, -1)
    if not no_scale:
        s = s / math.sqrt(E if scale is None else scale)
    allowed = torch.ones(L, S, dtype=torch.bool)
    if causal:
        tri = torch.ones(L, S, dtype=torch.bool)
        allowed = allowed & (tri.tril(-1) if causal_strict else tri.triu() if causal_upper else tri.tril())
    if mask is not None:
        allowed = allowed & (~mask if mask_inverted else mask)
    s = s.masked_fill(~allowed, float("-inf"))
    w = s.softmax(dim=softmax_dim).nan_to_num(0.0)
    return w @ v, w


SDPA_HINTS = {
    "the scores are not scaled: divide q @ k^T by sqrt(E)": dict(no_scale=True),
    "the mask is read the wrong way round: True means the query MAY attend to that key": dict(mask_inverted=True),
    "the causal mask drops the diagonal: query l may attend to keys s <= l, itself included": dict(causal_strict=True),
    "the causal mask is the wrong triangle: query l may attend to keys s <= l, not s >= l": dict(causal_upper=True),
    "the softmax is over the wrong axis: normalise over the keys (the last dim)": dict(softmax_dim=-2),
}


def check_sdpa(out, q, k, v, mask=None, causal=False):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("scaled_dot_product_attention should return a tuple (out, weights), got "
             + ("None (did the function forget to return?)" if out is None else f"a {type(out).__name__}"))
    w = out[1]
    if causal and isinstance(w, torch.Tensor) and w.dim() >= 2 and torch.isnan(w[..., 0, :]).all():
        fail("the first query's weights are NaN: the causal mask drops the diagonal, so query 0 has nothing "
             "to attend to; query l may attend to keys s <= l, itself included")
    expected = attention(q, k, v, mask, causal)
    check(tuple(out), expected, name="(out, weights)",
          hints={t: (lambda f=f: attention(q, k, v, mask, causal, **f)) for t, f in SDPA_HINTS.items()})


def mhsa(state, x, mask, H, *, heads_first=False, order="qkv", scale_E=False, no_proj=False, merge_hd=False):
    """Multi-head self-attention with the reference's weights, done right or wrong."""
    N, L, E = x.shape
    d = E // H
    y = x @ state["qkv.weight"].T + state["qkv.bias"]
    parts = dict(zip(order, y.chunk(3, dim=-1)))
    q, k, v = parts["q"], parts["k"], parts["v"]
    if heads_first:  # [N, L, E] reshaped straight to [N, H, L, d]
        q, k, v = (t.reshape(N, H, L, d) for t in (q, k, v))
    else:
        q, k, v = (t.reshape(N, L, H, d).transpose(1, 2) for t in (q, k, v))
    out, _ = attention(q, k, v, mask, scale=E if scale_E else d)
    out = out.reshape(N, L, E) if merge_hd else out.transpose(1, 2).reshape(N, L, E)
    return out if no_proj else out @ state["proj.weight"].T + state["proj.bias"]


MHSA_HINTS = {
    "the heads are split wrongly: reshape [N, L, E] to [N, L, H, d] then move H forward; "
    "reshaping straight to [N, H, L, d] mixes positions into heads": dict(heads_first=True),
    "the heads are merged wrongly: move the head axis back ([N, L, H, d]) before reshaping to [N, L, E]":
        dict(merge_hd=True),
    "q, k and v are taken from qkv in the wrong order: the output of qkv is [q | k | v]": dict(order="kqv"),
    "q, k and v are taken from qkv in the wrong order: the output of qkv is [q | k | v] (not [q | v | k])":
        dict(order="qvk"),
    "the scale is 1/sqrt(E): each head scales by 1/sqrt(d), d = E // num_heads": dict(scale_E=True),
    "the output projection proj is missing": dict(no_proj=True),
}


def run_mhsa(module, state, E, H, x, mask, gy):
    """Build the module in the worker, load the given state_dict, run forward and backward."""
    m = module.MultiHeadSelfAttention(E, H)
    keys = sorted(m.state_dict())
    if keys != sorted(state):
        return {"keys": keys}
    m.load_state_dict(state)
    m.to(device=device, dtype=x.dtype)
    x = x.to(device).clone().requires_grad_(True)
    before = x.detach().clone()
    y = m(x) if mask is None else m(x, attn_mask=mask.to(device))
    y.backward(gy.to(device))
    return {"keys": keys, "y": y.detach(), "dx": x.grad,
            "grads": {k: p.grad for k, p in m.named_parameters()}, "modified": not torch.equal(x.detach(), before)}


def run_embed(module, state, C, P, E, x, gy):
    m = module.PatchEmbedding(C, P, E)
    keys = sorted(m.state_dict())
    if keys != sorted(state):
        return {"keys": keys}
    m.load_state_dict(state)
    m.to(device=device, dtype=x.dtype)
    x = x.to(device).clone().requires_grad_(True)
    y = m(x)
    y.backward(gy.to(device))
    return {"keys": keys, "y": y.detach(), "dx": x.grad, "grads": {k: p.grad for k, p in m.named_parameters()}}


def check_keys(got, want, cls, layout):
    if got["keys"] != want["keys"]:
        fail(f"{cls}'s parameters are {got['keys']}, expected {want['keys']}: {layout}")


def grade_mhsa(student, reference, rng, E, H, x, mask, gy):
    r = lambda *shape: (0.5 * torch.randn(*shape, dtype=x.dtype, generator=rng))  # noqa: E731
    state = {"qkv.weight": r(3 * E, E), "qkv.bias": r(3 * E), "proj.weight": r(E, E), "proj.bias": r(E)}
    got = student.run(run_mhsa, state, E, H, x, mask, gy)
    check_unmodified(student)
    want = reference.run(run_mhsa, state, E, H, x, mask, gy)
    check_keys(got, want, "MultiHeadSelfAttention",
               "self.qkv = nn.Linear(E, 3E) and self.proj = nn.Linear(E, E), with biases")
    if got.get("modified"):
        fail("forward modified its input x in place")
    check(got["y"], want["y"], name="forward(x)",
          hints={t: (lambda f=f: mhsa(state, x, mask, H, **f)) for t, f in MHSA_HINTS.items()})
    check(got["dx"], want["dx"], name="the gradient of x")
    check(got["grads"], want["grads"], name="the parameters' gradients")


def patches(images, P, *, order="cpp", col_major=False):
    """Patches done right, or flattened in another order, or numbered column-major."""
    N, C, H, W = images.shape
    x = images.reshape(N, C, H // P, P, W // P, P)
    grid = (0, 4, 2) if col_major else (0, 2, 4)
    inner = {"cpp": (1, 3, 5), "ppc": (3, 5, 1), "cqp": (1, 5, 3)}[order]
    return x.permute(*grid, *inner).reshape(N, (H // P) * (W // P), C * P * P)


def patches_naive_reshape(images, P):
    N, C, H, W = images.shape
    return images.reshape(N, (H // P) * (W // P), C * P * P)


PATCH_HINTS = {
    "each patch is flattened in (P, P, C) order; the contract flattens it in (C, P, P) order (channel first)":
        lambda x, P: patches(x, P, order="ppc"),
    "each patch is flattened with its columns before its rows: flatten in (C, P, P) order, row by row":
        lambda x, P: patches(x, P, order="cqp"),
    "the patches are numbered column by column; the contract numbers them row-major (index = row * (W/P) + col)":
        lambda x, P: patches(x, P, col_major=True),
    "the image is reshaped straight to [N, patches, C*P*P]: that does not cut P x P squares; reshape to "
    "[N, C, H/P, P, W/P, P] and permute first": patches_naive_reshape,
}


def check_patches(out, images, P, name="patches"):
    check(out, patches(images, P), name=name, hints={t: (lambda f=f: f(images, P)) for t, f in PATCH_HINTS.items()})


def grade_embed(student, reference, rng, C, P, E, x, gy):
    r = lambda *shape: (0.5 * torch.randn(*shape, dtype=x.dtype, generator=rng))  # noqa: E731
    state = {"proj.weight": r(E, C * P * P), "proj.bias": r(E)}
    got = student.run(run_embed, state, C, P, E, x, gy)
    check_unmodified(student)
    want = reference.run(run_embed, state, C, P, E, x, gy)
    check_keys(got, want, "PatchEmbedding", "self.proj = nn.Linear(C*P*P, E), with a bias")
    w, b = state["proj.weight"], state["proj.bias"]
    check(got["y"], want["y"], name="forward(x)",
          hints={t: (lambda f=f: f(x, P) @ w.T + b) for t, f in PATCH_HINTS.items()})
    check(got["dx"], want["dx"], name="the gradient of x")
    check(got["grads"], want["grads"], name="the parameters' gradients")


def pe_formula(n, dim, *, interleave=True, exponent="2i", all_sin=False, low_precision=False):
    """The encoding in float64 (or float32 angles), right or wrong, cast to float32."""
    dt = f32 if low_precision else f64
    p = torch.arange(n, dtype=dt).unsqueeze(1)
    i2 = torch.arange(0, dim, 2, dtype=dt)
    expo = {"2i": i2, "i": i2 / 2}[exponent]
    ang = p / 10000.0 ** (expo / dim)
    s, c = torch.sin(ang), torch.sin(ang) if all_sin else torch.cos(ang)
    if interleave:
        pe = torch.stack([s, c], dim=2).reshape(n, dim)
    else:
        pe = torch.cat([s, c], dim=1)
    return pe.to(f32)


PE_HINTS = {
    "sin and cos are concatenated ([sin... | cos...]); the contract interleaves them: PE[p, 2i] = sin, "
    "PE[p, 2i+1] = cos": dict(interleave=False),
    "the exponent uses i instead of 2i: the frequency is 1 / 10000^(2i/dim)": dict(exponent="i"),
    "the odd columns are sin too: PE[p, 2i+1] = cos(p / 10000^(2i/dim))": dict(all_sin=True),
}


def check_pe(out, n, dim, atol=1e-6):
    if isinstance(out, torch.Tensor) and out.dtype != f32 and out.is_floating_point():
        out = out.to(f32)  # the contract's dtype is float32; a float64 answer is judged by its values
    want = pe_formula(n, dim)
    if isinstance(out, torch.Tensor) and out.shape == want.shape and out.is_floating_point():
        err = float((out.double() - want.double()).abs().max())
        if atol < err < 1e-3 and n > 1000:
            fail(f"PE is off by up to {err:.1e} at large positions (tolerance {atol:.0e}): the angles lose precision "
                 "at large positions; compute p / 10000^(2i/dim) in float64, then cast to float32")
    check(out, want, name="PE", rtol=0, atol=atol,
          hints={**{t: (lambda f=f: pe_formula(n, dim, **f)) for t, f in PE_HINTS.items()},
                 "the angles lose precision at large positions: compute p / 10000^(2i/dim) in float64, then cast":
                     lambda: pe_formula(n, dim, low_precision=True)})


def randn(rng, *shape, dtype=f64, scale=1.0):
    return scale * torch.randn(*shape, dtype=dtype, generator=rng)


def rand_mask(rng, L, S):
    m = torch.rand(L, S, generator=rng) < 0.5
    m[torch.arange(L), torch.randint(0, S, (L,), generator=rng)] = True  # every row attends to something
    return m


SDPA = "scaled_dot_product_attention"


@pytest.mark.function(SDPA)
@pytest.mark.points(1)
def test_sdpa_no_mask_batches(student, reference, rng):
    """no mask, no batch dim, then two batch dims; L != S, E != Ev; float32 and float64"""
    for dtype, batch in ((f64, ()), (f32, (2, 3))):
        q, k, v = (randn(rng, *batch, n, e, dtype=dtype) for n, e in ((4, 3), (6, 3), (6, 5)))
        out = student.scaled_dot_product_attention(q, k, v)
        check_unmodified(student)
        check_sdpa(out, q, k, v)


@pytest.mark.function(SDPA)
@pytest.mark.points(1)
def test_sdpa_mask_broadcast(student, reference, rng):
    """a [L, S] bool mask broadcast over [2, 3, L, S]; batch of 1; a non-contiguous key"""
    q = randn(rng, 2, 3, 5, 4)
    k = randn(rng, 2, 3, 4, 7).transpose(-2, -1)
    v = randn(rng, 2, 3, 7, 2)
    m = rand_mask(rng, 5, 7)
    out = student.scaled_dot_product_attention(q, k, v, attn_mask=m)
    check_unmodified(student)
    check_sdpa(out, q, k, v, m)
    q, k, v = randn(rng, 1, 1, 4, dtype=f32), randn(rng, 1, 3, 4, dtype=f32), randn(rng, 1, 3, 1, dtype=f32)
    m = torch.tensor([[False, True, True]])
    out = student.scaled_dot_product_attention(q, k, v, attn_mask=m)
    check_unmodified(student)
    check_sdpa(out, q, k, v, m)


@pytest.mark.function(SDPA)
@pytest.mark.points(1)
def test_sdpa_causal(student, reference, rng):
    """causal, L = S = 6 with a batch dim, then causal with a mask; large scores (softmax stability)"""
    q, k, v = randn(rng, 3, 6, 4), randn(rng, 3, 6, 4), randn(rng, 3, 6, 3)
    out = student.scaled_dot_product_attention(q, k, v, is_causal=True)
    check_unmodified(student)
    check_sdpa(out, q, k, v, None, True)
    q, k, v = randn(rng, 5, 4, dtype=f32, scale=30.0), randn(rng, 5, 4, dtype=f32, scale=30.0), randn(rng, 5, 2, dtype=f32)
    m = rand_mask(rng, 5, 5) | torch.eye(5, dtype=torch.bool)
    out = student.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=True)
    check_unmodified(student)
    check_sdpa(out, q, k, v, m, True)


MHSA = "MultiHeadSelfAttention"


@pytest.mark.function(MHSA)
@pytest.mark.points(1)
def test_mhsa_heads(student, reference, rng):
    """E = 12 with 3 heads, N = 2, L = 5, float64; output and every gradient"""
    grade_mhsa(student, reference, rng, 12, 3, randn(rng, 2, 5, 12), None, randn(rng, 2, 5, 12))


@pytest.mark.function(MHSA)
@pytest.mark.points(1)
def test_mhsa_mask_float32(student, reference, rng):
    """E = 8 with 4 heads, a bool mask [L, L], float32, a batch of 1"""
    grade_mhsa(student, reference, rng, 8, 4, randn(rng, 1, 6, 8, dtype=f32), rand_mask(rng, 6, 6),
               randn(rng, 1, 6, 8, dtype=f32))


@pytest.mark.function(MHSA)
@pytest.mark.points(1)
def test_mhsa_one_head_and_d1(student, reference, rng):
    """one head (d = E), then E heads (d = 1); a non-contiguous x"""
    grade_mhsa(student, reference, rng, 4, 1, randn(rng, 3, 4, 2).transpose(1, 2), None, randn(rng, 3, 2, 4))
    grade_mhsa(student, reference, rng, 4, 4, randn(rng, 2, 3, 4), rand_mask(rng, 3, 3), randn(rng, 2, 3, 4))


@pytest.mark.function("patchify")
@pytest.mark.points(1)
def test_patchify_shapes(student, reference, rng):
    """non-square images and grids, one channel, a batch of 1, P = 1 and P = H; float32 and float64"""
    for shape, P, dtype in (((1, 1, 6, 9), 3, f32), ((2, 3, 8, 4), 4, f64), ((2, 2, 3, 5), 1, f64),
                            ((1, 3, 5, 10), 5, f32)):
        x = randn(rng, *shape, dtype=dtype)
        out = student.patchify(x, P)
        check_unmodified(student)
        check_patches(out, x, P)


@pytest.mark.function("patchify")
@pytest.mark.points(1)
def test_patchify_views(student, reference, rng):
    """non-contiguous images (a transposed and a sliced view), patches that differ from their neighbours"""
    x = randn(rng, 2, 3, 6, 4).transpose(2, 3)
    out = student.patchify(x, 2)
    check_unmodified(student)
    check_patches(out, x, 2)
    x = randn(rng, 2, 6, 4, 8)[:, ::2]
    out = student.patchify(x, 4)
    check_unmodified(student)
    check_patches(out, x, 4)


@pytest.mark.function("PatchEmbedding")
@pytest.mark.points(1)
def test_patch_embedding_nonsquare(student, reference, rng):
    """C = 3, P = 4, E = 7, an 8 x 12 image, float32"""
    grade_embed(student, reference, rng, 3, 4, 7, randn(rng, 2, 3, 8, 12, dtype=f32), randn(rng, 2, 6, 7, dtype=f32))


@pytest.mark.function("PatchEmbedding")
@pytest.mark.points(1)
def test_patch_embedding_one_channel(student, reference, rng):
    """C = 1, P = 3, E = 2, a batch of 1, a 3 x 9 image, float64"""
    grade_embed(student, reference, rng, 1, 3, 2, randn(rng, 1, 1, 3, 9), randn(rng, 1, 3, 2))


@pytest.mark.function("sinusoidal_position_encoding")
@pytest.mark.points(1)
def test_sinusoidal_small(student, reference):
    """one position, dim = 2; then 50 positions, dim = 32"""
    for n, dim in ((1, 2), (50, 32)):
        out = student.sinusoidal_position_encoding(n, dim)
        check_unmodified(student)
        check_pe(out, n, dim)


@pytest.mark.function("sinusoidal_position_encoding")
@pytest.mark.points(1)
def test_sinusoidal_large_positions(student, reference):
    """5000 positions, dim = 16: accurate to 1e-5 at large p"""
    out = student.sinusoidal_position_encoding(5000, 16)
    check_unmodified(student)
    check_pe(out, 5000, 16, atol=1e-5)
