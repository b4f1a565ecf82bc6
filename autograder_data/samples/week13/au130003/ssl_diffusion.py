import math

import torch

from helpers import Schedule, unit_rows


def _nt(z, temperature):
    n = z.shape[0]
    sim = unit_rows(z) @ unit_rows(z).T / temperature
    sim.fill_diagonal_(float("-inf"))
    half = n // 2
    pos = torch.cat([torch.arange(half, n), torch.arange(half)])
    return (torch.logsumexp(sim, 1) - sim[torch.arange(n), pos]).mean()


def nt_xent_loss(z1, z2, temperature=0.5):
    return _nt(torch.cat([z1, z2]).double(), temperature).to(z1.dtype)


def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    if T == 1:
        return torch.tensor([beta_start], dtype=torch.float64)
    step = (beta_end - beta_start) / (T - 1)
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_beta_schedule(T, s=0.008, max_beta=0.999):
    u = torch.arange(T + 1, dtype=torch.float64) / T
    abar = torch.cos((u + s) / (1 + s) * math.pi / 2).pow(2)
    return torch.minimum(1 - abar[1:] / abar[:-1], torch.tensor(max_beta, dtype=torch.float64))


def q_sample(x0, t, noise, alphas_cumprod):
    a = Schedule(1 - alphas_cumprod).abar  # unused: only the coefficient helper is needed
    sched = Schedule(torch.zeros_like(alphas_cumprod))
    sched.abar = alphas_cumprod.double()
    c = sched.coef(t, x0)
    return c.sqrt() * x0 + (1 - c).sqrt() * noise


def ddpm_loss(model, x0, t, noise, alphas_cumprod):
    pred = model(q_sample(x0, t, noise, alphas_cumprod), t)
    return (pred - noise).pow(2).mean()


def p_sample_step(model, x_t, t, noise, betas):
    sched = Schedule(betas)
    tt = torch.full((x_t.shape[0],), t, dtype=torch.int64, device=x_t.device)
    eps = model(x_t, tt).detach()
    beta = sched.betas[t].item()
    mean = (x_t - beta / math.sqrt(1 - sched.abar[t].item()) * eps) / math.sqrt(sched.alphas[t].item())
    return mean if t == 0 else mean + math.sqrt(beta) * noise
