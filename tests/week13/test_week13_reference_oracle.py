"""The week13 reference solution against oracles that share none of its code.

NT-Xent against a doubly looped form (one Python sum per row, in float64) and
against the normalise + cross-entropy form (F.normalize, the diagonal removed
by indexing, F.cross_entropy), values and gradients. The schedules against
torch.linspace and against values computed by hand with the math module.
q_sample, ddpm_loss (value and parameter gradients) and p_sample_step against
per-sample closed forms at several t including 0 and T-1, with a model that
records the t it receives (t = 0 adds no noise).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week13" / "ssl_diffusion.py"
DTYPES = [torch.float32, torch.float64]


def _load():
    spec = importlib.util.spec_from_file_location("week13_reference", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load()


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)


def nt_xent_loop(z1, z2, temperature):
    z = torch.cat([z1, z2]).double()
    n = z.shape[0]
    b = n // 2
    units = [z[i] / math.sqrt(float((z[i] * z[i]).sum())) for i in range(n)]
    total = 0.0
    for i in range(n):
        j = i + b if i < b else i - b
        denom = 0.0
        for k in range(n):
            if k != i:
                denom += math.exp(float(units[i] @ units[k]) / temperature)
        total += -float(units[i] @ units[j]) / temperature + math.log(denom)
    return total / n


def nt_xent_ce(z1, z2, temperature):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z.shape[0]
    b = n // 2
    sim = z @ z.T / temperature
    off = ~torch.eye(n, dtype=torch.bool)
    logits = sim[off].reshape(n, n - 1)  # row i without column i
    pos = torch.cat([torch.arange(b, n), torch.arange(b)])
    target = pos - (pos > torch.arange(n)).long()  # the column shifts left past the diagonal
    return F.cross_entropy(logits, target)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,D,temp", [(1, 3, 0.5), (4, 7, 0.1), (5, 2, 1.0), (3, 16, 0.07)])
def test_nt_xent_against_loop_and_cross_entropy(dtype, B, D, temp):
    g = torch.Generator().manual_seed(B * 31 + D)
    z1 = (torch.randn(B, D, generator=g) * 3).to(dtype)
    z2 = (torch.randn(B, D, generator=g) * 0.2).to(dtype)
    got = ref.nt_xent_loss(z1, z2, temp)
    assert got.dim() == 0 and got.dtype == dtype
    assert math.isclose(float(got), nt_xent_loop(z1, z2, temp), rel_tol=1e-5 if dtype == torch.float32 else 1e-11)
    a1, a2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    b1, b2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    ref.nt_xent_loss(a1, a2, temp).backward()
    oracle = nt_xent_ce(b1, b2, temp)
    torch.testing.assert_close(ref.nt_xent_loss(z1, z2, temp), oracle.detach(), **_tol(dtype))
    oracle.backward()
    torch.testing.assert_close(a1.grad, b1.grad, **_tol(dtype))
    torch.testing.assert_close(a2.grad, b2.grad, **_tol(dtype))


def test_nt_xent_default_temperature_and_scale_invariance():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(3, 4, generator=g, dtype=torch.float64)
    assert math.isclose(float(ref.nt_xent_loss(z1, z2)), nt_xent_loop(z1, z2, 0.5), rel_tol=1e-12)
    assert math.isclose(float(ref.nt_xent_loss(z1 * 1e4, z2 * 1e-4)), nt_xent_loop(z1, z2, 0.5), rel_tol=1e-10)


def test_nt_xent_identical_views_by_hand():
    # B = 2 orthogonal unit rows, both views equal: row i sees its positive (cos 1),
    # the other image twice (cos 0), so l = -1/T + log(e^{1/T} + 2).
    z = torch.eye(2, dtype=torch.float64)
    T = 0.5
    expected = -1 / T + math.log(math.exp(1 / T) + 2)
    assert math.isclose(float(ref.nt_xent_loss(z, z.clone(), T)), expected, rel_tol=1e-12)


@pytest.mark.parametrize("T,a,b", [(1, 1e-4, 0.02), (2, 1e-4, 0.02), (1000, 1e-4, 0.02), (7, 0.3, 0.05)])
def test_linear_schedule(T, a, b):
    got = ref.linear_beta_schedule(T, a, b)
    assert got.dtype == torch.float64 and got.shape == (T,)
    assert torch.equal(got, torch.linspace(a, b, T, dtype=torch.float64))
    hand = [a + (b - a) * i / (T - 1) for i in range(T)] if T > 1 else [a]
    torch.testing.assert_close(got, torch.tensor(hand, dtype=torch.float64), rtol=1e-14, atol=1e-16)
    assert torch.equal(ref.linear_beta_schedule(T), torch.linspace(1e-4, 0.02, T, dtype=torch.float64))


def _cos_hand(T, s, max_beta):
    def abar(u):
        return math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2

    return [min(1 - abar(t + 1) / abar(t), max_beta) for t in range(T)]


@pytest.mark.parametrize("T,s,m", [(1, 0.008, 0.999), (5, 0.008, 0.999), (1000, 0.008, 0.999), (10, 0.1, 0.5)])
def test_cosine_schedule(T, s, m):
    got = ref.cosine_beta_schedule(T, s, m)
    assert got.dtype == torch.float64 and got.shape == (T,)
    torch.testing.assert_close(got, torch.tensor(_cos_hand(T, s, m), dtype=torch.float64), rtol=1e-12, atol=1e-15)
    assert float(got[-1]) == m  # abar(T) ~ 0: the last beta is clipped
    torch.testing.assert_close(ref.cosine_beta_schedule(T), torch.tensor(_cos_hand(T, 0.008, 0.999), dtype=torch.float64))


class RecordingModel(nn.Module):
    """eps = tanh(conv(x)) + w_t * t: depends on x, on its parameters and on t; records t."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.w_t = nn.Parameter(torch.tensor(0.01))
        self.seen = []

    def forward(self, x, t):
        self.seen.append(t.clone())
        return torch.tanh(self.conv(x)) + self.w_t * t.to(x.dtype).reshape(-1, 1, 1, 1)


def _abar(T):
    betas = ref.linear_beta_schedule(T, 1e-3, 0.2)
    out, p = [], 1.0
    for bt in betas.tolist():
        p *= 1 - bt
        out.append(p)
    return betas, torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_q_sample_per_sample(dtype):
    T = 20
    _, abar = _abar(T)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(5, 2, 3, 4, generator=g).to(dtype)
    noise = torch.randn(5, 2, 3, 4, generator=g).to(dtype)
    t = torch.tensor([0, T - 1, 7, 0, 13])
    got = ref.q_sample(x0, t, noise, abar)
    assert got.dtype == dtype and got.shape == x0.shape
    for b in range(5):
        a = float(abar[int(t[b])])
        torch.testing.assert_close(got[b], math.sqrt(a) * x0[b] + math.sqrt(1 - a) * noise[b], **_tol(dtype))
    # a non-contiguous [B, D] input
    xv = torch.randn(6, 4, generator=g).to(dtype).T
    nv = torch.randn(6, 4, generator=g).to(dtype).T
    t2 = torch.tensor([3, 0, T - 1, 1])
    got2 = ref.q_sample(xv, t2, nv, abar)
    for b in range(4):
        a = float(abar[int(t2[b])])
        torch.testing.assert_close(got2[b], math.sqrt(a) * xv[b] + math.sqrt(1 - a) * nv[b], **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_ddpm_loss_value_and_parameter_gradients(dtype):
    T = 30
    _, abar = _abar(T)
    g = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    model = RecordingModel(2).to(dtype)
    oracle_model = RecordingModel(2).to(dtype)
    oracle_model.load_state_dict(model.state_dict())
    x0 = torch.randn(4, 2, 5, 3, generator=g).to(dtype)
    noise = torch.randn(4, 2, 5, 3, generator=g).to(dtype)
    t = torch.tensor([0, T - 1, 11, 4])
    loss = ref.ddpm_loss(model, x0, t, noise, abar)
    assert loss.dim() == 0 and loss.dtype == dtype
    assert len(model.seen) == 1 and torch.equal(model.seen[0], t)
    loss.backward()
    # oracle: one sample at a time, the squared error summed and divided by the element count
    total = 0.0
    for b in range(4):
        a = float(abar[int(t[b])])
        xt = math.sqrt(a) * x0[b : b + 1] + math.sqrt(1 - a) * noise[b : b + 1]
        total = total + ((oracle_model(xt, t[b : b + 1]) - noise[b : b + 1]) ** 2).sum()
    total = total / x0.numel()
    total.backward()
    torch.testing.assert_close(loss.detach(), total.detach(), **_tol(dtype))
    for (name, p), q in zip(model.named_parameters(), oracle_model.parameters()):
        assert p.grad is not None, name
        torch.testing.assert_close(p.grad, q.grad, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [0, 1, 9, 19])
def test_p_sample_step_closed_form(dtype, t):
    T = 20
    betas, abar = _abar(T)
    g = torch.Generator().manual_seed(3 + t)
    torch.manual_seed(3)
    model = RecordingModel(3).to(dtype)
    x = torch.randn(3, 3, 4, 2, generator=g).to(dtype)
    noise = torch.randn(3, 3, 4, 2, generator=g).to(dtype)
    got = ref.p_sample_step(model, x, t, noise, betas)
    assert got.dtype == dtype and got.shape == x.shape
    assert len(model.seen) == 1
    seen = model.seen[0]
    assert seen.dtype == torch.int64 and seen.shape == (3,) and torch.equal(seen, torch.full((3,), t))
    bt = float(betas[t])
    for b in range(3):
        with torch.no_grad():
            eps = model(x[b : b + 1], torch.tensor([t]))[0]
        mean = (x[b] - bt / math.sqrt(1 - float(abar[t])) * eps) / math.sqrt(1 - bt)
        expected = mean + math.sqrt(bt) * noise[b] if t > 0 else mean
        torch.testing.assert_close(got[b], expected, **_tol(dtype))
    if t == 0:
        model.seen.clear()
        assert torch.equal(ref.p_sample_step(model, x, 0, noise * 100, betas), got)


def test_nt_xent_gradients_against_finite_differences():
    g = torch.Generator().manual_seed(5)
    z1 = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ref.nt_xent_loss(a, b, 0.3), (z1, z2))
    # and the looped form's value moves as the reference's gradient says (a directional derivative)
    d1, d2 = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(3, 4, generator=g, dtype=torch.float64)
    ref.nt_xent_loss(z1, z2, 0.3).backward()
    h = 1e-6
    za, zb = z1.detach(), z2.detach()
    numeric = (nt_xent_loop(za + h * d1, zb + h * d2, 0.3) - nt_xent_loop(za - h * d1, zb - h * d2, 0.3)) / (2 * h)
    analytic = float((z1.grad * d1).sum() + (z2.grad * d2).sum())
    assert math.isclose(numeric, analytic, rel_tol=1e-6, abs_tol=1e-8)
