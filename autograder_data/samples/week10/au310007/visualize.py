"""Week 10, one image at a time."""
import torch
import torch.nn.functional as F


def saliency_map(model, images, targets):
    model.eval()
    maps = []
    for n in range(images.shape[0]):
        x = images[n:n + 1].clone().requires_grad_(True)
        score = model(x)[0, targets[n]]
        (g,) = torch.autograd.grad(score, x)
        maps.append(g[0].abs().max(dim=0).values)
    return torch.stack(maps)


def grad_cam(model, target_layer, images, targets):
    model.eval()
    N, _, H, W = images.shape
    cams = []
    for n in range(N):
        saved = []

        def hook(module, inp, out):
            saved.append(out)
            return out.clone()

        h = target_layer.register_forward_hook(hook)
        score = model(images[n:n + 1])[0, targets[n]]
        h.remove()
        act = saved[0]
        (g,) = torch.autograd.grad(score, act)
        act, g = act[0].detach(), g[0]
        cam = torch.zeros(act.shape[1:], dtype=act.dtype, device=act.device)
        for k in range(act.shape[0]):
            cam = cam + g[k].mean() * act[k]
        cam = torch.relu(cam)
        cam = F.interpolate(cam[None, None], size=(H, W), mode="bilinear", align_corners=True)[0, 0]
        if cam.max() > 0:
            cam = cam / cam.max()
        cams.append(cam)
    return torch.stack(cams)


def occlusion_sensitivity(model, image, target, patch_size, stride, fill=0.0):
    model.eval()
    C, H, W = image.shape
    rows = (H - patch_size) // stride + 1
    cols = (W - patch_size) // stride + 1
    out = torch.zeros(rows, cols, dtype=image.dtype, device=image.device)
    with torch.no_grad():
        base = model(image.unsqueeze(0))[0, target]
        for i in range(rows):
            for j in range(cols):
                x = image.clone()
                x[:, i * stride:i * stride + patch_size, j * stride:j * stride + patch_size] = fill
                out[i, j] = base - model(x.unsqueeze(0))[0, target]
    return out
