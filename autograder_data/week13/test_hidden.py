"""Week 13 hidden tests: run only by `dlgrade grade`.

Corners: NT-Xent with a batch of 1, D = 1 (ties: every similarity is +-1),
float32 and float64, non-contiguous views, rows far from and near zero norm,
the default and small temperatures; schedules with T = 1, 2 and 1000, other
ends, a clip that bites early; q_sample on a batch of 1, on [B, D] and on
non-contiguous images, float32, t at 0 and T-1; ddpm_loss and p_sample_step
(scenarios, a model that records its t) at t = 0, 1 and T-1, float32 and
float64, a batch of 1, a model handed over in train mode. A test calls only
the function it grades.

Points: nt_xent_loss 3, linear_beta_schedule 1, cosine_beta_schedule 2,
q_sample 2, ddpm_loss 3, p_sample_step 3 (14 in all; the public suite adds 1
per function).
"""

from torch import nn  # noqa: F401  (scenarios run where `nn` and `device` are predefined)

import math

import pytest
import torch

from grader.proxy import LocalReference
from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


def tol(dtype):
    """Tolerances for a number (a 0-d tensor or a Python float both pass)."""
    return dict(rtol=1e-4, atol=1e-6) if dtype == f32 else dict(rtol=1e-7, atol=1e-10)


# ---------------------------------------------------------------- second implementations (hints)
def nt_xent_variant(z1, z2, temperature, *, no_norm=False, keep_self=False, no_temp=False, pos_self=False,
                    rows_b=False):
    z = torch.cat([z1, z2]).double()
    if not no_norm:
        z = z / z.norm(dim=1, keepdim=True)
    sim = z @ z.T
    if not no_temp:
        sim = sim / temperature
    n = z.shape[0]
    b = n // 2
    if not keep_self:
        sim = sim.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    pos = torch.arange(n) if pos_self else torch.cat([torch.arange(b, n), torch.arange(b)])
    lp = sim - torch.logsumexp(sim, 1, keepdim=True)
    if pos_self:
        lp = lp.masked_fill(torch.isinf(lp), 0.0)
    rows = -lp[torch.arange(n), pos]
    return rows[:b].mean() if rows_b else rows.mean()


NT_XENT_HINTS = {
    "the self-similarity is not excluded: row i's denominator sums over every k != i (mask the diagonal "
    "with -inf before the log-sum-exp)": dict(keep_self=True),
    "the projections are not L2-normalised: divide each row of z by its norm before the dot products":
        dict(no_norm=True),
    "the temperature is not applied: divide the cosine similarities by temperature": dict(no_temp=True),
    "only the first B rows are averaged: the loss is the mean over all 2B rows (both views)": dict(rows_b=True),
}


def linear_variant(T, a, b, *, arange=False, float32=False):
    if arange:
        return a + (b - a) * torch.arange(T, dtype=f64) / T
    out = torch.linspace(a, b, T, dtype=f32 if float32 else f64)
    return out


LINEAR_HINTS = {
    "the betas do not reach beta_end: the last beta is beta_end exactly (torch.linspace includes both "
    "ends; arange(T) / T stops one step short)": dict(arange=True),
}


def cosine_variant(T, s, m, *, no_clip=False, shifted=False, no_square=False, no_s_div=False):
    u = torch.arange(T + 2, dtype=f64)
    f = torch.cos(((u / T + s) / (1 if no_s_div else 1 + s)) * math.pi / 2)
    abar = f if no_square else f ** 2
    betas = 1 - abar[1:] / abar[:-1]
    betas = betas[1:T + 1] if shifted else betas[:T]
    return betas if no_clip else betas.clamp(max=m)


COSINE_HINTS = {
    "the betas are not clipped: beta_t = min(1 - abar(t+1)/abar(t), max_beta)": dict(no_clip=True),
    "the betas are shifted by one step: beta_t uses abar(t+1)/abar(t) for t = 0..T-1 (abar(0) included)":
        dict(shifted=True),
    "the cosine is not squared: abar(u) = cos(((u/T) + s)/(1 + s) * pi/2) ** 2": dict(no_square=True),
    "the (1 + s) divisor is missing: abar(u) = cos(((u/T) + s)/(1 + s) * pi/2) ** 2": dict(no_s_div=True),
}


def q_variant(x0, t, noise, abar, *, no_sqrt=False, one_indexed=False, alpha_not_cumprod=False):
    a = abar
    if alpha_not_cumprod:
        a = torch.cat([a[:1], a[1:] / a[:-1]])
    idx = (t - 1).clamp(min=0) if one_indexed else t
    c = a[idx].to(x0.dtype).reshape((-1,) + (1,) * (x0.dim() - 1))
    if no_sqrt:
        return c * x0 + (1 - c) * noise
    return c.sqrt() * x0 + (1 - c).sqrt() * noise


Q_HINTS = {
    "the square roots are missing: x_t = sqrt(abar_t) * x0 + sqrt(1 - abar_t) * noise": dict(no_sqrt=True),
    "t is used as 1-indexed: t is 0-indexed, the coefficient of sample b is alphas_cumprod[t[b]]":
        dict(one_indexed=True),
}


# ---------------------------------------------------------------- the model scenario
def diffuse(module, function, seed, dtype, train, *args):
    """Build a small seeded model that records the t it receives, call `function` on it in the worker
    and return the answer with evidence (a student's ddpm_loss that calls its own q_sample gets a right
    q_sample, so that ddpm_loss is graded on its own): the t tensors it saw (dtype, shape, values), the parameter
    gradients after a backward of the loss (ddpm_loss), whether the model's parameters changed, its
    mode, gradients left on the parameters (p_sample_step) and the inputs it modified."""

    class NoiseNet(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv = nn.Conv2d(channels, channels, 3, padding=1)
            self.w_t = nn.Parameter(torch.tensor(0.02))
            self.seen = []

        def forward(self, x, t):
            self.seen.append(t.detach().clone())
            return torch.tanh(self.conv(x)) + self.w_t * t.to(x.dtype).reshape(-1, 1, 1, 1)

    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(seed)
    model = NoiseNet(args[0].shape[1])
    model.to(device=device, dtype=dtype).train(train)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    inputs = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    args = [a.to(device) if isinstance(a, torch.Tensor) else a for a in args]
    if function == "p_sample_step":
        out = module.p_sample_step(model, *args)
    else:
        def q_sample(x0, t, noise, alphas_cumprod):  # a right one: ddpm_loss is graded on its own
            a = alphas_cumprod.to(x0.device)[t].to(x0.dtype).reshape((-1,) + (1,) * (x0.dim() - 1))
            return a.sqrt() * x0 + (1 - a).sqrt() * noise

        own = getattr(module, "q_sample", None)
        if own is not None:
            module.q_sample = q_sample
        try:
            out = module.ddpm_loss(model, *args)
        finally:
            if own is not None:
                module.q_sample = own
    seen = [(str(t.dtype), list(t.shape), t.cpu().tolist()) for t in model.seen]
    left = [k for k, p in model.named_parameters() if p.grad is not None]
    grads = None
    if function == "ddpm_loss" and isinstance(out, torch.Tensor) and out.requires_grad:
        model.zero_grad()
        out.backward()
        grads = {k: p.grad.detach().cpu().clone() for k, p in model.named_parameters()}
    after = model.state_dict()
    value = out.detach().cpu() if isinstance(out, torch.Tensor) else out
    return {"out": value, "seen": seen, "grads": grads, "training": model.training, "left": left,
            "changed": [k for k in before if not torch.equal(before[k], after[k].to(before[k].device))],
            "modified": [i for i, (a, b) in enumerate(zip(args, inputs))
                         if isinstance(a, torch.Tensor) and not torch.equal(a.cpu(), b.cpu())]}


class Variant:
    """ddpm_loss and p_sample_step written once more, with named mistakes switched on (hints only)."""

    def __init__(self, **flags):
        self.f = flags

    def ddpm_loss(self, model, x0, t, noise, abar):
        x_t = q_variant(x0, t.cpu(), noise, abar.cpu(), one_indexed=self.f.get("one_indexed", False))
        eps = model(x0 if self.f.get("x0") else x_t, t)
        if self.f.get("vs_x0"):
            return ((eps - x0) ** 2).mean()
        if self.f.get("sum"):
            return ((eps - noise) ** 2).sum()
        if self.f.get("per_sample"):
            return ((eps - noise) ** 2).flatten(1).sum(1).mean()
        return ((eps - noise) ** 2).mean()

    def p_sample_step(self, model, x_t, t, noise, betas):
        betas = betas.cpu()
        alphas = 1 - betas
        abar = torch.cumprod(alphas, 0)
        tb = torch.full((x_t.shape[0],), t, dtype=torch.int64, device=x_t.device)
        with torch.no_grad():
            eps = model(x_t, tb)
        b, a, ab = float(betas[t]), float(alphas[t]), float(abar[t])
        if self.f.get("sqrt_abar"):
            mean = (x_t - b / math.sqrt(1 - ab) * eps) / math.sqrt(ab)
        elif self.f.get("no_sqrt_den"):
            mean = (x_t - b / (1 - ab) * eps) / math.sqrt(a)
        else:
            mean = (x_t - b / math.sqrt(1 - ab) * eps) / math.sqrt(a)
        if t > 0 or self.f.get("noise_at_0"):
            mean = mean + (b if self.f.get("var_not_std") else math.sqrt(b)) * noise
        return mean


DDPM_HINTS = {
    "the model is given x0: it must see the noised images x_t = q_sample(x0, t, noise, alphas_cumprod)":
        dict(x0=True),
    "the prediction is compared with x0: the DDPM loss is the mean squared error against the NOISE":
        dict(vs_x0=True),
    "the squared error is summed: the loss is the MEAN over every element": dict(sum=True),
    "the squared error is summed per sample then averaged: the loss is the mean over EVERY element":
        dict(per_sample=True),
    "t is used as 1-indexed: the coefficient of sample b is alphas_cumprod[t[b]]": dict(one_indexed=True),
}
STEP_HINTS = {
    "noise is added at t = 0: the last step (t == 0) returns the mean only": dict(noise_at_0=True),
    "the mean is divided by sqrt(abar_t): it is divided by sqrt(alpha_t) = sqrt(1 - beta_t)": dict(sqrt_abar=True),
    "the noise prediction is scaled by beta_t / (1 - abar_t): it is beta_t / sqrt(1 - abar_t)":
        dict(no_sqrt_den=True),
    "the noise is scaled by beta_t: the standard deviation is sqrt(beta_t)": dict(var_not_std=True),
}


def grade_model(student, reference, function, seed, dtype, train, *args, name, hints=None):
    got = student.run(diffuse, function, seed, dtype, train, *args)
    check_unmodified(student)
    want = reference.run(diffuse, function, seed, dtype, train, *args)
    if got["modified"]:
        fail(f"{function} modified an input in place; build new tensors instead")
    if function == "p_sample_step" and not got["seen"]:
        fail("p_sample_step did not call the model: eps = model(x_t, t_batch)")
    for dt, shape, values in got["seen"]:
        if dt != "torch.int64" or shape != want["seen"][0][1] or values != want["seen"][0][2]:
            fail(f"the model received t as {dt} of shape {shape}: it is called as model(x_t, t) with t an "
                 f"int64 tensor of shape [N]" + (" filled with t" if function == "p_sample_step" else ""))
    if len(got["seen"]) != 1:
        fail(f"{function} called the model {len(got['seen'])} times: call it once")
    if got["changed"]:
        fail(f"{function} changed the model's {', '.join(got['changed'])}: it only calls the model")
    alts = {text: (lambda flags=flags: LocalReference(Variant(**flags)).run(
        diffuse, function, seed, dtype, train, *args)["out"]) for text, flags in (hints or {}).items()}
    if function == "ddpm_loss" and got["grads"] is None and not isinstance(got["out"], BaseException):
        fail("the loss does not reach the model's parameters: return a tensor built from model(x_t, t) "
             "(no .item(), no float(), no .detach(), no torch.no_grad())")
    check(got["out"], want["out"], name=name, hints=alts, **(tol(dtype) if function == "ddpm_loss" else {}))
    if function == "ddpm_loss":
        check(got["grads"], want["grads"], name="the parameter gradients of the loss", **tol(dtype))
        if got["training"] != train:
            fail("ddpm_loss changed the model's mode: leave train()/eval() to the caller")


def schedule(rng, T, dtype):
    betas = torch.linspace(1e-3, 0.2, T, dtype=f64) * (1 + 0.1 * torch.rand(T, dtype=f64, generator=rng))
    return betas, torch.cumprod(1 - betas, 0)


def seed_from(rng):
    return int(torch.randint(0, 2 ** 30, (1,), generator=rng))


def run_nt(student, reference, z1, z2, temp=None, name="loss"):
    args = (z1, z2) if temp is None else (z1, z2, temp)
    out = student.nt_xent_loss(*args)
    check_unmodified(student)
    t = 0.5 if temp is None else temp
    check(out, reference.nt_xent_loss(*args), name=name, **tol(z1.dtype),
          hints={h: (lambda f=f: nt_xent_variant(z1, z2, t, **f).to(z1.dtype)) for h, f in NT_XENT_HINTS.items()})


def run_linear(student, reference, *args):
    out = student.linear_beta_schedule(*args)
    if isinstance(out, torch.Tensor) and out.dtype != f64:
        fail(f"the betas are {out.dtype}: the schedule is float64 (torch.linspace(..., dtype=torch.float64))")
    a, b = (args[1], args[2]) if len(args) == 3 else (1e-4, 0.02)
    check(out, reference.linear_beta_schedule(*args), name="betas",
          hints={h: (lambda f=f: linear_variant(args[0], a, b, **f)) for h, f in LINEAR_HINTS.items()})


def run_cosine(student, reference, *args):
    out = student.cosine_beta_schedule(*args)
    if isinstance(out, torch.Tensor) and out.dtype != f64:
        fail(f"the betas are {out.dtype}: compute the schedule in float64")
    s, m = (args[1], args[2]) if len(args) == 3 else (0.008, 0.999)
    check(out, reference.cosine_beta_schedule(*args), name="betas", rtol=1e-9, atol=1e-12,
          hints={h: (lambda f=f: cosine_variant(args[0], s, m, **f)) for h, f in COSINE_HINTS.items()})


def run_q(student, reference, x0, t, noise, abar):
    out = student.q_sample(x0, t, noise, abar)
    check_unmodified(student)
    check(out, reference.q_sample(x0, t, noise, abar), name="x_t",
          hints={h: (lambda f=f: q_variant(x0, t, noise, abar, **f)) for h, f in Q_HINTS.items()})


# ------------------------------------------------------------------ tests
@pytest.mark.function("nt_xent_loss")
@pytest.mark.points(1)
def test_nt_xent_shapes_and_dtypes(student, reference, rng):
    """B = 1 and B = 5 x D = 3, float32 and float64, default and 0.07 temperature"""
    for B, D, dtype, temp in ((1, 4, f64, None), (5, 3, f32, 0.07), (3, 8, f64, 1.0)):
        z1 = torch.randn(B, D, dtype=dtype, generator=rng)
        z2 = torch.randn(B, D, dtype=dtype, generator=rng)
        run_nt(student, reference, z1, z2, temp, name=f"loss (B = {B}, {str(dtype)[6:]})")


@pytest.mark.function("nt_xent_loss")
@pytest.mark.points(1)
def test_nt_xent_views_and_ties(student, reference, rng):
    """non-contiguous (transposed, sliced) z1 and z2; D = 1 (every similarity is +-1: ties)"""
    z1 = torch.randn(6, 4, dtype=f64, generator=rng).T
    z2 = torch.randn(4, 12, dtype=f64, generator=rng)[:, ::2]
    run_nt(student, reference, z1, z2, 0.3, name="loss (views)")
    z1 = torch.tensor([[2.0], [-1.0], [0.5]], dtype=f64)
    z2 = torch.tensor([[3.0], [1.0], [-4.0]], dtype=f64)
    run_nt(student, reference, z1, z2, 0.5, name="loss (D = 1)")


@pytest.mark.function("nt_xent_loss")
@pytest.mark.points(1)
def test_nt_xent_magnitudes(student, reference, rng):
    """rows of norm 1e4 and 1e-3, temperature 0.05 (large logits: stability), float32"""
    z1 = torch.randn(4, 5, generator=rng) * 1e4
    z2 = torch.randn(4, 5, generator=rng) * 1e-3
    run_nt(student, reference, z1, z2, 0.05, name="loss (large and small rows)")


@pytest.mark.function("linear_beta_schedule")
@pytest.mark.points(1)
def test_linear_beta_schedule_corners(student, reference):
    """T = 1, 2, 1000 (defaults), and decreasing ends"""
    run_linear(student, reference, 1, 1e-4, 0.02)
    run_linear(student, reference, 2, 1e-4, 0.02)
    run_linear(student, reference, 1000)
    run_linear(student, reference, 7, 0.3, 0.05)


@pytest.mark.function("cosine_beta_schedule")
@pytest.mark.points(1)
def test_cosine_beta_schedule_lengths(student, reference):
    """T = 1, 2 and 1000, the defaults"""
    for T in (1, 2, 1000):
        run_cosine(student, reference, T)


@pytest.mark.function("cosine_beta_schedule")
@pytest.mark.points(1)
def test_cosine_beta_schedule_arguments(student, reference):
    """s = 0.1 and max_beta = 0.3 (the clip bites on several steps), T = 12"""
    run_cosine(student, reference, 12, 0.1, 0.3)


@pytest.mark.function("q_sample")
@pytest.mark.points(1)
def test_q_sample_dtypes_and_shapes(student, reference, rng):
    """a batch of 1 at t = T-1, [B, D] float32 with t = 0 and T-1, [2, 1, 5, 3] float32"""
    _, abar = schedule(rng, 30, f64)
    x0 = torch.randn(1, 3, 4, 2, dtype=f64, generator=rng)
    run_q(student, reference, x0, torch.tensor([29]), torch.randn(1, 3, 4, 2, dtype=f64, generator=rng), abar)
    x0 = torch.randn(4, 7, generator=rng)
    run_q(student, reference, x0, torch.tensor([0, 29, 3, 0]), torch.randn(4, 7, generator=rng), abar)
    x0 = torch.randn(2, 1, 5, 3, generator=rng)
    run_q(student, reference, x0, torch.tensor([12, 1]), torch.randn(2, 1, 5, 3, generator=rng), abar)


@pytest.mark.function("q_sample")
@pytest.mark.points(1)
def test_q_sample_views(student, reference, rng):
    """non-contiguous x0 and noise (a permuted batch), large values, repeated t"""
    _, abar = schedule(rng, 15, f64)
    x0 = (100 * torch.randn(3, 4, 2, 5, dtype=f64, generator=rng)).permute(2, 0, 3, 1)
    noise = torch.randn(3, 2, 5, 4, dtype=f64, generator=rng).transpose(0, 1)
    run_q(student, reference, x0, torch.tensor([14, 14]), noise, abar)


@pytest.mark.function("ddpm_loss")
@pytest.mark.points(2)
def test_ddpm_loss_both_ends(student, reference, rng):
    """t = [0, T-1, 1, 0] float64, then a batch of 1 at T-1, float32 (loss and parameter gradients)"""
    _, abar = schedule(rng, 25, f64)
    x0 = torch.randn(4, 2, 3, 5, dtype=f64, generator=rng)
    noise = torch.randn(4, 2, 3, 5, dtype=f64, generator=rng)
    grade_model(student, reference, "ddpm_loss", seed_from(rng), f64, True, x0, torch.tensor([0, 24, 1, 0]), noise,
                abar, name="loss", hints=DDPM_HINTS)
    x0 = torch.randn(1, 1, 4, 4, generator=rng)
    noise = torch.randn(1, 1, 4, 4, generator=rng)
    grade_model(student, reference, "ddpm_loss", seed_from(rng), f32, False, x0, torch.tensor([24]), noise,
                abar, name="loss (float32, batch of 1)", hints=DDPM_HINTS)


@pytest.mark.function("ddpm_loss")
@pytest.mark.points(1)
def test_ddpm_loss_views(student, reference, rng):
    """non-contiguous x0 and noise, float32, several t"""
    _, abar = schedule(rng, 40, f64)
    x0 = torch.randn(3, 3, 5, 4, generator=rng).transpose(2, 3)
    noise = torch.randn(3, 4, 3, 5, generator=rng).transpose(1, 2)
    grade_model(student, reference, "ddpm_loss", seed_from(rng), f32, True, x0, torch.tensor([39, 17, 2]), noise,
                abar, name="loss (views)", hints=DDPM_HINTS)


@pytest.mark.function("p_sample_step")
@pytest.mark.points(2)
def test_p_sample_step_ends(student, reference, rng):
    """T = 30 at t = T-1, 1 and 0, float64, a model handed over in train mode at t = 1"""
    betas, _ = schedule(rng, 30, f64)
    for t, train in ((29, False), (1, True), (0, False)):
        x = torch.randn(3, 2, 3, 4, dtype=f64, generator=rng)
        noise = torch.randn(3, 2, 3, 4, dtype=f64, generator=rng)
        grade_model(student, reference, "p_sample_step", seed_from(rng), f64, train, x, t, noise, betas,
                    name=f"x_prev at t = {t}", hints=STEP_HINTS)


@pytest.mark.function("p_sample_step")
@pytest.mark.points(1)
def test_p_sample_step_float32(student, reference, rng):
    """a batch of 1 and a non-contiguous batch, float32, cosine-like betas up to 0.5"""
    betas = torch.linspace(0.01, 0.5, 8, dtype=f64)
    x = torch.randn(1, 1, 5, 3, generator=rng)
    grade_model(student, reference, "p_sample_step", seed_from(rng), f32, False, x, 7, torch.randn(1, 1, 5, 3,
                generator=rng), betas, name="x_prev (batch of 1)", hints=STEP_HINTS)
    x = torch.randn(2, 4, 3, 3, generator=rng).transpose(0, 1)
    noise = torch.randn(4, 2, 3, 3, generator=rng)
    grade_model(student, reference, "p_sample_step", seed_from(rng), f32, False, x, 3, noise, betas,
                name="x_prev (view)", hints=STEP_HINTS)
