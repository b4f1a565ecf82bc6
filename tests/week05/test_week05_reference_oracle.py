"""The week05 reference solution against oracles that share none of its code.

batchnorm_forward against F.batch_norm (output and the in-place running-stat
update with the unbiased variance) for [N, D] and [N, C, H, W], in both modes;
dropout against the formula; sgd_momentum_step and adam_step stepped side by side
with torch.optim.SGD and torch.optim.Adam, with and without weight decay, the
tensors' identity kept; the schedules against StepLR and hand-computed values;
the two loops against a loop written out here on an identical deep copy.
"""

from __future__ import annotations

import copy
import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week05" / "training.py"
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(scope="module")
def ref():
    spec = importlib.util.spec_from_file_location("week05_reference", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (1, 4, 1), (2, 3, 4, 5), (1, 1, 3, 2), (7, 2, 1, 1)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_against_torch(ref, dtype, shape, training):
    g = torch.Generator().manual_seed(sum(shape))
    if shape == (1, 4, 1):
        shape = (3, 4)
    x = 3 * torch.randn(*shape, dtype=dtype, generator=g) + 2
    C = shape[1]
    gamma, beta = torch.rand(C, dtype=dtype, generator=g) + 0.5, torch.randn(C, dtype=dtype, generator=g)
    rm, rv = torch.randn(C, dtype=dtype, generator=g), torch.rand(C, dtype=dtype, generator=g) + 0.5
    rm2, rv2 = rm.clone(), rv.clone()
    x0 = x.clone()
    out = ref.batchnorm_forward(x, gamma, beta, rm, rv, training, momentum=0.3, eps=1e-4)
    want = F.batch_norm(x, rm2, rv2, gamma, beta, training, 0.3, 1e-4)
    torch.testing.assert_close(out, want, **tol(dtype))
    torch.testing.assert_close(rm, rm2, **tol(dtype))
    torch.testing.assert_close(rv, rv2, **tol(dtype))
    assert torch.equal(x, x0)
    assert out.dtype == dtype


def test_batchnorm_against_module_non_contiguous(ref):
    x = torch.randn(4, 6, 5, 3, dtype=torch.float64).transpose(2, 3)
    bn = nn.BatchNorm2d(6, momentum=0.1).double()
    rm, rv = bn.running_mean.clone(), bn.running_var.clone()
    out = ref.batchnorm_forward(x, bn.weight.detach(), bn.bias.detach(), rm, rv, True)
    torch.testing.assert_close(out, bn(x).detach())
    torch.testing.assert_close(rm, bn.running_mean)
    torch.testing.assert_close(rv, bn.running_var)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout(ref, dtype):
    x = torch.randn(4, 5, dtype=dtype)
    mask = torch.rand(4, 5) > 0.3
    for keep in (mask, mask.to(dtype)):
        out = ref.dropout_forward(x, 0.3, True, keep)
        want = torch.where(mask, x / 0.7, torch.zeros_like(x))
        torch.testing.assert_close(out, want)
    torch.testing.assert_close(ref.dropout_forward(x, 0.3, False, mask), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 0.05])
def test_sgd_against_torch(ref, dtype, wd):
    g = torch.Generator().manual_seed(1)
    params = [torch.randn(3, 4, dtype=dtype, generator=g), torch.randn(5, dtype=dtype, generator=g)]
    torch_params = [p.clone().requires_grad_(True) for p in params]
    opt = torch.optim.SGD(torch_params, lr=0.1, momentum=0.8, weight_decay=wd)
    vel = [torch.zeros_like(p) for p in params]
    ids = [id(t) for t in params + vel]
    for _ in range(4):
        grads = [torch.randn(p.shape, dtype=dtype, generator=g) for p in params]
        for tp, gr in zip(torch_params, grads):
            tp.grad = gr.clone()
        opt.step()
        gcopy = [gr.clone() for gr in grads]
        assert ref.sgd_momentum_step(params, grads, vel, 0.1, 0.8, wd) is None
        assert all(torch.equal(a, b) for a, b in zip(grads, gcopy))
        for p, tp in zip(params, torch_params):
            torch.testing.assert_close(p, tp.detach(), **tol(dtype))
    for v, tp in zip(vel, torch_params):
        torch.testing.assert_close(v, opt.state[tp]["momentum_buffer"], **tol(dtype))
    assert ids == [id(t) for t in params + vel]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_against_torch(ref, dtype, wd):
    g = torch.Generator().manual_seed(2)
    p = torch.randn(4, 3, dtype=dtype, generator=g)
    tp = p.clone().requires_grad_(True)
    opt = torch.optim.Adam([tp], lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=wd)
    m, v = torch.zeros_like(p), torch.zeros_like(p)
    for step in range(1, 6):
        grad = torch.randn(p.shape, dtype=dtype, generator=g)
        tp.grad = grad.clone()
        opt.step()
        assert ref.adam_step(p, grad, m, v, step, 0.01, (0.8, 0.99), 1e-6, wd) is None
        torch.testing.assert_close(p, tp.detach(), **tol(dtype))
    torch.testing.assert_close(m, opt.state[tp]["exp_avg"], **tol(dtype))
    torch.testing.assert_close(v, opt.state[tp]["exp_avg_sq"], **tol(dtype))


def test_step_decay_against_steplr(ref):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.4)
    for step in range(10):
        assert math.isclose(ref.step_decay_lr(step, 0.5, 3, 0.4), opt.param_groups[0]["lr"], rel_tol=1e-12)
        opt.step()
        sched.step()


def test_cosine_warmup_by_hand(ref):
    f = ref.cosine_warmup_lr
    assert f(0, 10, 1.0, 2) == 0.0
    assert f(1, 10, 1.0, 2) == 0.5
    assert math.isclose(f(2, 10, 1.0, 2, 0.1), 1.0)
    assert math.isclose(f(6, 10, 1.0, 2, 0.1), 0.55)
    assert math.isclose(f(10, 10, 1.0, 2, 0.1), 0.1)
    assert math.isclose(f(15, 10, 1.0, 2, 0.1), 0.1)
    assert math.isclose(f(3, 10, 2.0, 0), 2.0 * 0.5 * (1 + math.cos(math.pi * 0.3)))


def tiny_model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.3), nn.Linear(6, 3)).double()


def loader(seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(11, 4, dtype=torch.float64, generator=g), torch.randint(0, 3, (11,), generator=g)
    return [(x[i:i + 4], y[i:i + 4]) for i in range(0, 11, 4)]  # 4, 4, 3


def test_train_one_epoch_against_a_written_out_loop(ref):
    model = tiny_model(0)
    twin = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt2 = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    model.eval()
    torch.manual_seed(5)
    got = ref.train_one_epoch(model, loader(1), nn.CrossEntropyLoss(), opt)
    torch.manual_seed(5)
    twin.train()
    losses, sizes = [], []
    for x, y in loader(1):
        for p in twin.parameters():
            p.grad = None
        loss = F.cross_entropy(twin(x), y)
        loss.backward()
        opt2.step()
        losses.append(loss.item())
        sizes.append(len(y))
    want = sum(l * n for l, n in zip(losses, sizes)) / sum(sizes)
    assert isinstance(got, float) and math.isclose(got, want, rel_tol=1e-12)
    assert model.training
    for (k, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        assert torch.equal(a, b), k


def test_evaluate_against_a_written_out_loop(ref):
    model = tiny_model(3)
    model.train()
    before = copy.deepcopy(model.state_dict())
    loss, acc = ref.evaluate(model, loader(2), nn.CrossEntropyLoss())
    twin = tiny_model(3).eval()
    x = torch.cat([b[0] for b in loader(2)])
    y = torch.cat([b[1] for b in loader(2)])
    out = twin(x).detach()
    assert math.isclose(loss, F.cross_entropy(out, y).item(), rel_tol=1e-10)
    assert acc == (out.argmax(1) == y).double().mean().item()
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
