import math

import torch


def nt_xent_loss(z1, z2, temperature=0.5):
    z = torch.cat([z1, z2])
    n = z.shape[0]
    B = n // 2
    rows = [z[i] / torch.sqrt((z[i] ** 2).sum()) for i in range(n)]
    losses = []
    for i in range(n):
        j = i + B if i < B else i - B
        sims = torch.stack([rows[i] @ rows[k] / temperature for k in range(n) if k != i])
        top = sims.max()
        lse = top + torch.log(torch.exp(sims - top).sum())
        losses.append(lse - rows[i] @ rows[j] / temperature)
    return torch.stack(losses).mean()


def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def q_sample(x0, t, noise, alphas_cumprod):
    out = []
    for b in range(x0.shape[0]):
        a = float(alphas_cumprod[int(t[b])])
        out.append(math.sqrt(a) * x0[b] + math.sqrt(1 - a) * noise[b])
    return torch.stack(out)


def ddpm_loss(model, x0, t, noise, alphas_cumprod):
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    diff = model(x_t, t) - noise
    return (diff * diff).sum() / diff.numel()


def p_sample_step(model, x_t, t, noise, betas):
    abar = 1.0
    for k in range(t + 1):
        abar *= 1 - float(betas[k])
    beta = float(betas[t])
    t_batch = torch.tensor([t] * x_t.shape[0], device=x_t.device)
    with torch.no_grad():
        eps = model(x_t, t_batch)
    mean = (x_t - beta / math.sqrt(1 - abar) * eps) / math.sqrt(1 - beta)
    if t == 0:
        return mean
    return mean + math.sqrt(beta) * noise
