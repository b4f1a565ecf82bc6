"""Week 9: the losses behind a variational autoencoder and a GAN, by hand.

Conventions (the same in every function):
- N is the batch size; the latent code has D dimensions (mu, logvar, eps are
  [N, D]). logvar is log(sigma^2), the log of the VARIANCE.
- A loss is a 0-d tensor of the input's dtype that autograd can
  differentiate (it is used for training): do not call .item() or build a
  new tensor from its value. Never modify an input in place.
- Binary cross-entropy from a logit z against a target y in [0, 1]:
      bce(z, y) = -(y * log(sigmoid(z)) + (1 - y) * log(1 - sigmoid(z)))
  Computed like that it overflows (log(0) = -inf) once |z| is large; the
  same value, stable for every z, is
      bce(z, y) = max(z, 0) - z * y + log(1 + exp(-|z|))
  (`F.softplus(z) - z * y` is another way). Every loss here must stay finite
  and exact for logits of +-1e3, in float32 and float64.
- Banned here (the point is to write them): `F.binary_cross_entropy`,
  `F.binary_cross_entropy_with_logits`, `nn.BCELoss`, `nn.BCEWithLogitsLoss`
  and `torch.distributions`. Every other way to the same torch operators
  counts too (`torch.binary_cross_entropy_with_logits`, ...): the grader sees
  the operator, whatever the spelling.
"""

import torch


def reparameterize(mu, logvar, eps):
    """The reparameterisation trick: a sample of N(mu, sigma^2) as a function of mu and logvar.

    Inputs:
    - mu: [N, D], the means
    - logvar: [N, D], log(sigma^2)
    - eps: [N, D], standard normal noise (given, so the result is deterministic)

    Returns:
    - z: [N, D], z = mu + sigma * eps with sigma = exp(0.5 * logvar)
    """
    # BEGIN SOLUTION
    return mu + torch.exp(0.5 * logvar) * eps
    # END SOLUTION


def kl_divergence(mu, logvar):
    """KL divergence of N(mu, sigma^2) (diagonal) from the standard normal N(0, I), per sample.

    Inputs:
    - mu: [N, D]
    - logvar: [N, D], log(sigma^2)

    Returns:
    - kl: [N], kl[n] = -1/2 * sum_d (1 + logvar[n, d] - mu[n, d]^2 - exp(logvar[n, d]))
      (a SUM over the D latent dimensions; never negative)
    """
    # BEGIN SOLUTION
    return -0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)).sum(dim=1)
    # END SOLUTION


def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
    """The (beta-)VAE loss: reconstruction plus beta times the KL term.

    Inputs:
    - recon_logits: [N, ...] (e.g. [N, 1, 28, 28] or [N, 784]), the decoder's
      logits, one per pixel
    - x: same shape, the images, values in [0, 1]
    - mu, logvar: [N, D], the encoder's outputs
    - beta: float, the weight of the KL term

    Returns a tuple (total, recon, kl) of 0-d tensors:
    - recon: bce(recon_logits, x) SUMMED over every dimension but the batch
      (all pixels of an image), then the MEAN over the batch
    - kl: the mean over the batch of the per-sample KL divergence (as in
      kl_divergence)
    - total = recon + beta * kl
    Stable for logits of +-1e3 (see the module docstring).
    """
    # BEGIN SOLUTION
    z = recon_logits
    bce = z.clamp(min=0) - z * x + torch.log1p(torch.exp(-z.abs()))  # stable bce(z, x), per pixel
    recon = bce.flatten(1).sum(dim=1).mean()
    kl = (-0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)).sum(dim=1)).mean()
    return recon + beta * kl, recon, kl
    # END SOLUTION


def gan_discriminator_loss(real_logits, fake_logits):
    """The discriminator's loss: real images should be called real (1), fakes fake (0).

    Inputs:
    - real_logits: [N_real] or [N_real, 1], D's logits on real images
    - fake_logits: [N_fake] or [N_fake, 1], D's logits on generated images
      (N_fake may differ from N_real)

    Returns:
    - loss: 0-d tensor, mean over real of bce(real_logits, 1)
                      + mean over fake of bce(fake_logits, 0)
      (the two means added, not averaged). Stable for logits of +-1e3.
    """
    # BEGIN SOLUTION
    real_term = torch.nn.functional.softplus(-real_logits).mean()  # bce(z, 1) = log(1 + exp(-z))
    fake_term = torch.nn.functional.softplus(fake_logits).mean()   # bce(z, 0) = log(1 + exp(z))
    return real_term + fake_term
    # END SOLUTION


def gan_generator_loss(fake_logits):
    """The generator's non-saturating loss: fakes should be called real.

    Inputs:
    - fake_logits: [N] or [N, 1], the discriminator's logits on generated images

    Returns:
    - loss: 0-d tensor, the mean of bce(fake_logits, 1) = mean of -log(sigmoid(fake_logits)).
      Not the saturating minimax form log(1 - sigmoid(fake_logits)), whose
      gradient vanishes when the discriminator wins. Stable for logits of +-1e3.
    """
    # BEGIN SOLUTION
    return torch.nn.functional.softplus(-fake_logits).mean()
    # END SOLUTION
