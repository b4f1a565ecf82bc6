#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week13/: a sample class for week13 (`ssl_diffusion.py`).

    python autograder_data/samples/make_week13_samples.py

Deterministic (running it twice gives the same bytes); standard library only.

- correct (au130001-au130005): plain loops (NT-Xent row by row, schedules step by step,
  q_sample sample by sample); vectorised (F.normalize, logsumexp, gather, F.mse_loss);
  a helper module with a Schedule class of its own, NT-Xent in float64 cast back; a
  notebook; a zip.
- wrong (au130006-au130010): self-similarity kept in NT-Xent; unclipped cosine betas;
  q_sample without square roots; a summed DDPM loss; noise added at t = 0.
- partial (au130011): three functions still raise NotImplementedError.
- broken (au130012-au130014): a syntax error, a missing function, an endless loop.
"""

from __future__ import annotations

from pathlib import Path

from samplekit import Entry, notebook_cells_from_module, remove_function, replace_function, replace_text, src, \
    stub, write_class

HERE = Path(__file__).resolve().parent
WEEK = "week13"
FUNCTIONS = ["nt_xent_loss", "linear_beta_schedule", "cosine_beta_schedule", "q_sample", "ddpm_loss",
             "p_sample_step"]
ALL = list(FUNCTIONS)

LOOPS = src('''
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


    def cosine_beta_schedule(T, s=0.008, max_beta=0.999):
        def abar(u):
            return math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2

        betas = [min(1 - abar(t + 1) / abar(t), max_beta) for t in range(T)]
        return torch.tensor(betas, dtype=torch.float64)


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
''')

VECTORISED = src('''
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
''')

OWN_HELPERS = src('''
    """My helpers for the diffusion exercises."""
    import math

    import torch


    class Schedule:
        def __init__(self, betas):
            self.betas = betas.double()
            self.alphas = 1 - self.betas
            self.abar = torch.cumprod(self.alphas, 0)

        def coef(self, t, like):
            a = self.abar.to(like.device)[t].to(like.dtype)
            return a.reshape([-1] + [1] * (like.dim() - 1))


    def unit_rows(z):
        return z / z.norm(dim=1, keepdim=True)
''')

OWN = src('''
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
''')

BASE = VECTORISED


def build_class() -> list[Entry]:
    e = []
    e.append(Entry("au130001", "folder", "correct", [],
                   "plain loops: NT-Xent row by row with its own log-sum-exp, the cosine schedule with math.cos, "
                   "q_sample sample by sample", files={"ssl_diffusion.py": LOOPS}))
    e.append(Entry("au130002", "folder", "correct", [],
                   "vectorised: F.normalize, a -1e9 diagonal, logsumexp and gather, F.mse_loss, "
                   "a no_grad sampling step", files={"ssl_diffusion.py": VECTORISED}))
    e.append(Entry("au130003", "folder", "correct", [],
                   "a Schedule class of its own in helpers.py; NT-Xent in float64, cast back",
                   files={"ssl_diffusion.py": OWN, "helpers.py": OWN_HELPERS}))
    # no decorator in the notebook: notebook_cells_from_module would leave it at the end of the cell before
    cells = notebook_cells_from_module(VECTORISED.replace("@torch.no_grad()\n", ""), "# Week 13: SimCLR and DDPM\nau130004", FUNCTIONS, [
        ("markdown", "## Checks"),
        ("code", "print(linear_beta_schedule(5))\nprint(cosine_beta_schedule(5))\n"
                 "z = torch.randn(4, 8)\nprint(nt_xent_loss(z, z + 0.1 * torch.randn(4, 8)))"),
    ])
    e.append(Entry("au130004", "ipynb", "correct", [], "Colab notebook, vectorised, with check cells", cells=cells))
    e.append(Entry("au130005", "zip", "correct", [],
                   "zip made like dlgrade submit with two files (ssl_diffusion.py imports helpers.py)",
                   files={"ssl_diffusion.py": OWN, "helpers.py": OWN_HELPERS}))

    e.append(Entry("au130006", "folder", "wrong", ["nt_xent_loss"],
                   "nt_xent_loss keeps each row's self-similarity in the denominator",
                   files={"ssl_diffusion.py": replace_text(
                       BASE, "    logits = logits - 1e9 * torch.eye(n, dtype=z.dtype, device=z.device)\n", "")}))
    e.append(Entry("au130007", "folder", "wrong", ["cosine_beta_schedule"],
                   "cosine_beta_schedule forgets the max_beta clip",
                   files={"ssl_diffusion.py": replace_text(BASE, "torch.clip(1 - f[1:] / f[:-1], max=max_beta)",
                                                           "1 - f[1:] / f[:-1]")}))
    e.append(Entry("au130008", "folder", "wrong", ["q_sample"],
                   "q_sample uses abar and 1 - abar without square roots",
                   files={"ssl_diffusion.py": replace_text(BASE, "torch.sqrt(a) * x0 + torch.sqrt(1 - a) * noise",
                                                           "a * x0 + (1 - a) * noise")}))
    e.append(Entry("au130009", "folder", "wrong", ["ddpm_loss"],
                   "ddpm_loss sums the squared error (reduction='sum')",
                   files={"ssl_diffusion.py": replace_text(BASE, "t), noise)\n", "t), noise, reduction='sum')\n")}))
    e.append(Entry("au130010", "folder", "wrong", ["p_sample_step"],
                   "p_sample_step adds noise at t = 0 too",
                   files={"ssl_diffusion.py": replace_text(BASE, "mean + (t > 0) * betas", "mean + betas")}))
    e.append(Entry("au130011", "folder", "partial", ["q_sample", "ddpm_loss", "p_sample_step"],
                   "NT-Xent and the schedules done; q_sample, ddpm_loss and p_sample_step raise NotImplementedError",
                   files={"ssl_diffusion.py": stub(LOOPS, "q_sample", "ddpm_loss", "p_sample_step")}))
    e.append(Entry("au130012", "folder", "broken", ALL,
                   "syntax error (a def without its colon): gradable, scores 0 everywhere",
                   files={"ssl_diffusion.py": replace_text(
                       VECTORISED, "def q_sample(x0, t, noise, alphas_cumprod):",
                       "def q_sample(x0, t, noise, alphas_cumprod)")}))
    e.append(Entry("au130013", "folder", "broken", ["cosine_beta_schedule"],
                   "cosine_beta_schedule is not defined; the other five are right",
                   files={"ssl_diffusion.py": remove_function(LOOPS, "cosine_beta_schedule")}))
    e.append(Entry("au130014", "folder", "broken", ["linear_beta_schedule"],
                   "linear_beta_schedule builds the list with a while loop and forgets to advance: an endless loop",
                   files={"ssl_diffusion.py": replace_function(VECTORISED, '''
                       def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
                           out, i = [], 0
                           while i < T:
                               out.append(beta_start + (beta_end - beta_start) * i / max(T - 1, 1))
                           return torch.tensor(out, dtype=torch.float64)
                   ''')}))
    return e


def main() -> None:
    write_class(HERE / WEEK, WEEK, FUNCTIONS, build_class(), "make_week13_samples.py", may_not_compile=("au130012",))


if __name__ == "__main__":
    main()
