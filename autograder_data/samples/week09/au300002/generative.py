"""Week 9, vectorised: softplus and logsigmoid do the stable work."""
import torch
import torch.nn.functional as F


def reparameterize(mu, logvar, eps):
    return torch.addcmul(mu, (0.5 * logvar).exp(), eps)


def kl_divergence(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)


def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
    per_pixel = F.softplus(recon_logits) - recon_logits * x
    recon = per_pixel.reshape(per_pixel.shape[0], -1).sum(1).mean()
    kl = kl_divergence(mu, logvar).mean()
    return recon + beta * kl, recon, kl


def gan_discriminator_loss(real_logits, fake_logits):
    return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()


def gan_generator_loss(fake_logits):
    return -F.logsigmoid(fake_logits).mean()
