"""Week 10, vectorised."""
import torch
import torch.nn.functional as F


def saliency_map(model, images, targets):
    x = images.detach().requires_grad_()
    scores = model(x)[torch.arange(x.shape[0]), targets]
    grad = torch.autograd.grad(scores.sum(), x)[0]
    return grad.abs().amax(1)


def grad_cam(model, target_layer, images, targets):
    model.eval()
    acts = {}
    handle = target_layer.register_forward_hook(lambda m, i, o: acts.setdefault("a", o).clone())
    try:
        scores = model(images)
    finally:
        handle.remove()
    a = acts["a"]
    grads = torch.autograd.grad(scores.gather(1, targets[:, None]).sum(), a)[0]
    cam = F.relu(torch.einsum("nk,nkhw->nhw", grads.mean((-2, -1)), a.detach()))
    cam = F.interpolate(cam.unsqueeze(1), size=tuple(images.shape[-2:]), mode="bilinear").squeeze(1)
    peak = cam.flatten(1).max(1).values.view(-1, 1, 1)
    return torch.where(peak > 0, cam / peak.clamp_min(1e-300), torch.zeros_like(cam))


def occlusion_sensitivity(model, image, target, patch_size, stride, fill=0.0):
    model.eval()
    C, H, W = image.shape
    tops = torch.arange(0, H - patch_size + 1, stride, device=image.device)
    lefts = torch.arange(0, W - patch_size + 1, stride, device=image.device)
    r = torch.arange(H, device=image.device)
    c = torch.arange(W, device=image.device)
    in_rows = (r[None] >= tops[:, None]) & (r[None] < tops[:, None] + patch_size)      # [R, H]
    in_cols = (c[None] >= lefts[:, None]) & (c[None] < lefts[:, None] + patch_size)    # [Q, W]
    masks = in_rows[:, None, :, None] & in_cols[None, :, None, :]                     # [R, Q, H, W]
    masks = masks.reshape(-1, 1, H, W)
    occluded = torch.where(masks, torch.full_like(image, fill), image.expand(masks.shape[0], C, H, W))
    with torch.no_grad():
        probs = model(torch.cat([image[None], occluded])).softmax(-1)[:, target]
    return (probs[0] - probs[1:]).view(len(tops), len(lefts))
