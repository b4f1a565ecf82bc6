"""The week09 reference solution against oracles that share none of its code.

The KL against torch.distributions (Normal against the standard normal) for
logvar from -10 to 10; the reconstruction and GAN terms against
F.binary_cross_entropy_with_logits, at logits of +-1e3 too (finite and exact);
reparameterize against Normal.rsample's formula with the same noise; gradients
of every loss against autograd through the torch built-ins.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week09" / "generative.py"
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("week09_generative_under_test", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)


def latent(n, d, dtype, seed, low=-10.0, high=10.0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=g, dtype=dtype) * 3
    logvar = torch.rand(n, d, generator=g, dtype=dtype) * (high - low) + low
    logvar[0, 0], logvar[-1, -1] = low, high
    return mu, logvar


def sigma(logvar):
    return torch.exp(0.5 * logvar)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reparameterize_is_normal_rsample(gen, dtype):
    mu, logvar = latent(6, 4, dtype, 1)
    eps = torch.randn(6, 4, generator=torch.Generator().manual_seed(2), dtype=dtype)
    # Normal.rsample draws eps = standard normal and returns loc + eps * scale
    torch.manual_seed(5)
    expected = Normal(mu, sigma(logvar)).rsample()
    torch.manual_seed(5)
    noise = torch.randn(6, 4, dtype=dtype)
    torch.testing.assert_close(gen.reparameterize(mu, logvar, noise), expected, **tol(dtype))
    assert gen.reparameterize(mu, logvar, eps).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(3))
def test_kl_matches_torch_distributions(gen, dtype, seed):
    mu, logvar = latent(7, 5, dtype, seed)
    expected = kl_divergence(Normal(mu, sigma(logvar)), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1)
    kl = gen.kl_divergence(mu, logvar)
    assert kl.shape == (7,) and kl.dtype == dtype and bool((kl >= 0).all())
    torch.testing.assert_close(kl, expected, rtol=1e-5 if dtype == torch.float32 else 1e-10, atol=1e-4 if dtype == torch.float32 else 1e-9)
    assert torch.equal(gen.kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def images(dtype, seed, extreme=True):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(4, 1, 5, 6, generator=g, dtype=dtype) * 3
    if extreme:
        z[0] = torch.randn(1, 5, 6, generator=g, dtype=dtype).sign() * 1e3
    x = torch.rand(4, 1, 5, 6, generator=g, dtype=dtype)
    x[1] = (x[1] > 0.5).to(dtype)
    return z, x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [1.0, 0.25, 4.0])
def test_vae_loss_matches_builtins(gen, dtype, beta):
    z, x = images(dtype, 3)
    mu, logvar = latent(4, 3, dtype, 4)
    total, recon, kl = gen.vae_loss(z, x, mu, logvar, beta)
    exp_recon = F.binary_cross_entropy_with_logits(z, x, reduction="sum") / 4
    exp_kl = kl_divergence(Normal(mu, sigma(logvar)), Normal(0.0, 1.0)).sum(1).mean()
    for t in (total, recon, kl):
        assert t.shape == () and t.dtype == dtype and bool(torch.isfinite(t))
    torch.testing.assert_close(recon, exp_recon, **tol(dtype))
    torch.testing.assert_close(kl, exp_kl, rtol=1e-5 if dtype == torch.float32 else 1e-10, atol=1e-4 if dtype == torch.float32 else 1e-9)
    torch.testing.assert_close(total, recon + beta * kl, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_terms_exact_at_extreme_logits(gen, dtype):
    z = torch.tensor([[1e3, -1e3, 1e3, -1e3, 0.0, 30.0, -30.0]], dtype=dtype)
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.5, 1.0, 0.0]], dtype=dtype)
    zero = torch.zeros(1, 1, dtype=dtype)
    _, recon, _ = gen.vae_loss(z, x, zero, zero)
    assert recon == F.binary_cross_entropy_with_logits(z, x, reduction="sum")  # 2000 + log 2 + tiny, exactly
    per = z.clamp(min=0) - z * x  # the exact part; log1p(exp(-|z|)) is 0 at |z| = 1e3
    assert float(recon) == pytest.approx(float(per.sum()) + math.log(2) + 2 * math.log1p(math.exp(-30)), rel=1e-6)
    real = torch.tensor([1e3, -1e3, 2.0], dtype=dtype)
    fake = torch.tensor([-1e3, 1e3, -0.5, 0.0], dtype=dtype)
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    d = gen.gan_discriminator_loss(real, fake)
    assert d == F.binary_cross_entropy_with_logits(real, ones) + F.binary_cross_entropy_with_logits(fake, zeros)
    g = gen.gan_generator_loss(fake)
    torch.testing.assert_close(g, F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake)), **tol(dtype))
    assert bool(torch.isfinite(d)) and bool(torch.isfinite(g))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gan_losses_match_builtins(gen, dtype):
    g = torch.Generator().manual_seed(6)
    for shape_r, shape_f in (((8,), (8,)), ((5, 1), (9, 1))):
        real = torch.randn(shape_r, generator=g, dtype=dtype) * 4
        fake = torch.randn(shape_f, generator=g, dtype=dtype) * 4
        d = gen.gan_discriminator_loss(real, fake)
        exp = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
            F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        torch.testing.assert_close(d, exp, **tol(dtype))
        torch.testing.assert_close(gen.gan_generator_loss(fake),
                                   F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake)), **tol(dtype))


def grad_of(fn, *tensors):
    leaves = [t.clone().requires_grad_(True) for t in tensors]
    fn(*leaves).backward()
    return [t.grad for t in leaves]


def test_gradients_match_autograd_through_builtins(gen):
    dt = torch.float64
    z, x = images(dt, 7)
    mu, logvar = latent(4, 3, dt, 8, -4.0, 4.0)
    ours = grad_of(lambda a, b, c: gen.vae_loss(a, x, b, c, 0.5)[0], z, mu, logvar)
    theirs = grad_of(lambda a, b, c: F.binary_cross_entropy_with_logits(a, x, reduction="sum") / 4 + 0.5 * kl_divergence(
        Normal(b, torch.exp(0.5 * c)), Normal(0.0, 1.0)).sum(1).mean(), z, mu, logvar)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    real, fake = torch.randn(6, dtype=dt) * 3, torch.randn(5, dtype=dt) * 3
    real[0], fake[0] = 1e3, -1e3
    ours = grad_of(gen.gan_discriminator_loss, real, fake)
    theirs = grad_of(lambda r, f: F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                     + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)), real, fake)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad_of(gen.gan_generator_loss, fake)[0],
                               grad_of(lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f)), fake)[0])
    ours = grad_of(lambda m, lv: gen.kl_divergence(m, lv).sum(), mu, logvar)
    theirs = grad_of(lambda m, lv: kl_divergence(Normal(m, torch.exp(0.5 * lv)), Normal(0.0, 1.0)).sum(), mu, logvar)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    eps = torch.randn(4, 3, dtype=dt)
    ours = grad_of(lambda m, lv: (gen.reparameterize(m, lv, eps) ** 2).sum(), mu, logvar)
    theirs = grad_of(lambda m, lv: ((m + torch.exp(lv / 2) * eps) ** 2).sum(), mu, logvar)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_no_banned_call_in_the_reference():
    from grader.banned import scan
    from grader.course import Course

    week = Course(ROOT).week("week09")
    result = scan(SOLUTION.read_text(), {f: week.banned_for(f) for f in week.functions})
    assert result.banned == {} and result.review == {}
