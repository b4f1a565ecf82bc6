"""Week 10, with a helper class."""
import torch
import torch.nn.functional as F


class Recorder:
    """Keeps a layer's output while the `with` block runs."""

    def __init__(self, layer):
        self.layer, self.output = layer, None

    def _hook(self, module, inputs, output):
        self.output = output
        self.output.retain_grad()
        return output * 1.0

    def __enter__(self):
        self.handle = self.layer.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()
        return False


def _pick(scores, targets):
    return scores[torch.arange(len(targets)), targets].sum()


def _clear(model):
    for p in model.parameters():
        p.grad = None


def saliency_map(model, images, targets):
    model.eval()
    x = images.clone().requires_grad_(True)
    _pick(model(x), targets).backward()
    _clear(model)
    return x.grad.abs().max(dim=1)[0]


def grad_cam(model, target_layer, images, targets):
    model.eval()
    with Recorder(target_layer) as rec:
        scores = model(images)
    _pick(scores, targets).backward()
    _clear(model)
    A, G = rec.output.detach(), rec.output.grad
    weights = G.sum(dim=(2, 3), keepdim=True) / (G.shape[2] * G.shape[3])
    cam = (weights * A).sum(dim=1, keepdim=True).clamp(min=0)
    cam = F.interpolate(cam, size=images.shape[2:], mode="bilinear", align_corners=False).squeeze(1)
    out = torch.zeros_like(cam)
    for n in range(cam.shape[0]):
        if cam[n].max() > 0:
            out[n] = cam[n] / cam[n].max()
    return out


def occlusion_sensitivity(model, image, target, patch_size, stride, fill=0.0):
    model.eval()
    _, H, W = image.shape
    corners = [(r, c) for r in range(0, H - patch_size + 1, stride) for c in range(0, W - patch_size + 1, stride)]
    batch = image.repeat(len(corners), 1, 1, 1)
    for k, (r, c) in enumerate(corners):
        batch[k, :, r:r + patch_size, c:c + patch_size] = fill
    with torch.no_grad():
        p0 = F.softmax(model(image[None]), dim=1)[0, target]
        p = F.softmax(model(batch), dim=1)[:, target]
    rows = len(range(0, H - patch_size + 1, stride))
    return (p0 - p).reshape(rows, -1)
