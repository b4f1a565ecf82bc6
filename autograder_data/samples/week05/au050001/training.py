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
