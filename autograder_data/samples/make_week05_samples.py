#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week05/: a sample class for week05 (`training.py`).

    python autograder_data/samples/make_week05_samples.py

Deterministic (running it twice gives the same bytes); standard library only.
- correct (au050001-au050005): loops over the channels and the parameters; vectorised with
  the channels moved first and reshaped; a helper class of its own (a running-average meter)
  with float64 statistics cast back and losses returned as tensors; a notebook; a zip.
- wrong (au050006-au050010): one function broken the way students do (biased running variance;
  zero_grad forgotten; the mean of batch means in evaluate; F.batch_norm (banned); the Adam bias
  correction forgotten).
- partial (au050011): the two loops still raise NotImplementedError.
- broken (au050012-au050014): a syntax error, a missing function, an endless loop over the loader.
"""

from __future__ import annotations

from pathlib import Path

from samplekit import Entry, notebook_cells_from_module, remove_function, replace_function, replace_text, src, \
    stub, write_class

HERE = Path(__file__).resolve().parent
WEEK = "week05"
FUNCTIONS = ["batchnorm_forward", "dropout_forward", "sgd_momentum_step", "adam_step",
             "step_decay_lr", "cosine_warmup_lr", "train_one_epoch", "evaluate"]
ALL = list(FUNCTIONS)

# au050001: loops over channels and parameters, everything spelled out.
LOOPS = src('''
    """Week 05 with loops."""
    import math
    import torch


    def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        out = torch.empty_like(x)
        for c in range(x.shape[1]):
            xc = x[:, c]
            if training:
                mu = xc.mean()
                var = ((xc - mu) ** 2).mean()
                n = xc.numel()
                running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mu
                running_var[c] = (1 - momentum) * running_var[c] + momentum * var * n / (n - 1)
            else:
                mu, var = running_mean[c], running_var[c]
            out[:, c] = gamma[c] * (xc - mu) / torch.sqrt(var + eps) + beta[c]
        return out


    def dropout_forward(x, p, training, keep_mask):
        if training:
            return torch.where(keep_mask.bool(), x / (1 - p), torch.zeros_like(x))
        return x


    def sgd_momentum_step(params, grads, velocities, lr, momentum=0.9, weight_decay=0.0):
        for i in range(len(params)):
            g = grads[i] + weight_decay * params[i]
            velocities[i].mul_(momentum)
            velocities[i].add_(g)
            params[i].add_(velocities[i], alpha=-lr)


    def adam_step(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        b1, b2 = betas
        g = grad + weight_decay * param
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        m_hat = m / (1 - b1 ** step)
        v_hat = v / (1 - b2 ** step)
        param.addcdiv_(m_hat, v_hat.sqrt() + eps, value=-lr)


    def step_decay_lr(step, base_lr, step_size, gamma):
        lr = base_lr
        for _ in range(step // step_size):
            lr = lr * gamma
        return lr


    def cosine_warmup_lr(step, total_steps, base_lr, warmup_steps, min_lr=0.0):
        if step < warmup_steps:
            return base_lr * step / warmup_steps
        q = (step - warmup_steps) / (total_steps - warmup_steps)
        if q > 1:
            q = 1.0
        return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * q))


    def train_one_epoch(model, loader, loss_fn, optimizer, device="cpu"):
        model.train()
        losses, sizes = [], []
        for x, y in loader:
            x = x.to(device)
            y = y.to(device)
            optimizer.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            sizes.append(len(y))
        return sum(l * n for l, n in zip(losses, sizes)) / sum(sizes)


    def evaluate(model, loader, loss_fn, device="cpu"):
        model.eval()
        total = 0.0
        correct = 0
        seen = 0
        with torch.no_grad():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                out = model(x)
                total += loss_fn(out, y).item() * len(y)
                for i in range(len(y)):
                    if out[i].argmax().item() == y[i].item():
                        correct += 1
                seen += len(y)
        return total / seen, correct / seen
''')

# au050002: vectorised, the channels moved first.
VECTORISED = src('''
    import math
    import torch


    def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        C = x.shape[1]
        flat = x.transpose(0, 1).reshape(C, -1)          # [C, everything else]
        shape = (1, C) + (1,) * (x.dim() - 2)
        if training:
            mean = flat.mean(1)
            var = flat.var(1, unbiased=False)
            with torch.no_grad():
                running_mean.lerp_(mean, momentum)
                running_var.lerp_(flat.var(1, unbiased=True), momentum)
        else:
            mean, var = running_mean, running_var
        return (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + eps) * gamma.view(shape) + beta.view(shape)


    def dropout_forward(x, p, training, keep_mask):
        return x * keep_mask / (1 - p) if training else x.clone()


    def sgd_momentum_step(params, grads, velocities, lr, momentum=0.9, weight_decay=0.0):
        with torch.no_grad():
            for p, g, v in zip(params, grads, velocities):
                v.mul_(momentum).add_(g).add_(p, alpha=weight_decay)
                p.sub_(lr * v)


    def adam_step(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        b1, b2 = betas
        g = grad.add(param, alpha=weight_decay)
        m.lerp_(g, 1 - b1)
        v.mul_(b2).add_((1 - b2) * g.square())
        step_size = lr / (1 - b1 ** step)
        denom = v.sqrt() / math.sqrt(1 - b2 ** step) + eps
        param.sub_(step_size * m / denom)


    def step_decay_lr(step, base_lr, step_size, gamma):
        return base_lr * gamma ** (step // step_size)


    def cosine_warmup_lr(step, total_steps, base_lr, warmup_steps, min_lr=0.0):
        if step < warmup_steps:
            return base_lr * step / warmup_steps
        q = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
        return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * q)) / 2


    def train_one_epoch(model, loader, loss_fn, optimizer, device="cpu"):
        model.train()
        total, n = 0.0, 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.detach() * x.shape[0]
            n += x.shape[0]
        return (total / n).item()


    @torch.no_grad()
    def evaluate(model, loader, loss_fn, device="cpu"):
        model.eval()
        total, hits, n = 0.0, 0, 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            total += loss_fn(out, y) * len(y)
            hits += (out.argmax(1) == y).sum()
            n += len(y)
        return float(total / n), float(hits) / n
''')

# au050003: a running-average meter of its own; float64 statistics cast back; tensors returned.
OWN = src('''
    """Week 05 with a small meter class for the loops."""
    import math
    import torch


    class Meter:
        def __init__(self):
            self.sum, self.count = 0.0, 0

        def update(self, value, n):
            self.sum += float(value) * n
            self.count += n

        @property
        def avg(self):
            return self.sum / self.count


    def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        dims = tuple(d for d in range(x.dim()) if d != 1)
        shape = [1, -1] + [1] * (x.dim() - 2)
        xd = x.double()
        if training:
            mean = xd.mean(dims)
            var = ((xd - mean.view(shape)) ** 2).mean(dims)
            n = x.numel() / x.shape[1]
            running_mean.copy_((1 - momentum) * running_mean + momentum * mean.to(x.dtype))
            running_var.copy_((1 - momentum) * running_var + momentum * (var * n / (n - 1)).to(x.dtype))
        else:
            mean, var = running_mean.double(), running_var.double()
        y = (xd - mean.view(shape)) / (var.view(shape) + eps).sqrt()
        return (y * gamma.double().view(shape) + beta.double().view(shape)).to(x.dtype)


    def dropout_forward(x, p, training, keep_mask):
        if not training:
            return x
        scale = 1.0 / (1.0 - p)
        return x * keep_mask.to(x.dtype) * scale


    def sgd_momentum_step(params, grads, velocities, lr, momentum=0.9, weight_decay=0.0):
        for p, g, v in zip(params, grads, velocities):
            if weight_decay:
                g = g + weight_decay * p
            v.copy_(momentum * v + g)
            p.copy_(p - lr * v)


    def adam_step(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        g = grad + weight_decay * param if weight_decay else grad
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        param[...] = param - lr * (m / (1 - beta1 ** step)) / (torch.sqrt(v / (1 - beta2 ** step)) + eps)


    def step_decay_lr(step, base_lr, step_size, gamma):
        return base_lr * math.pow(gamma, step // step_size)


    def cosine_warmup_lr(step, total_steps, base_lr, warmup_steps, min_lr=0.0):
        if warmup_steps > 0 and step < warmup_steps:
            return base_lr * (step / warmup_steps)
        progress = min((step - warmup_steps) / (total_steps - warmup_steps), 1.0)
        return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


    def train_one_epoch(model, loader, loss_fn, optimizer, device="cpu"):
        meter = Meter()
        model.train()
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            for group in optimizer.param_groups:
                for p in group["params"]:
                    p.grad = None
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            meter.update(loss.item(), inputs.shape[0])
        return torch.tensor(meter.avg, dtype=torch.float64)


    def evaluate(model, loader, loss_fn, device="cpu"):
        model.eval()
        loss_meter, acc_meter = Meter(), Meter()
        with torch.no_grad():
            for inputs, targets in loader:
                inputs, targets = inputs.to(device), targets.to(device)
                logits = model(inputs)
                loss_meter.update(loss_fn(logits, targets).item(), len(targets))
                acc_meter.update((logits.argmax(dim=1) == targets).double().mean().item(), len(targets))
        return torch.tensor(loss_meter.avg, dtype=torch.float64), acc_meter.avg
''')

BASE = VECTORISED


def build_class() -> list[Entry]:
    e = []
    e.append(Entry("au050001", "folder", "correct", [],
                   "loops over the channels and the parameters; a Python loop for the accuracy",
                   files={"training.py": LOOPS}))
    e.append(Entry("au050002", "folder", "correct", [],
                   "vectorised: channels moved first, lerp_ for the running averages, rsqrt, @torch.no_grad() "
                   "on evaluate, the loss summed as a tensor", files={"training.py": VECTORISED}))
    e.append(Entry("au050003", "folder", "correct", [],
                   "a Meter class of its own; float64 batch statistics cast back; copy_ and [...] updates; "
                   "the losses returned as float64 0-d tensors; grads set to None by hand",
                   files={"training.py": OWN}))
    # LOOPS, not VECTORISED: notebook_cells_from_module splits cells at `def`, leaving a decorator behind
    cells = notebook_cells_from_module(LOOPS, "# Week 05: the training loop\nau050004", FUNCTIONS, [
        ("markdown", "## Checks"),
        ("code", "x = torch.randn(8, 3)\nprint(batchnorm_forward(x, torch.ones(3), torch.zeros(3), torch.zeros(3), "
                 "torch.ones(3), True).std(0))"),
    ])
    e.append(Entry("au050004", "ipynb", "correct", [],
                   "Colab notebook, the loop version; intake drops !pip, %matplotlib and the top-level checks",
                   cells=cells))
    e.append(Entry("au050005", "zip", "correct", [], "zip made like dlgrade submit, the Meter version",
                   files={"training.py": OWN}))

    e.append(Entry("au050006", "folder", "wrong", ["batchnorm_forward"],
                   "the running variance is updated with the biased variance",
                   files={"training.py": replace_text(BASE, "running_var.lerp_(flat.var(1, unbiased=True), momentum)",
                                                      "running_var.lerp_(var, momentum)")}))
    e.append(Entry("au050007", "folder", "wrong", ["train_one_epoch"],
                   "optimizer.zero_grad() forgotten: the gradients accumulate",
                   files={"training.py": replace_text(BASE, "        optimizer.zero_grad(set_to_none=True)\n", "")}))
    e.append(Entry("au050008", "folder", "wrong", ["evaluate"],
                   "evaluate returns the mean of the batch means (the last batch is smaller)",
                   files={"training.py": replace_function(BASE, '''
                       @torch.no_grad()
                       def evaluate(model, loader, loss_fn, device="cpu"):
                           model.eval()
                           losses, hits, n = [], 0, 0
                           for x, y in loader:
                               out = model(x.to(device))
                               losses.append(loss_fn(out, y.to(device)).item())
                               hits += (out.argmax(1) == y.to(device)).sum().item()
                               n += len(y)
                           return sum(losses) / len(losses), hits / n
                   ''')}))
    e.append(Entry("au050009", "folder", "wrong", ["batchnorm_forward"],
                   "batchnorm_forward calls F.batch_norm (values right): banned",
                   files={"training.py": replace_function(BASE, '''
                       def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
                           import torch.nn.functional as F
                           return F.batch_norm(x, running_mean, running_var, gamma, beta, training, momentum, eps)
                   ''')}))
    e.append(Entry("au050010", "folder", "wrong", ["adam_step"],
                   "adam_step without the bias correction",
                   files={"training.py": replace_function(BASE, '''
                       def adam_step(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
                           b1, b2 = betas
                           g = grad + weight_decay * param
                           m.mul_(b1).add_((1 - b1) * g)
                           v.mul_(b2).add_((1 - b2) * g * g)
                           param.sub_(lr * m / (v.sqrt() + eps))
                   ''')}))
    e.append(Entry("au050011", "folder", "partial", ["train_one_epoch", "evaluate"],
                   "the pure functions done; the two loops raise NotImplementedError",
                   files={"training.py": stub(LOOPS, "train_one_epoch", "evaluate")}))

    e.append(Entry("au050012", "folder", "broken", ALL,
                   "syntax error (a def without its colon): gradable, scores 0 everywhere",
                   files={"training.py": replace_text(VECTORISED, "def step_decay_lr(step, base_lr, step_size, gamma):",
                                                      "def step_decay_lr(step, base_lr, step_size, gamma)")}))
    e.append(Entry("au050013", "folder", "broken", ["dropout_forward"],
                   "dropout_forward is not defined; the rest is right",
                   files={"training.py": remove_function(OWN, "dropout_forward")}))
    e.append(Entry("au050014", "folder", "broken", ["train_one_epoch"],
                   "train_one_epoch walks the loader with an index and forgets i += 1: an endless loop",
                   files={"training.py": replace_function(LOOPS, '''
                       def train_one_epoch(model, loader, loss_fn, optimizer, device="cpu"):
                           model.train()
                           batches = list(loader)
                           total, n, i = 0.0, 0, 0
                           while i < len(batches):
                               x, y = batches[i]
                               optimizer.zero_grad()
                               loss = loss_fn(model(x), y)
                               loss.backward()
                               optimizer.step()
                               total += loss.item() * len(y)
                               n += len(y)
                           return total / n
                   ''')}))
    return e


def main() -> None:
    write_class(HERE / WEEK, WEEK, FUNCTIONS, build_class(), "make_week05_samples.py", may_not_compile=("au050012",))


if __name__ == "__main__":
    main()
