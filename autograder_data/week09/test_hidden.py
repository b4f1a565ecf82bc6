"""Week 9 hidden tests: run only by `dlgrade grade`.

Each function's points are split over random values in both float dtypes,
logvar from -10 to 10, logits of +-1e3 (finite and exact), exact zeros,
batches of 1, unequal real and fake batches, flat and image-shaped inputs,
gradients taken through the student's own loss (in the worker) and
non-contiguous inputs (transposed and sliced views, sent with their strides);
every call is checked to leave its inputs unmodified. A test calls only the
function it grades.

Points: reparameterize 2, kl_divergence 3, vae_loss 5, gan_discriminator_loss 3,
gan_generator_loss 2 (15 in all; the public suite adds 1 per function).
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


def transposed(t):
    """The same values as a non-contiguous view (last two dimensions swapped twice; the wire keeps strides)."""
    return t.transpose(-1, -2).contiguous().transpose(-1, -2)


def sliced(t, dim=0):
    """The same values as a non-contiguous view: every other entry of a tensor twice as large along dim."""
    shape = list(t.shape)
    shape[dim] *= 2
    big = torch.zeros(shape, dtype=t.dtype)
    index = [slice(None)] * t.dim()
    index[dim] = slice(0, None, 2)
    big[tuple(index)] = t
    return big[tuple(index)]


def latent(rng, n, d, dtype=f64, low=-3.0, high=3.0):
    mu = torch.randn(n, d, dtype=dtype, generator=rng) * 2
    logvar = torch.rand(n, d, dtype=dtype, generator=rng) * (high - low) + low
    return mu, logvar


def check_reparam(student, reference, mu, logvar, eps, sent=None):
    out = student.reparameterize(*(sent or (mu, logvar, eps)))
    check_unmodified(student)
    check(out, reference.reparameterize(mu, logvar, eps), name="z", hints={
        HALF_SIGMA: lambda: mu + torch.exp(logvar) * eps, LOGVAR_AS_STD: lambda: mu + logvar * eps})


def check_kl(student, reference, mu, logvar, sent=None):
    out = student.kl_divergence(*(sent or (mu, logvar)))
    check_unmodified(student)
    check_finite(out, "kl", "the KL")
    check(out, reference.kl_divergence(mu, logvar), name="kl", hints={
        KL_SIGN: lambda: kl_variant(mu, logvar, sign=-1.0), KL_MEAN: lambda: kl_variant(mu, logvar, mean_dims=True),
        KL_LOGSTD: lambda: kl_variant(mu, logvar, logstd=True)})


def check_vae(student, reference, z, x, mu, logvar, beta=None, sent=None):
    args = (z, x, mu, logvar) if beta is None else (z, x, mu, logvar, beta)
    out = student.vae_loss(*(sent or args))
    check_unmodified(student)
    b = 1.0 if beta is None else beta
    check_triple(out, reference.vae_loss(*args), hints={
        RECON_MEAN: lambda: vae_variant(z, x, mu, logvar, b, recon_mean=True),
        BETA_ON_RECON: lambda: vae_variant(z, x, mu, logvar, b, beta_on_recon=True),
        KL_BATCH_SUM: lambda: vae_variant(z, x, mu, logvar, b, kl_batch_sum=True)})


def check_disc(student, reference, real, fake, sent=None):
    out = student.gan_discriminator_loss(*(sent or (real, fake)))
    check_unmodified(student)
    check_finite(out, "loss", "the BCE")
    expected = reference.gan_discriminator_loss(real, fake)
    check(out, expected, name="loss", hints={
        SWAPPED: lambda: bce(real, torch.zeros_like(real)).mean() + bce(fake, torch.ones_like(fake)).mean(),
        HALVED: lambda: expected / 2})


def check_gen(student, reference, fake, sent=None):
    out = student.gan_generator_loss(fake if sent is None else sent)
    check_unmodified(student)
    check_finite(out, "loss", "the BCE")
    check(out, reference.gan_generator_loss(fake), name="loss", hints={
        SATURATING: lambda: -bce(fake, torch.zeros_like(fake)).mean()})


def grads_reparam(module, mu, logvar, eps):
    m, lv = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    (module.reparameterize(m, lv, eps) * torch.linspace(-1, 2, eps.numel(), dtype=eps.dtype).reshape(eps.shape)).sum().backward()
    return m.grad, lv.grad


def grads_kl(module, mu, logvar):
    m, lv = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    kl = module.kl_divergence(m, lv)
    (kl * torch.arange(1, kl.numel() + 1, dtype=kl.dtype)).sum().backward()
    return m.grad, lv.grad


# ------------------------------------------------------------------ reparameterize (2)
@pytest.mark.function("reparameterize")
@pytest.mark.points(0.5)
def test_reparameterize_values(student, reference, rng):
    """mu, logvar and eps [8, 5], float64"""
    mu, logvar = latent(rng, 8, 5)
    check_reparam(student, reference, mu, logvar, torch.randn(8, 5, dtype=f64, generator=rng))


@pytest.mark.function("reparameterize")
@pytest.mark.points(0.5)
def test_reparameterize_float32_wide_logvar(student, reference, rng):
    """float32, logvar from -10 to 10, eps with exact zeros; a batch of 1 with D = 1"""
    mu, logvar = latent(rng, 6, 4, f32, -10.0, 10.0)
    eps = torch.randn(6, 4, dtype=f32, generator=rng)
    eps[0] = 0.0
    check_reparam(student, reference, mu, logvar, eps)
    mu, logvar = latent(rng, 1, 1)
    check_reparam(student, reference, mu, logvar, torch.randn(1, 1, dtype=f64, generator=rng))


@pytest.mark.function("reparameterize")
@pytest.mark.points(0.5)
def test_reparameterize_views(student, reference, rng):
    """non-contiguous mu, logvar and eps (transposed and sliced views)"""
    mu, logvar = latent(rng, 5, 3)
    eps = torch.randn(5, 3, dtype=f64, generator=rng)
    check_reparam(student, reference, mu, logvar, eps, sent=(transposed(mu), sliced(logvar, 1), sliced(eps, 0)))


@pytest.mark.function("reparameterize")
@pytest.mark.points(0.5)
def test_reparameterize_gradient(student, reference, rng):
    """gradients with respect to mu and logvar flow through the sample (autograd through the student's code)"""
    mu, logvar = latent(rng, 4, 3)
    eps = torch.randn(4, 3, dtype=f64, generator=rng)
    check_grads(student.run(grads_reparam, mu, logvar, eps), reference.run(grads_reparam, mu, logvar, eps),
                ["mu", "logvar"])


# ------------------------------------------------------------------ kl_divergence (3)
@pytest.mark.function("kl_divergence")
@pytest.mark.points(0.75)
def test_kl_divergence_values(student, reference, rng):
    """mu and logvar [9, 6], float64"""
    check_kl(student, reference, *latent(rng, 9, 6))


@pytest.mark.function("kl_divergence")
@pytest.mark.points(0.75)
def test_kl_divergence_wide_logvar(student, reference, rng):
    """logvar from -10 to 10 (and exactly -10 and 10), float64 and float32"""
    for dtype in (f64, f32):
        mu, logvar = latent(rng, 6, 5, dtype, -10.0, 10.0)
        logvar[0, 0], logvar[1, 1] = -10.0, 10.0
        check_kl(student, reference, mu, logvar)


@pytest.mark.function("kl_divergence")
@pytest.mark.points(0.5)
def test_kl_divergence_standard_normal_and_ones(student, reference, rng):
    """mu = 0 and logvar = 0 give exactly 0; a batch of 1; D = 1"""
    check_kl(student, reference, torch.zeros(3, 4, dtype=f64), torch.zeros(3, 4, dtype=f64))
    check_kl(student, reference, *latent(rng, 1, 7))
    check_kl(student, reference, *latent(rng, 5, 1))


@pytest.mark.function("kl_divergence")
@pytest.mark.points(0.5)
def test_kl_divergence_gradient(student, reference, rng):
    """gradients with respect to mu and logvar (autograd through the student's code)"""
    mu, logvar = latent(rng, 4, 3)
    check_grads(student.run(grads_kl, mu, logvar), reference.run(grads_kl, mu, logvar), ["mu", "logvar"])


@pytest.mark.function("kl_divergence")
@pytest.mark.points(0.5)
def test_kl_divergence_views(student, reference, rng):
    """non-contiguous mu and logvar (a transposed and a sliced view)"""
    mu, logvar = latent(rng, 5, 4)
    check_kl(student, reference, mu, logvar, sent=(transposed(mu), sliced(logvar, 1)))


# ------------------------------------------------------------------ vae_loss (5)
@pytest.mark.function("vae_loss")
@pytest.mark.points(1)
def test_vae_loss_values(student, reference, rng):
    """images [4, 1, 6, 5], binary targets, beta left at its default, float64"""
    z = torch.randn(4, 1, 6, 5, dtype=f64, generator=rng) * 2
    x = (torch.rand(4, 1, 6, 5, dtype=f64, generator=rng) > 0.5).to(f64)
    check_vae(student, reference, z, x, *latent(rng, 4, 3))


@pytest.mark.function("vae_loss")
@pytest.mark.points(1)
def test_vae_loss_extreme_logits(student, reference, rng):
    """logits of +-1e3 against targets 0, 1 and in between: finite and exact, float32 and float64"""
    for dtype in (f32, f64):
        z = torch.randn(3, 2, 4, 4, dtype=dtype, generator=rng).sign() * 1e3
        x = (torch.rand(3, 2, 4, 4, dtype=dtype, generator=rng) > 0.5).to(dtype)
        x[0, 0, 0] = 0.25
        check_vae(student, reference, z, x, *latent(rng, 3, 2, dtype), 2.0)


@pytest.mark.function("vae_loss")
@pytest.mark.points(0.75)
def test_vae_loss_flat_images_and_beta(student, reference, rng):
    """flat images [5, 30] (no channel or spatial dimensions), beta 4, float32"""
    z = torch.randn(5, 30, dtype=f32, generator=rng) * 3
    x = torch.rand(5, 30, dtype=f32, generator=rng)
    check_vae(student, reference, z, x, *latent(rng, 5, 4, f32), 4.0)


@pytest.mark.function("vae_loss")
@pytest.mark.points(0.25)
def test_vae_loss_batch_of_one(student, reference, rng):
    """a batch of 1, beta 0 (the KL is still returned)"""
    z = torch.randn(1, 3, 3, dtype=f64, generator=rng)
    check_vae(student, reference, z, torch.rand(1, 3, 3, dtype=f64, generator=rng), *latent(rng, 1, 2), 0.0)


@pytest.mark.function("vae_loss")
@pytest.mark.points(1)
def test_vae_loss_gradients(student, reference, rng):
    """d total / d recon_logits, mu, logvar (autograd through the student's loss), logits of +-1e3 among them"""
    z = with_extremes(torch.randn(3, 1, 4, 4, dtype=f64, generator=rng) * 2)
    x = torch.rand(3, 1, 4, 4, dtype=f64, generator=rng)
    mu, logvar = latent(rng, 3, 2)
    check_grads(student.run(grads_vae, z, x, mu, logvar, 0.7), reference.run(grads_vae, z, x, mu, logvar, 0.7),
                ["recon_logits", "mu", "logvar"])


@pytest.mark.function("vae_loss")
@pytest.mark.points(0.5)
def test_vae_loss_views(student, reference, rng):
    """non-contiguous logits, images, mu and logvar"""
    z = torch.randn(2, 1, 5, 4, dtype=f64, generator=rng)
    x = torch.rand(2, 1, 5, 4, dtype=f64, generator=rng)
    mu, logvar = latent(rng, 2, 3)
    check_vae(student, reference, z, x, mu, logvar, 1.5,
              sent=(transposed(z), sliced(x, 3), transposed(mu), sliced(logvar, 1), 1.5))


@pytest.mark.function("vae_loss")
@pytest.mark.points(0.5)
def test_vae_loss_zero_latent(student, reference, rng):
    """mu = 0 and logvar = 0 give a KL of exactly 0; logits of exactly 0"""
    z = torch.zeros(2, 6, dtype=f64)
    x = torch.rand(2, 6, dtype=f64, generator=rng)
    check_vae(student, reference, z, x, torch.zeros(2, 3, dtype=f64), torch.zeros(2, 3, dtype=f64), 1.0)


# ------------------------------------------------------------------ gan_discriminator_loss (3)
@pytest.mark.function("gan_discriminator_loss")
@pytest.mark.points(0.75)
def test_gan_discriminator_loss_values(student, reference, rng):
    """logits [8] and [8, 1], float64"""
    check_disc(student, reference, torch.randn(8, dtype=f64, generator=rng) * 2,
               torch.randn(8, dtype=f64, generator=rng) * 2)
    check_disc(student, reference, torch.randn(8, 1, dtype=f64, generator=rng),
               torch.randn(8, 1, dtype=f64, generator=rng))


@pytest.mark.function("gan_discriminator_loss")
@pytest.mark.points(0.75)
def test_gan_discriminator_loss_extreme_logits(student, reference, rng):
    """logits of +-1e3 on both sides, float32 and float64: finite and exact"""
    for dtype in (f32, f64):
        real = torch.randn(6, dtype=dtype, generator=rng).sign() * 1e3
        fake = torch.randn(6, dtype=dtype, generator=rng).sign() * 1e3
        check_disc(student, reference, real, fake)


@pytest.mark.function("gan_discriminator_loss")
@pytest.mark.points(0.5)
def test_gan_discriminator_loss_unequal_batches(student, reference, rng):
    """5 real and 9 fake logits: each term is the mean over its own batch"""
    check_disc(student, reference, torch.randn(5, 1, dtype=f64, generator=rng),
               torch.randn(9, 1, dtype=f64, generator=rng))


@pytest.mark.function("gan_discriminator_loss")
@pytest.mark.points(0.5)
def test_gan_discriminator_loss_gradients(student, reference, rng):
    """d loss / d real and d fake logits (autograd through the student's loss), +-1e3 among them"""
    real = with_extremes(torch.randn(6, 1, dtype=f64, generator=rng))
    fake = with_extremes(torch.randn(4, 1, dtype=f64, generator=rng))
    check_grads(student.run(grads_discriminator, real, fake), reference.run(grads_discriminator, real, fake),
                ["real_logits", "fake_logits"])


@pytest.mark.function("gan_discriminator_loss")
@pytest.mark.points(0.5)
def test_gan_discriminator_loss_views(student, reference, rng):
    """non-contiguous logits (a transposed and a sliced view), float32"""
    real = torch.randn(7, 1, dtype=f32, generator=rng)
    fake = torch.randn(7, dtype=f32, generator=rng)
    check_disc(student, reference, real, fake, sent=(transposed(real), sliced(fake, 0)))


# ------------------------------------------------------------------ gan_generator_loss (2)
@pytest.mark.function("gan_generator_loss")
@pytest.mark.points(0.5)
def test_gan_generator_loss_values(student, reference, rng):
    """logits [10] and [4, 1], float64"""
    check_gen(student, reference, torch.randn(10, dtype=f64, generator=rng) * 2)
    check_gen(student, reference, torch.randn(4, 1, dtype=f64, generator=rng))


@pytest.mark.function("gan_generator_loss")
@pytest.mark.points(0.5)
def test_gan_generator_loss_extreme_logits(student, reference, rng):
    """logits of +-1e3 and exactly 0, float32 and float64: finite and exact"""
    for dtype in (f32, f64):
        fake = torch.randn(6, dtype=dtype, generator=rng).sign() * 1e3
        fake[0] = 0.0
        check_gen(student, reference, fake)


@pytest.mark.function("gan_generator_loss")
@pytest.mark.points(0.5)
def test_gan_generator_loss_gradient(student, reference, rng):
    """d loss / d fake logits (autograd through the student's loss), +-1e3 among them"""
    fake = with_extremes(torch.randn(6, 1, dtype=f64, generator=rng))
    check_grads(student.run(grads_generator, fake), (reference.run(grads_generator, fake),), ["fake_logits"])


@pytest.mark.function("gan_generator_loss")
@pytest.mark.points(0.5)
def test_gan_generator_loss_views_float32(student, reference, rng):
    """a non-contiguous view, float32; a batch of 1"""
    fake = torch.randn(6, 1, dtype=f32, generator=rng)
    check_gen(student, reference, fake, sent=transposed(fake))
    check_gen(student, reference, torch.randn(1, dtype=f32, generator=rng))
