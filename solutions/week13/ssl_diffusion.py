"""Week 13: self-supervised learning and diffusion: the SimCLR NT-Xent loss,
two DDPM noise schedules, the forward (noising) process, the DDPM training loss
and one ancestral sampling step.

Conventions (the same in every function):
- Schedules are 1-D float64 tensors of length T, 0-indexed: betas[t] is the
  noise added at step t (t = 0..T-1), alphas = 1 - betas,
  alphas_cumprod[t] = prod(alphas[0..t]).
- Timesteps t are int64 tensors of shape [B] (one per sample) in q_sample and
  ddpm_loss, and a Python int in p_sample_step.
- Per-sample coefficients taken from a schedule are cast to the dtype of the
  images and broadcast over all their other dimensions ([B, C, H, W] or any
  [B, ...]). Results have the dtype and device of the images (float32 or
  float64). Never modify an input in place.
- A model is called as model(x_t, t) with t an int64 tensor of shape [B],
  exactly once per call of ddpm_loss and of p_sample_step.
- Banned: F.cross_entropy (and nn.CrossEntropyLoss) in nt_xent_loss.
  Everything else in torch is allowed (log_softmax, logsumexp, F.normalize,
  F.mse_loss, torch.linspace, torch.cumprod).
"""

import math

import torch


def nt_xent_loss(z1, z2, temperature=0.5):
    """The NT-Xent (normalised temperature-scaled cross-entropy) loss of SimCLR.

    Inputs:
    - z1: projections of the first view of B images, shape [B, D]
    - z2: projections of the second view of the same B images, shape [B, D];
      row i of z1 and row i of z2 come from the same image
    - temperature: a positive float

    Returns:
    - loss: a 0-d tensor. Let z = cat([z1, z2]) ([2B, D]), each row L2-normalised
      to unit length, and sim = z @ z.T / temperature ([2B, 2B]). Row i's
      positive is j = i + B for i < B and j = i - B for i >= B; its negatives
      are every other row except i itself (self-similarity is excluded, not
      merely zeroed):
        l_i = -sim[i, j] + log(sum over k != i of exp(sim[i, k]))
      loss = mean of l_i over the 2B rows.
    """
    # BEGIN SOLUTION
    z = torch.cat([z1, z2], dim=0)
    z = z / z.norm(dim=1, keepdim=True)
    sim = z @ z.T / temperature
    n = z.shape[0]
    b = n // 2
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    pos = torch.cat([torch.arange(b, n), torch.arange(0, b)]).to(z.device)
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    return -log_prob[torch.arange(n, device=z.device), pos].mean()
    # END SOLUTION


def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    """The linear schedule of DDPM (Ho et al., 2020).

    Inputs:
    - T: the number of diffusion steps, an int >= 1
    - beta_start, beta_end: the first and the last beta

    Returns:
    - betas: float64, shape [T], evenly spaced from beta_start to beta_end, both
      included, exactly as torch.linspace(beta_start, beta_end, T, dtype=float64)
    """
    # BEGIN SOLUTION
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    # END SOLUTION


def cosine_beta_schedule(T, s=0.008, max_beta=0.999):
    """The cosine schedule of Nichol & Dhariwal (2021).

    Inputs:
    - T: the number of diffusion steps, an int >= 1
    - s: the small offset
    - max_beta: the clip applied to every beta

    Returns:
    - betas: float64, shape [T]. With
        abar(u) = cos(((u / T) + s) / (1 + s) * pi / 2) ** 2,
      betas[t] = min(1 - abar(t + 1) / abar(t), max_beta) for t = 0..T-1.
      (The last beta is clipped to max_beta.) Compute in float64.
    """
    # BEGIN SOLUTION
    u = torch.arange(T + 1, dtype=torch.float64)
    abar = torch.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2
    betas = 1 - abar[1:] / abar[:-1]
    return betas.clamp(max=max_beta)
    # END SOLUTION


def q_sample(x0, t, noise, alphas_cumprod):
    """Sample x_t from q(x_t | x_0): noise clean images to step t in one go.

    Inputs:
    - x0: clean images, shape [B, ...] (e.g. [B, C, H, W])
    - t: int64, shape [B], each in 0..T-1 (0-indexed: t = 0 is the first step)
    - noise: standard normal noise, the shape of x0
    - alphas_cumprod: float64, shape [T]

    Returns:
    - x_t: the shape and dtype of x0; for each sample b, with a = alphas_cumprod[t[b]]:
        x_t[b] = sqrt(a) * x0[b] + sqrt(1 - a) * noise[b]
    """
    # BEGIN SOLUTION
    shape = (-1,) + (1,) * (x0.dim() - 1)
    a = alphas_cumprod.to(x0.device)[t].to(x0.dtype).reshape(shape)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
    # END SOLUTION


def ddpm_loss(model, x0, t, noise, alphas_cumprod):
    """The simple DDPM training loss: predict the noise that was added.

    Inputs:
    - model: a module called as model(x_t, t) -> predicted noise, the shape of x_t
    - x0, t, noise, alphas_cumprod: as in q_sample

    Returns:
    - loss: a 0-d tensor, the mean over every element of
        (model(x_t, t) - noise) ** 2,  x_t = q_sample(x0, t, noise, alphas_cumprod)
      Gradients must flow to the model's parameters (do not detach, do not call
      backward, do not change the model's mode).
    """
    # BEGIN SOLUTION
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    return ((model(x_t, t) - noise) ** 2).mean()
    # END SOLUTION


def p_sample_step(model, x_t, t, noise, betas):
    """One ancestral sampling step of DDPM: x_{t-1} from x_t.

    Inputs:
    - model: a module called ONCE as model(x_t, t_batch), with t_batch an int64
      tensor of shape [N] (N = x_t.shape[0]) filled with t, on x_t's device
    - x_t: the current images, shape [N, ...]
    - t: the current step, a Python int in 0..T-1
    - noise: standard normal noise, the shape of x_t
    - betas: float64, shape [T]

    Returns:
    - x_prev: the shape and dtype of x_t. With alphas = 1 - betas,
      abar = cumprod(alphas) and eps = model(x_t, t_batch):
        mean = (x_t - betas[t] / sqrt(1 - abar[t]) * eps) / sqrt(alphas[t])
        x_prev = mean + sqrt(betas[t]) * noise   if t > 0
        x_prev = mean                            if t == 0 (no noise is added)
    """
    # BEGIN SOLUTION
    alphas = 1 - betas
    abar = torch.cumprod(alphas, dim=0)
    t_batch = torch.full((x_t.shape[0],), t, dtype=torch.int64, device=x_t.device)
    eps = model(x_t, t_batch)
    beta = betas[t].item()
    mean = (x_t - beta / math.sqrt(1 - abar[t].item()) * eps) / math.sqrt(alphas[t].item())
    if t > 0:
        return mean + math.sqrt(beta) * noise
    return mean
    # END SOLUTION
