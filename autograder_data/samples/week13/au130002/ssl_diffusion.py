import math

import torch
import torch.nn.functional as F


def nt_xent_loss(z1, z2, temperature=0.5):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z.shape[0]
    logits = z @ z.T / temperature
    logits = logits - 1e9 * torch.eye(n, dtype=z.dtype, device=z.device)
    target = (torch.arange(n, device=z.device) + n // 2) % n
    lp = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -lp.gather(1, target[:, None]).mean()


def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_beta_schedule(T, s=0.008, max_beta=0.999):
    steps = torch.linspace(0, T, T + 1, dtype=torch.float64)
    f = torch.cos((steps / T + s) / (1 + s) * torch.pi * 0.5) ** 2
    return torch.clip(1 - f[1:] / f[:-1], max=max_beta)


def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod.to(x0.device).gather(0, t).to(x0.dtype)
    a = a.view(-1, *([1] * (x0.dim() - 1)))
    return torch.sqrt(a) * x0 + torch.sqrt(1 - a) * noise


def ddpm_loss(model, x0, t, noise, alphas_cumprod):
    return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), noise)


@torch.no_grad()
def p_sample_step(model, x_t, t, noise, betas):
    alphas = 1 - betas
    abar = alphas.cumprod(0)
    eps = model(x_t, torch.full((len(x_t),), t, device=x_t.device, dtype=torch.long))
    coef = (betas[t] / (1 - abar[t]).sqrt()).item()
    mean = (x_t - coef * eps) / alphas[t].sqrt().item()
    return mean + (t > 0) * betas[t].sqrt().item() * noise
