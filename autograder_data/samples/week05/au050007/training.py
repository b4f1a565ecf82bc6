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
