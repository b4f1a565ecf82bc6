"""Week 9 with a small BCE class of my own; float64 inside, results in the input's dtype."""
import math

import torch


class LogitBCE:
    """bce(z, y) = log(1 + exp(z)) - z * y, written so that exp never overflows."""

    def __init__(self, logits):
        self.z = logits.double()

    def against(self, target):
        z = self.z
        y = target.double() if torch.is_tensor(target) else torch.full_like(z, float(target))
        return torch.logaddexp(torch.zeros_like(z), z) - z * y


HALF = 0.5


def reparameterize(mu, logvar, eps):
    std = torch.sqrt(torch.exp(logvar.double()))
    return (mu.double() + std * eps.double()).to(mu.dtype)


def kl_divergence(mu, logvar):
    m, lv = mu.double(), logvar.double()
    return (-HALF * torch.sum(1 + lv - m * m - torch.exp(lv), dim=1)).to(mu.dtype)


def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
    p = torch.sigmoid(recon_logits.double())
    per_image = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(start_dim=1).sum(dim=1)
    recon = per_image.mean()
    m, lv = mu.double(), logvar.double()
    kl = (-HALF * torch.sum(1 + lv - m * m - torch.exp(lv), dim=1)).mean()
    total = recon + beta * kl
    return total.to(x.dtype), recon.to(x.dtype), kl.to(x.dtype)


def gan_discriminator_loss(real_logits, fake_logits):
    loss = LogitBCE(real_logits).against(1.0).mean() + LogitBCE(fake_logits).against(0.0).mean()
    return loss.to(real_logits.dtype)


def gan_generator_loss(fake_logits):
    return -torch.log(torch.sigmoid(fake_logits)).mean()
