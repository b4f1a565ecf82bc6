"""Week 9 public tests: one per function, run by `dlgrade check week09`.

Every input is drawn from `rng`, so the reference's answers can be recorded by
`dlgrade release` and replayed in the student bundle. Hints are computed here
from the inputs. A test calls only the function it grades; gradients are
taken through the student's own loss, in the worker.
"""

import pytest
import torch

from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


# ------------------------------------------------------------------ helpers
def bce(z, y):
    """Stable binary cross-entropy from logits, per element (computed here, for hints)."""
    return z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))


def kl_variant(mu, logvar, sign=1.0, mean_dims=False, logstd=False):
    """The per-sample KL, right or with one named mistake."""
    if logstd:  # logvar taken as log(sigma): log sigma^2 = 2 logvar, sigma^2 = exp(2 logvar)
        terms = 1 + 2 * logvar - mu ** 2 - torch.exp(2 * logvar)
    else:
        terms = 1 + logvar - mu ** 2 - torch.exp(logvar)
    per = terms.mean(1) if mean_dims else terms.sum(1)
    return -0.5 * sign * per


def vae_variant(z, x, mu, logvar, beta, recon_mean=False, beta_on_recon=False, kl_batch_sum=False):
    per_pixel = bce(z, x).flatten(1)
    recon = per_pixel.mean() if recon_mean else per_pixel.sum(1).mean()
    kl_each = kl_variant(mu, logvar)
    kl = kl_each.sum() if kl_batch_sum else kl_each.mean()
    total = beta * recon + kl if beta_on_recon else recon + beta * kl
    return total, recon, kl


def check_finite(out, name, what):
    """Large logits: a NaN or inf where the answer is finite is the naive sigmoid-then-log BCE."""
    if isinstance(out, torch.Tensor) and out.is_floating_point() and not bool(torch.isfinite(out).all()):
        fail(f"{name} is not finite for logits of +-1e3: {what} computed as log(sigmoid(z)) overflows "
             "(log 0 = -inf); use the stable form max(z, 0) - z * y + log(1 + exp(-|z|)), or F.softplus")


def check_triple(out, expected, hints):
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail("vae_loss should return a tuple (total, recon, kl), got "
             + (f"a {type(out).__name__} of {len(out)} items" if isinstance(out, (tuple, list)) else type(out).__name__))
    for i, name in enumerate(("total", "recon", "kl")):
        check_finite(out[i], name, "the reconstruction BCE")
        alts = {text: (lambda alt=alt, i=i: alt()[i]) for text, alt in hints.items()}
        check(out[i], expected[i], name=name, hints=alts)


def with_extremes(z):
    """z with a few logits of +-1e3 (where a naive BCE overflows)."""
    z = z.clone()
    flat = z.view(-1)
    flat[0], flat[1], flat[-1] = 1e3, -1e3, 1e3
    return z


def grads_vae(module, recon_logits, x, mu, logvar, beta):
    z, m, lv = (t.clone().requires_grad_(True) for t in (recon_logits, mu, logvar))
    total = module.vae_loss(z, x, m, lv, beta)[0]
    total.backward()
    return z.grad, m.grad, lv.grad


def grads_generator(module, fake_logits):
    z = fake_logits.clone().requires_grad_(True)
    module.gan_generator_loss(z).backward()
    return z.grad


def grads_discriminator(module, real_logits, fake_logits):
    r, f = real_logits.clone().requires_grad_(True), fake_logits.clone().requires_grad_(True)
    module.gan_discriminator_loss(r, f).backward()
    return r.grad, f.grad


def check_grads(out, expected, names):
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        out = (out,) if len(names) == 1 else out
    for i, name in enumerate(names):
        check(out[i], expected[i], name=f"d loss / d {name}")


HALF_SIGMA = "sigma = exp(0.5 * logvar), the square root of the variance, not exp(logvar)"
LOGVAR_AS_STD = "logvar is the log of the variance, not the standard deviation: sigma = exp(0.5 * logvar)"
KL_SIGN = "the KL has the wrong sign: it is -1/2 * sum(1 + logvar - mu^2 - exp(logvar)), never negative"
KL_MEAN = "the KL is averaged over the latent dimensions: it is a SUM over d, one value per sample"
KL_LOGSTD = "logvar was used as log(sigma); it is log(sigma^2): the terms are 1 + logvar - mu^2 - exp(logvar)"
RECON_MEAN = ("the reconstruction term is averaged over the pixels: SUM over every non-batch dimension, "
              "then the mean over the batch")
BETA_ON_RECON = "beta multiplies the KL term, not the reconstruction: total = recon + beta * kl"
KL_BATCH_SUM = "the KL term is summed over the batch: it is the MEAN over the batch of the per-sample KL"
SWAPPED = "real and fake targets are swapped: real logits go against 1, fake logits against 0"
HALVED = "the two terms are averaged; the loss is their SUM: mean bce(real, 1) + mean bce(fake, 0)"
SATURATING = ("that is the saturating minimax loss log(1 - sigmoid(z)); the generator's non-saturating loss "
              "is the mean of bce(fake_logits, 1) = -log(sigmoid(z))")


# ------------------------------------------------------------------ tests
@pytest.mark.function("reparameterize")
@pytest.mark.points(1)
@pytest.mark.public
def test_reparameterize(student, reference, rng):
    """mu, logvar and eps [4, 3], float64"""
    mu = torch.randn(4, 3, dtype=f64, generator=rng)
    logvar = torch.randn(4, 3, dtype=f64, generator=rng)
    eps = torch.randn(4, 3, dtype=f64, generator=rng)
    out = student.reparameterize(mu, logvar, eps)
    check_unmodified(student)
    check(out, reference.reparameterize(mu, logvar, eps), name="z", hints={
        HALF_SIGMA: mu + torch.exp(logvar) * eps, LOGVAR_AS_STD: mu + logvar * eps})


@pytest.mark.function("kl_divergence")
@pytest.mark.points(1)
@pytest.mark.public
def test_kl_divergence(student, reference, rng):
    """mu and logvar [5, 4], logvar in [-3, 3], float64"""
    mu = torch.randn(5, 4, dtype=f64, generator=rng)
    logvar = torch.rand(5, 4, dtype=f64, generator=rng) * 6 - 3
    out = student.kl_divergence(mu, logvar)
    check_unmodified(student)
    check(out, reference.kl_divergence(mu, logvar), name="kl", hints={
        KL_SIGN: kl_variant(mu, logvar, sign=-1.0), KL_MEAN: kl_variant(mu, logvar, mean_dims=True),
        KL_LOGSTD: kl_variant(mu, logvar, logstd=True)})


@pytest.mark.function("vae_loss")
@pytest.mark.points(1)
@pytest.mark.public
def test_vae_loss(student, reference, rng):
    """images [3, 1, 4, 5] with logits of +-1e3 among them, beta 0.5, float64"""
    z = with_extremes(torch.randn(3, 1, 4, 5, dtype=f64, generator=rng) * 3)
    x = torch.rand(3, 1, 4, 5, dtype=f64, generator=rng)
    mu = torch.randn(3, 2, dtype=f64, generator=rng)
    logvar = torch.randn(3, 2, dtype=f64, generator=rng)
    out = student.vae_loss(z, x, mu, logvar, 0.5)
    check_unmodified(student)
    check_triple(out, reference.vae_loss(z, x, mu, logvar, 0.5), hints={
        RECON_MEAN: lambda: vae_variant(z, x, mu, logvar, 0.5, recon_mean=True),
        BETA_ON_RECON: lambda: vae_variant(z, x, mu, logvar, 0.5, beta_on_recon=True),
        KL_BATCH_SUM: lambda: vae_variant(z, x, mu, logvar, 0.5, kl_batch_sum=True)})


@pytest.mark.function("gan_discriminator_loss")
@pytest.mark.points(1)
@pytest.mark.public
def test_gan_discriminator_loss(student, reference, rng):
    """logits [6, 1] with +-1e3 among them, float64"""
    real = with_extremes(torch.randn(6, 1, dtype=f64, generator=rng) * 2)
    fake = with_extremes(torch.randn(6, 1, dtype=f64, generator=rng) * 2)
    out = student.gan_discriminator_loss(real, fake)
    check_unmodified(student)
    check_finite(out, "loss", "the BCE")
    expected = reference.gan_discriminator_loss(real, fake)
    check(out, expected, name="loss", hints={
        SWAPPED: bce(real, torch.zeros_like(real)).mean() + bce(fake, torch.ones_like(fake)).mean(),
        HALVED: expected / 2})


@pytest.mark.function("gan_generator_loss")
@pytest.mark.points(1)
@pytest.mark.public
def test_gan_generator_loss(student, reference, rng):
    """logits [7] with +-1e3 among them, float64; then the gradient through the student's loss"""
    fake = with_extremes(torch.randn(7, dtype=f64, generator=rng) * 2)
    out = student.gan_generator_loss(fake)
    check_unmodified(student)
    check_finite(out, "loss", "the BCE")
    check(out, reference.gan_generator_loss(fake), name="loss", hints={
        SATURATING: -bce(fake, torch.zeros_like(fake)).mean()})
    check_grads(student.run(grads_generator, fake), (reference.run(grads_generator, fake),), ["fake_logits"])
