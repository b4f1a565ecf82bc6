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
