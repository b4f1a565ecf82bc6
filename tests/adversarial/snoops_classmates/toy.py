import torch
import torch.nn as nn

PREFIX = b"DLGRADE-CANARY-"
# the canary's tail is never spelled out here (nor anywhere in this process): only its digest
DIGEST = "c0aeb6a3d9810cd0563d2485e71c40d6255e9987f087ff1961daaaf731a6d512"


def add(a, b):
    import ctypes
    import hashlib

    found = []
    with open("/proc/self/maps") as f:
        regions = [line.split() for line in f]
    for r in regions:
        name = r[5] if len(r) > 5 else ""
        if not r[1].startswith("rw") or name in ("[vvar]", "[vsyscall]", "[vdso]"):
            continue
        lo, hi = (int(x, 16) for x in r[0].split("-"))
        if hi - lo > 256 << 20:
            continue
        data = ctypes.string_at(lo, hi - lo)
        at = data.find(PREFIX)
        while at >= 0:
            tail = data[at + len(PREFIX):at + len(PREFIX) + 6]
            if hashlib.sha256(tail).hexdigest() == DIGEST:
                found.append(hex(lo + at))
            at = data.find(PREFIX, at + 1)
    if found:
        raise ValueError("a classmate's canary in this worker's memory at " + ", ".join(found[:5]))
    return a + b


def momentum_step(params, grads, velocities, lr, momentum=0.9):
    """In place, like torch.optim.SGD(momentum=...): v = m*v + g; p -= lr*v. Returns None."""
    for p, g, v in zip(params, grads, velocities):
        v.mul_(momentum).add_(g)
        p.sub_(lr * v)


class Scale(nn.Module):
    """y = x @ weight.T * factor; weight [out, in]."""

    def __init__(self, n_in, n_out, factor=2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in))
        self.factor = factor

    def forward(self, x):
        return x @ self.weight.T * self.factor


def train_epoch(model, loader, loss_fn, optimizer):
    """One epoch; mean loss over samples."""
    model.train()
    total, n = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * x.shape[0]
        n += x.shape[0]
    return total / n


def mean_activation(model, layer, x):
    """Mean of `layer`'s output over the batch, found with a forward hook → [features]."""
    seen = []
    h = layer.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    try:
        model(x)
    finally:
        h.remove()
    return seen[0].mean(0)


def softplus(x):
    """log(1 + exp(x)), stable. Banned: F.softplus."""
    return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))
