"""Week 9, one sample at a time."""
import torch


def reparameterize(mu, logvar, eps):
    out = torch.empty_like(mu)
    for n in range(mu.shape[0]):
        out[n] = mu[n] + torch.exp(logvar[n] / 2) * eps[n]
    return out


def kl_divergence(mu, logvar):
    kl = []
    for n in range(mu.shape[0]):
        kl.append(0.5 * torch.sum(mu[n] ** 2 + torch.exp(logvar[n]) - logvar[n] - 1))
    return torch.stack(kl)


def stable_bce(z, y):
    return torch.clamp(z, min=0) - z * y + torch.log(1 + torch.exp(-torch.abs(z)))


def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
    n = recon_logits.shape[0]
    recon = 0
    for i in range(n):
        recon = recon + stable_bce(recon_logits[i], x[i]).sum()
    recon = recon / n
    kl = kl_divergence(mu, logvar).mean()
    return recon + beta * kl, recon, kl


def gan_discriminator_loss(real_logits, fake_logits):
    real = stable_bce(real_logits, torch.ones_like(real_logits)).mean()
    fake = stable_bce(fake_logits, torch.zeros_like(fake_logits)).mean()
    return real + fake


def gan_generator_loss(fake_logits):
    return stable_bce(fake_logits, torch.ones_like(fake_logits)).mean()
