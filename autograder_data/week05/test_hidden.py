"""Week 05 hidden tests: the corners of every function (float32 and float64, batch of 1,
one channel, non-square and non-contiguous inputs, large values, a constant channel,
weight decay on and off, steps past the end of the schedule), and the loops on
other models, optimizers and batch sizes. Hidden feedback names the mistake but
never shows expected values.
"""

from torch import nn  # noqa: F401  (scenarios run where `nn` and `device` are predefined)

import math

import pytest
import torch

from grader.proxy import LocalReference
from grader.testing import check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64


def tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == f32 else dict(rtol=1e-9, atol=1e-11)


# ------------------------------------------------------------------ batch norm and dropout
def bn_alt(x, gamma, beta, rm, rv, training, momentum=0.1, eps=1e-5, *, biased_running=False,
           swapped_momentum=False, over_n_only=False, batch_in_eval=False, eps_outside=False):
    """Batch norm done right, or wrong as the flags say -> (out, running_mean, running_var)."""
    rm, rv = rm.clone(), rv.clone()
    dims = [0] if over_n_only else [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    if training or batch_in_eval:
        mean, var = x.mean(dims, keepdim=True), x.var(dims, unbiased=False, keepdim=True)
        if training:
            n = x.numel() // x.shape[1] if not over_n_only else x.shape[0]
            mb = mean.mean(dims) if over_n_only else mean.reshape(-1)
            vb = var.mean(dims) if over_n_only else var.reshape(-1)
            vu = vb if biased_running else vb * n / max(n - 1, 1)
            if swapped_momentum:
                rm, rv = momentum * rm + (1 - momentum) * mb, momentum * rv + (1 - momentum) * vu
            else:
                rm, rv = (1 - momentum) * rm + momentum * mb, (1 - momentum) * rv + momentum * vu
    else:
        mean, var = rm.reshape(shape), rv.reshape(shape)
    x_hat = (x - mean) / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())
    return gamma.reshape(shape) * x_hat + beta.reshape(shape), rm, rv


BN_HINTS = {
    "running_var": {
        "running_var is updated with the BIASED batch variance: F.batch_norm stores the unbiased one, "
        "var * n / (n - 1), n the number of values per feature": dict(biased_running=True),
        "the momentum is swapped: running = (1 - momentum) * running + momentum * batch_statistic":
            dict(swapped_momentum=True),
    },
    "running_mean": {
        "the momentum is swapped: running = (1 - momentum) * running + momentum * batch_statistic":
            dict(swapped_momentum=True),
    },
    "out": {
        "for [N, C, H, W] the statistics are per CHANNEL, over N, H and W (dims 0, 2, 3), not over N only":
            dict(over_n_only=True),
        "in eval mode (training=False) normalise with running_mean and running_var, not the batch's statistics":
            dict(batch_in_eval=True),
        "eps belongs inside the square root: (x - mean) / sqrt(var + eps)": dict(eps_outside=True),
    },
}


def grade_batchnorm(student, x, gamma, beta, rm, rv, training, momentum, eps):
    want = bn_alt(x, gamma, beta, rm, rv, training, momentum, eps)
    srm, srv = rm.clone(), rv.clone()
    inputs = (x.clone(), gamma.clone(), beta.clone())
    out = student.batchnorm_forward(x, gamma, beta, srm, srv, training, momentum, eps)
    if any(not torch.equal(a, b) for a, b in zip((x, gamma, beta), inputs)):
        fail("batchnorm_forward modified x, gamma or beta in place: only running_mean and running_var change")
    t = tol(x.dtype)
    for name, got, k in (("out", out, 0), ("running_mean", srm, 1), ("running_var", srv, 2)):
        if name != "out" and not training and not torch.equal(got, (rm, rv)[k - 1]):
            fail(f"batchnorm_forward changed {name} with training=False: in eval mode nothing is updated")
        if name != "out" and training and torch.equal(got, (rm, rv)[k - 1]):
            fail(f"{name} was not updated: in training mode update it IN PLACE "
                 f"({name}.mul_(1 - momentum).add_(momentum * batch_statistic)); rebinding the name changes "
                 "nothing outside the function")
        alts = {text: (lambda f=f, k=k: bn_alt(x, gamma, beta, rm, rv, training, momentum, eps, **f)[k])
                for text, f in BN_HINTS[name].items()}
        check(got, want[k], name=name, hints=alts, **t)


def drop_alt(x, p, training, mask, *, no_scale=False, by_p=False, times=False, always=False):
    if not training and not always:
        return x
    m = mask.to(x.dtype)
    if no_scale:
        return x * m
    if by_p:
        return x * m / p
    if times:
        return x * m * (1 - p)
    return x * m / (1 - p)


DROP_HINTS = {
    "the kept units are not scaled: inverted dropout divides by (1 - p) when training": dict(no_scale=True),
    "divided by p: p is the probability of DROPPING a unit, divide by the keep probability 1 - p": dict(by_p=True),
    "multiplied by (1 - p): inverted dropout DIVIDES the kept units by (1 - p) at training time": dict(times=True),
    "dropout was applied with training=False: at test time the output is x itself": dict(always=True),
}


def grade_dropout(student, x, p, training, mask):
    out = student.dropout_forward(x, p, training, mask)
    check_unmodified(student)
    alts = {text: (lambda f=f: drop_alt(x, p, training, mask, **f)) for text, f in DROP_HINTS.items()}
    check(out, drop_alt(x, p, training, mask), name="out", hints=alts, **tol(x.dtype))


# ------------------------------------------------------------------ the optimizers
def sgd_alt(ps, gs, vs, lr, mom, wd, *, lr_in_v=False, no_wd=False, dampening=False, decoupled=False):
    for p, g, v in zip(ps, gs, vs):
        d = g if (no_wd or decoupled) else g + wd * p
        if lr_in_v:
            v.mul_(mom).add_(lr * d)
            p.sub_(v)
        else:
            v.mul_(mom).add_((1 - mom) * d if dampening else d)
            p.sub_(lr * v)
        if decoupled:
            p.sub_(lr * wd * p)


SGD_HINTS = {
    "the velocity holds lr * gradient: torch.optim.SGD keeps v = momentum * v + g and steps p -= lr * v":
        dict(lr_in_v=True),
    "weight decay is missing: add weight_decay * p to the gradient first": dict(no_wd=True),
    "the gradient is damped by (1 - momentum): torch.optim.SGD (dampening=0) adds g itself": dict(dampening=True),
    "the weight decay is applied to p after the step: torch.optim.SGD adds weight_decay * p to the GRADIENT "
    "before the momentum": dict(decoupled=True),
}


def adam_alt(p, g, m, v, step, lr, betas, eps, wd, *, no_bias=False, eps_inside=False, step0=False,
             adamw=False, no_wd=False):
    b1, b2 = betas
    d = g if (adamw or no_wd) else g + wd * p
    if adamw:
        p.mul_(1 - lr * wd)
    m.mul_(b1).add_((1 - b1) * d)
    v.mul_(b2).add_((1 - b2) * d * d)
    t = step + 1 if step0 else step
    mh, vh = (m, v) if no_bias else (m / (1 - b1 ** t), v / (1 - b2 ** t))
    p.sub_(lr * mh / ((vh + eps).sqrt() if eps_inside else vh.sqrt() + eps))


ADAM_HINTS = {
    "the bias correction is missing: m_hat = m / (1 - beta1**step), v_hat = v / (1 - beta2**step)":
        dict(no_bias=True),
    "eps belongs outside the square root: p -= lr * m_hat / (sqrt(v_hat) + eps)": dict(eps_inside=True),
    "the bias correction uses step + 1: `step` already counts from 1": dict(step0=True),
    "that is AdamW (decoupled decay): torch.optim.Adam adds weight_decay * param to the gradient": dict(adamw=True),
    "weight decay is missing: add weight_decay * param to the gradient first": dict(no_wd=True),
}


def grade_sgd(student, rng, shapes, dtype, steps, lr, mom, wd, transpose=False):
    start = [torch.randn(*s, dtype=dtype, generator=rng) for s in shapes]
    if transpose:
        start = [p.T if p.dim() == 2 else p for p in start]
    ps = [p.clone() for p in start]  # clone keeps a transposed view's strides
    vs = [torch.zeros_like(p) for p in ps]
    history = []
    for _ in range(steps):
        gs = [torch.randn(p.shape, dtype=dtype, generator=rng) for p in ps]
        gcopy = [g.clone() for g in gs]
        history.append(gcopy)
        before = [p.clone() for p in ps]
        student.sgd_momentum_step(ps, gs, vs, lr, mom, wd)
        if any(not torch.equal(a, b) for a, b in zip(gs, gcopy)):
            fail("sgd_momentum_step modified the gradients: only params and velocities change")
        if all(torch.equal(a, b) for a, b in zip(ps, before)):
            fail("sgd_momentum_step left the parameters unchanged: update each tensor IN PLACE (p.sub_(...), "
                 "v.mul_(...).add_(...)); `p = p - lr * v` only rebinds a local name")

    def replay(flags, what):
        ap = [p.clone() for p in start]
        av = [torch.zeros_like(p) for p in ap]
        for gs in history:
            sgd_alt(ap, gs, av, lr, mom, wd, **flags)
        return torch.cat([t.reshape(-1) for t in (ap if what == "params" else av)])

    for what, got in (("params", ps), ("velocities", vs)):
        alts = {text: (lambda f=f, w=what: replay(f, w)) for text, f in SGD_HINTS.items()}
        check(torch.cat([t.reshape(-1) for t in got]), replay({}, what), name=f"{what} after {steps} steps",
              hints=alts, **tol(dtype))


def grade_adam(student, rng, shape, dtype, steps, lr, betas, eps, wd, transpose=False):
    start = torch.randn(*shape, dtype=dtype, generator=rng)
    if transpose:
        start = start.T
    p = start.clone()
    m, v = torch.zeros_like(p), torch.zeros_like(p)
    history = []
    for step in range(1, steps + 1):
        g = torch.randn(p.shape, dtype=dtype, generator=rng)
        gcopy = g.clone()
        history.append(gcopy)
        before = p.clone()
        student.adam_step(p, g, m, v, step, lr, betas, eps, wd)
        if not torch.equal(g, gcopy):
            fail("adam_step modified grad: only param, m and v change")
        if torch.equal(p, before):
            fail("adam_step left param unchanged: update param, m and v IN PLACE (param.sub_(...), m.mul_(...)"
                 ".add_(...)); `param = param - ...` only rebinds a local name")

    def replay(flags, k):
        ap = start.clone()
        am, av = torch.zeros_like(ap), torch.zeros_like(ap)
        for step, g in enumerate(history, 1):
            adam_alt(ap, g, am, av, step, lr, betas, eps, wd, **flags)
        return (ap, am, av)[k]

    for k, (name, got) in enumerate((("param", p), ("m", m), ("v", v))):
        alts = {text: (lambda f=f, k=k: replay(f, k)) for text, f in ADAM_HINTS.items()}
        check(got, replay({}, k), name=f"{name} after {steps} steps", hints=alts, **tol(dtype))


# ------------------------------------------------------------------ the schedules
def step_alt(step, base_lr, step_size, gamma, *, true_div=False, plus_one=False):
    e = step / step_size if true_div else step // step_size + (1 if plus_one else 0)
    return base_lr * gamma ** e


STEP_HINTS = {
    "step / step_size is a true division: the rate drops in whole steps, gamma ** (step // step_size)":
        dict(true_div=True),
    "the first decay comes too early: the exponent is step // step_size (0 for the first step_size steps)":
        dict(plus_one=True),
}


def cos_alt(step, total, base_lr, warmup, min_lr=0.0, *, no_clip=False, warm_plus_one=False, no_min=False,
            q_over_total=False):
    if step < warmup:
        return base_lr * ((step + 1) if warm_plus_one else step) / warmup
    q = (step / total) if q_over_total else (step - warmup) / (total - warmup)
    if not no_clip:
        q = min(q, 1.0)
    lo = 0.0 if no_min else min_lr
    return lo + 0.5 * (base_lr - lo) * (1 + math.cos(math.pi * q))


COS_HINTS = {
    "q is not clipped to 1: after total_steps the rate must stay at min_lr": dict(no_clip=True),
    "the warm-up is off by one: it is base_lr * step / warmup_steps, 0 at step 0": dict(warm_plus_one=True),
    "min_lr is ignored: the cosine goes from base_lr down to min_lr": dict(no_min=True),
    "the cosine ignores the warm-up: q = (step - warmup_steps) / (total_steps - warmup_steps)":
        dict(q_over_total=True),
}


def grade_schedule(student, function, args, kwargs=None):
    kwargs = kwargs or {}
    got = getattr(student, function)(*args, **kwargs)
    alt_fn, hints = (step_alt, STEP_HINTS) if function == "step_decay_lr" else (cos_alt, COS_HINTS)
    alts = {text: (lambda f=f: alt_fn(*args, **kwargs, **f)) for text, f in hints.items()}
    check(got, alt_fn(*args, **kwargs), name=f"{function}{tuple(args)}", hints=alts, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ the loops, by behaviour
def loop(module, function, seed, dtype, sizes, opt_name, mode, classes=3, conv=False):
    """Build a tiny seeded model (BatchNorm, dropout), a generated loader of batches of `sizes`, an
    optimizer with stale gradients on the parameters; run the loop and return the evidence: the loss
    (and accuracy), the mode after the call, whether the model ran with gradients enabled, and the
    parameters, buffers and optimizer state flattened into one float64 vector."""
    torch.manual_seed(seed)
    if conv:
        model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Dropout(0.25),
                              nn.Flatten(), nn.Linear(3 * 4 * 3, classes))
        shape = (2, 4, 3)
    else:
        model = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.3), nn.Linear(6, classes))
        shape = (5,)
    model.to(device=device, dtype=dtype).train(mode)
    grad_on = []
    model.register_forward_hook(lambda m, i, o: grad_on.append(torch.is_grad_enabled()))
    g = torch.Generator().manual_seed(seed + 1)
    loader = [(torch.randn(n, *shape, generator=g, dtype=dtype), torch.randint(0, classes, (n,), generator=g))
              for n in sizes]
    loss_fn = nn.CrossEntropyLoss()
    if function == "train_one_epoch":
        if opt_name == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=0.01)
        else:
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for p in model.parameters():  # stale gradients from an earlier epoch
            p.grad = torch.randn(p.shape, generator=g, dtype=dtype).to(device)
        torch.manual_seed(seed + 2)
        out = module.train_one_epoch(model, loader, loss_fn, opt, device)
        values = [float(out)]
        state = [t for s in opt.state_dict()["state"].values() for t in s.values() if isinstance(t, torch.Tensor)]
    else:
        torch.manual_seed(seed + 2)
        loss, acc = module.evaluate(model, loader, loss_fn, device)
        values = [float(loss), float(acc)]
        state = []
    flat = torch.cat([t.detach().double().reshape(-1).cpu() for t in list(model.state_dict().values()) + state])
    return {"values": values, "training": model.training, "grad_enabled": any(grad_on), "flat": flat,
            "grads": [k for k, p in model.named_parameters() if p.grad is not None]}


class Loops:
    """The two loops written once more with named mistakes switched on (hints only)."""

    def __init__(self, **flags):
        self.f = flags

    def train_one_epoch(self, model, loader, loss_fn, optimizer, device="cpu"):
        if not self.f.get("no_train"):
            model.train()
        total, count, means = 0.0, 0, []
        for x, y in loader:
            if not self.f.get("no_zero_grad"):
                optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            if not self.f.get("no_step"):
                optimizer.step()
            total += loss.item() * len(y)
            count += len(y)
            means.append(loss.item())
        return sum(means) / len(means) if self.f.get("batch_means") else total / count

    def evaluate(self, model, loader, loss_fn, device="cpu"):
        model.eval()
        total, correct, count, means = 0.0, 0, 0, []
        with torch.no_grad():
            for x, y in loader:
                out = model(x)
                total += loss_fn(out, y).item() * len(y)
                means.append(loss_fn(out, y).item())
                correct += (out.argmax(1) == y).sum().item()
                count += len(y)
        if self.f.get("batch_means"):
            return sum(means) / len(means), correct / count
        return total / count, correct / count


TRAIN_HINTS = {
    "the gradients are never zeroed: call optimizer.zero_grad() before each backward, or they accumulate "
    "(and start from the stale gradients already on the parameters)": dict(no_zero_grad=True),
    "optimizer.step() is missing: the parameters never change": dict(no_step=True),
    "model.train() is missing: the model was handed over in eval mode, so dropout and BatchNorm ran as at "
    "test time": dict(no_train=True),
}
MEANS_HINT = {"the batch means are averaged: weight each batch's loss by its batch size and divide by the "
              "number of samples (the last batch is smaller)": dict(batch_means=True)}


def grade_loop(student, reference, function, seed, dtype, sizes, opt_name="sgd", mode=None, conv=False):
    mode = (function == "evaluate") if mode is None else mode  # handed over in the other mode by default
    args = (function, seed, dtype, sizes, opt_name, mode)
    got = student.run(loop, *args, conv=conv)
    want = reference.run(loop, *args, conv=conv)

    def alt(flags):
        return LocalReference(Loops(**flags)).run(loop, *args, conv=conv)

    t = tol(dtype)
    # the returned loss is a summary: a float32 0-d tensor of a float64 loss keeps its points
    lt = dict(rtol=max(t["rtol"], 1e-6), atol=max(t["atol"], 1e-7))
    if function == "train_one_epoch":
        if not got["training"]:
            fail("the model is in eval mode after train_one_epoch: call model.train() at the start "
                 "(it may have been handed over in eval mode)")
        check(got["values"][0], want["values"][0], name="mean loss",
              hints={k: (lambda f=f: alt(f)["values"][0]) for k, f in {**MEANS_HINT, **TRAIN_HINTS}.items()}, **lt)
        check(got["flat"], want["flat"], name="parameters, buffers and optimizer state",
              hints={k: (lambda f=f: alt(f)["flat"]) for k, f in TRAIN_HINTS.items()}, **t)
    else:
        if got["training"]:
            fail("the model is in train mode after evaluate: call model.eval() first (dropout and BatchNorm "
                 "behave differently in train mode)")
        if got["grad_enabled"]:
            fail("evaluate ran the model with gradients enabled: wrap the loop in `with torch.no_grad():`")
        check(got["values"][0], want["values"][0], name="mean loss",
              hints={k: (lambda f=f: alt(f)["values"][0]) for k, f in MEANS_HINT.items()}, **lt)
        check(got["values"][1], want["values"][1], name="accuracy", rtol=1e-6, atol=1e-7)
        check(got["flat"], want["flat"], name="parameters and buffers", **t)
        if got["grads"]:
            fail(f"evaluate left gradients on {', '.join(got['grads'])}: evaluation never calls backward")


def gen(rng, *shape, dtype=f64, scale=1.0, shift=0.0):
    return scale * torch.randn(*shape, dtype=dtype, generator=rng) + shift


def seed_from(rng):
    return int(torch.randint(0, 2 ** 30, (1,), generator=rng))


# ------------------------------------------------------------------ tests
@pytest.mark.function("batchnorm_forward")
@pytest.mark.points(3)
def test_batchnorm_training_shapes(student, rng):
    """[N, D] and [N, C, H, W] in training mode: batch of 2, one channel, non-square, large values, a
    transposed view"""
    for dtype in (f32, f64):
        cases = [(2, 5), (7, 1), (3, 1, 4, 2), (1, 4, 3, 5), (5, 2, 1, 1)]
        for shape in cases:
            C = shape[1]
            x = gen(rng, *shape, dtype=dtype, scale=3.0, shift=2.0)
            grade_batchnorm(student, x, gen(rng, C, dtype=dtype, shift=1.0), gen(rng, C, dtype=dtype),
                            gen(rng, C, dtype=dtype), gen(rng, C, dtype=dtype).abs() + 0.5, True, 0.1, 1e-5)
        x = gen(rng, 4, 3, 5, 6, dtype=dtype, scale=1e3).transpose(2, 3)
        grade_batchnorm(student, x, gen(rng, 3, dtype=dtype), gen(rng, 3, dtype=dtype),
                        gen(rng, 3, dtype=dtype), gen(rng, 3, dtype=dtype).abs() + 0.5, True, 0.3, 1e-3)
        x = gen(rng, 6, 8, dtype=dtype)[:, ::2]
        grade_batchnorm(student, x, gen(rng, 4, dtype=dtype), gen(rng, 4, dtype=dtype),
                        gen(rng, 4, dtype=dtype), gen(rng, 4, dtype=dtype).abs() + 0.5, True, 0.05, 1e-5)


@pytest.mark.function("batchnorm_forward")
@pytest.mark.points(1)
def test_batchnorm_eval_and_constant_channel(student, rng):
    """eval mode on [3, 2, 4, 4] and [1, 5] (nothing updated); a constant channel (variance exactly zero)"""
    grade_batchnorm(student, gen(rng, 3, 2, 4, 4), gen(rng, 2), gen(rng, 2), gen(rng, 2),
                    gen(rng, 2).abs() + 0.5, False, 0.1, 1e-5)
    grade_batchnorm(student, gen(rng, 1, 5), gen(rng, 5), gen(rng, 5), gen(rng, 5),
                    gen(rng, 5).abs() + 0.5, False, 0.1, 1e-5)
    x = gen(rng, 4, 3)
    x[:, 1] = 2.5
    grade_batchnorm(student, x, gen(rng, 3), gen(rng, 3), gen(rng, 3), gen(rng, 3).abs() + 0.5, True, 0.1, 1e-5)


@pytest.mark.function("dropout_forward")
@pytest.mark.points(1)
def test_dropout_forward_hidden(student, rng):
    """[N, C, H, W] with a float mask, p = 0.5 and 0.1, a transposed view, p = 0 keeps everything, eval mode"""
    for dtype in (f32, f64):
        x = gen(rng, 2, 3, 4, 5, dtype=dtype)
        grade_dropout(student, x, 0.5, True, (torch.rand(2, 3, 4, 5, generator=rng) > 0.5).to(dtype))
        x = gen(rng, 6, 3, dtype=dtype, scale=1e4).T
        grade_dropout(student, x, 0.1, True, torch.rand(3, 6, generator=rng) > 0.1)
        grade_dropout(student, x, 0.0, True, torch.ones(3, 6, dtype=torch.bool))
        grade_dropout(student, x, 0.7, False, torch.rand(3, 6, generator=rng) > 0.7)


@pytest.mark.function("sgd_momentum_step")
@pytest.mark.points(2)
def test_sgd_momentum_step_hidden(student, rng):
    """five steps, with and without weight decay, three params (one [1], one transposed view)"""
    for dtype in (f32, f64):
        grade_sgd(student, rng, [(2, 5), (1,), (3, 3, 2)], dtype, 5, 0.05, 0.9, 0.0)
        grade_sgd(student, rng, [(4, 3), (6,)], dtype, 5, 0.2, 0.5, 0.1, transpose=True)


@pytest.mark.function("adam_step")
@pytest.mark.points(2)
def test_adam_step_hidden(student, rng):
    """six steps with other betas and eps, with and without weight decay, a transposed view, a [1] param"""
    for dtype in (f32, f64):
        grade_adam(student, rng, (3, 5), dtype, 6, 0.01, (0.8, 0.99), 1e-6, 0.0)
        grade_adam(student, rng, (5, 2), dtype, 6, 0.05, (0.9, 0.999), 1e-8, 0.1, transpose=True)
        grade_adam(student, rng, (1,), dtype, 3, 0.1, (0.5, 0.9), 1e-3, 0.01)


@pytest.mark.function("step_decay_lr")
@pytest.mark.points(1)
def test_step_decay_lr_hidden(student):
    """step_size 1 and 4, gamma 0.1 and 0.9, steps up to 20"""
    for step in range(21):
        grade_schedule(student, "step_decay_lr", (step, 0.3, 4, 0.9))
    for step in range(5):
        grade_schedule(student, "step_decay_lr", (step, 1.0, 1, 0.1))


@pytest.mark.function("cosine_warmup_lr")
@pytest.mark.points(1)
def test_cosine_warmup_lr_hidden(student):
    """no warm-up, a long warm-up, min_lr default and set, steps past the end"""
    for step in range(0, 25, 2):
        grade_schedule(student, "cosine_warmup_lr", (step, 20, 0.5, 0))
    for step in range(0, 30, 3):
        grade_schedule(student, "cosine_warmup_lr", (step, 25, 2.0, 9), {"min_lr": 0.2})


@pytest.mark.function("train_one_epoch")
@pytest.mark.points(1)
def test_train_one_epoch_sgd(student, reference, rng):
    """SGD with momentum, float64, batches 3, 3, 2, handed over in eval mode"""
    grade_loop(student, reference, "train_one_epoch", seed_from(rng), f64, (3, 3, 2))


@pytest.mark.function("train_one_epoch")
@pytest.mark.points(1)
def test_train_one_epoch_adam(student, reference, rng):
    """Adam with weight decay, float32, batches 6, 6, 6, 2, handed over in eval mode"""
    grade_loop(student, reference, "train_one_epoch", seed_from(rng), f32, (6, 6, 6, 2), opt_name="adam")


@pytest.mark.function("train_one_epoch")
@pytest.mark.points(1)
def test_train_one_epoch_convnet(student, reference, rng):
    """a small ConvNet (BatchNorm2d, dropout) handed over in train mode, float64, batches 2, 2, 1"""
    grade_loop(student, reference, "train_one_epoch", seed_from(rng), f64, (2, 2, 1), mode=True, conv=True)


@pytest.mark.function("evaluate")
@pytest.mark.points(1)
def test_evaluate_mlp32(student, reference, rng):
    """float32 MLP, batches 7, 7, 1, handed over in train mode"""
    grade_loop(student, reference, "evaluate", seed_from(rng), f32, (7, 7, 1))


@pytest.mark.function("evaluate")
@pytest.mark.points(1)
def test_evaluate_convnet(student, reference, rng):
    """float64 ConvNet, batches 4, 3, handed over in eval mode (nothing may change)"""
    grade_loop(student, reference, "evaluate", seed_from(rng), f64, (4, 3), mode=False, conv=True)
