"""Week 05: training ConvNets I: batch normalisation and dropout by hand, the
SGD-with-momentum and Adam updates, two learning-rate schedules, and the
training and evaluation loops.

Conventions:
- Tensors are float32 or float64; results keep the input's dtype and device.
- `sgd_momentum_step` and `adam_step` update their tensors IN PLACE (the same
  tensor objects, e.g. `p.add_(...)`, `m.mul_(...)`, or `p.copy_(...)`) and return
  nothing; every other function leaves its inputs unmodified, except
  `batchnorm_forward`, which updates `running_mean` and `running_var` in place
  in training mode, exactly like `F.batch_norm`.
- Banned in `batchnorm_forward` (the point is to write it): `F.batch_norm`,
  `torch.batch_norm`, `nn.BatchNorm*`, `F.layer_norm` (and their operators).
"""

import math

import torch


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch normalisation, like `F.batch_norm(x, running_mean, running_var, gamma, beta,
    training, momentum, eps)`.

    Inputs:
    - x: shape [N, D] (one statistic per feature) or [N, C, H, W] (one per channel,
      over N, H and W)
    - gamma, beta: shape [D] (or [C])
    - running_mean, running_var: shape [D] (or [C]); updated IN PLACE when training
    - training: bool
    - momentum, eps: floats

    Returns:
    - out: the shape of x.
      Training: mean and biased variance over the batch (and the spatial axes),
        out = gamma * (x - mean) / sqrt(var + eps) + beta, and in place
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var_unbiased
        where var_unbiased = var * n / (n - 1), n the number of values per feature.
      Eval: the running statistics are used instead and nothing is updated.
    """
    # BEGIN SOLUTION
    dims = [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    if training:
        n = x.numel() // x.shape[1]
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, unbiased=False)
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
            running_var.mul_(1 - momentum).add_(momentum * var.detach() * n / max(n - 1, 1))
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)
    # END SOLUTION


def dropout_forward(x, p, training, keep_mask):
    """Inverted dropout with a given mask.

    Inputs:
    - x: any shape
    - p: the probability of DROPPING a unit, 0 <= p < 1
    - training: bool
    - keep_mask: the shape of x, 1 where a unit is kept and 0 where it is dropped
      (bool or float)

    Returns:
    - out: the shape of x: x * keep_mask / (1 - p) when training, x itself (a copy is
      fine) when not. The scaling keeps the expected activation unchanged, so nothing
      changes at test time.
    """
    # BEGIN SOLUTION
    if not training:
        return x.clone()
    return x * keep_mask.to(x.dtype) / (1 - p)
    # END SOLUTION


def sgd_momentum_step(params, grads, velocities, lr, momentum=0.9, weight_decay=0.0):
    """One step of SGD with momentum, IN PLACE, exactly like `torch.optim.SGD(params, lr,
    momentum, weight_decay=weight_decay)` (no dampening, no Nesterov).

    Inputs:
    - params, grads, velocities: lists of tensors of matching shapes; the velocities
      start at zero (the first step then gives v = g, as torch's momentum buffer does)
    - lr, momentum, weight_decay: floats

    For each (p, g, v):
        g = g + weight_decay * p
        v = momentum * v + g        (v updated in place)
        p = p - lr * v              (p updated in place)
    grads are not modified. Returns None.
    """
    # BEGIN SOLUTION
    with torch.no_grad():
        for p, g, v in zip(params, grads, velocities):
            d = g + weight_decay * p
            v.mul_(momentum).add_(d)
            p.sub_(lr * v)
    # END SOLUTION


def adam_step(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """One step of Adam, IN PLACE, exactly like `torch.optim.Adam` (L2 weight decay added to
    the gradient, not AdamW; no amsgrad).

    Inputs:
    - param, grad, m, v: tensors of the same shape; m and v start at zero
    - step: the number of this step, counting from 1
    - lr, betas=(beta1, beta2), eps, weight_decay: floats

        g = grad + weight_decay * param
        m = beta1 * m + (1 - beta1) * g              (in place)
        v = beta2 * v + (1 - beta2) * g * g          (in place)
        m_hat = m / (1 - beta1 ** step),  v_hat = v / (1 - beta2 ** step)
        param = param - lr * m_hat / (sqrt(v_hat) + eps)   (in place)
    grad is not modified. Returns None.
    """
    # BEGIN SOLUTION
    beta1, beta2 = betas
    with torch.no_grad():
        g = grad + weight_decay * param
        m.mul_(beta1).add_((1 - beta1) * g)
        v.mul_(beta2).add_((1 - beta2) * g * g)
        m_hat = m / (1 - beta1 ** step)
        v_hat = v / (1 - beta2 ** step)
        param.sub_(lr * m_hat / (v_hat.sqrt() + eps))
    # END SOLUTION


def step_decay_lr(step, base_lr, step_size, gamma):
    """The learning rate of step `step` (an int from 0) under step decay, like `StepLR`:
    base_lr * gamma ** (step // step_size). Returns a float."""
    # BEGIN SOLUTION
    return base_lr * gamma ** (step // step_size)
    # END SOLUTION


def cosine_warmup_lr(step, total_steps, base_lr, warmup_steps, min_lr=0.0):
    """The learning rate of step `step` (an int from 0) under a linear warm-up then cosine decay.

    - while step < warmup_steps: base_lr * step / warmup_steps (0 at step 0)
    - then, with q = (step - warmup_steps) / (total_steps - warmup_steps) clipped to 1:
        min_lr + 0.5 * (base_lr - min_lr) * (1 + cos(pi * q))
      (base_lr at the end of the warm-up, min_lr from total_steps on)
    Returns a float.
    """
    # BEGIN SOLUTION
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    q = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * q))
    # END SOLUTION


def train_one_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    """One epoch of training.

    Inputs:
    - model: an nn.Module (it may contain BatchNorm and dropout)
    - loader: an iterable of (inputs, targets) batches; the last one may be smaller
    - loss_fn: a loss with mean reduction, loss_fn(outputs, targets) -> 0-d tensor
    - optimizer: a torch.optim optimizer over the model's parameters
    - device: move each batch there (x.to(device), y.to(device))

    Put the model in train mode (model.train()); for each batch: zero the gradients,
    forward, loss, backward, optimizer.step().

    Returns:
    - the mean loss over SAMPLES, a Python float: sum over batches of
      loss * batch_size, divided by the number of samples (not the mean of the batch means)
    """
    # BEGIN SOLUTION
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * x.shape[0]
        count += x.shape[0]
    return total / count
    # END SOLUTION


def evaluate(model, loader, loss_fn, device="cpu"):
    """Evaluate a classifier.

    Inputs: as in train_one_epoch (no optimizer); targets are class indices.

    Put the model in eval mode (model.eval()) and run every batch under torch.no_grad();
    nothing in the model changes (no parameter, no BatchNorm statistic, no .grad).

    Returns:
    - (mean_loss, accuracy): Python floats; mean_loss over samples (batch losses weighted
      by batch size), accuracy the fraction of samples whose argmax equals the target, in [0, 1]
    """
    # BEGIN SOLUTION
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            total += loss_fn(out, y).item() * x.shape[0]
            correct += (out.argmax(dim=1) == y).sum().item()
            count += x.shape[0]
    return total / count, correct / count
    # END SOLUTION
