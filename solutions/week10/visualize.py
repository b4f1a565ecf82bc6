"""Week 10: looking inside a trained ConvNet: saliency maps, Grad-CAM and occlusion.

Conventions (the same in every function):
- `model` is an nn.Module that maps images [N, C, H, W] to class scores
  (logits, no softmax) [N, num_classes]. Its parameters have the dtype and
  device of the images. Images need not be square.
- Every function first calls `model.eval()`: dropout off, BatchNorm on its
  running statistics. A model may reach you in train mode; the maps are
  defined in eval mode.
- A function changes no parameter and no buffer of the model and leaves no
  gradient on its parameters (every p.grad stays as it was, usually None):
  use torch.autograd.grad, or zero/None the .grad you created. Never modify
  the images in place.
- `targets` is an int64 tensor [N]: the class to explain for each image
  (it differs from image to image). A map is a plain tensor (no autograd
  history) of the images' dtype, on their device.
"""

import torch
import torch.nn.functional as F


def saliency_map(model, images, targets):
    """Vanilla saliency (Simonyan et al.): how much each pixel moves the target logit.

    Inputs:
    - model: the classifier (call model.eval() first)
    - images: [N, C, H, W]
    - targets: [N] int64, the class of each image to explain

    Returns:
    - saliency: [N, H, W], saliency[n, i, j] = max over channels c of
      |d logits[n, targets[n]] / d images[n, c, i, j]|
      (the gradient of the LOGIT, not of the softmax probability; the
      absolute value, then the MAX over channels)
    """
    # BEGIN SOLUTION
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    logits = model(x)
    picked = logits.gather(1, targets.view(-1, 1)).sum()  # images are independent in eval mode
    (grad,) = torch.autograd.grad(picked, x)
    return grad.abs().amax(dim=1)
    # END SOLUTION


def grad_cam(model, target_layer, images, targets):
    """Grad-CAM (Selvaraju et al.) at one layer of the model.

    Inputs:
    - model: the classifier (call model.eval() first)
    - target_layer: a submodule of model (e.g. a Conv2d) whose output A,
      [N, K, h, w], is explained. Use a forward hook to get A. The layer
      may be followed by nn.ReLU(inplace=True): A is the layer's OWN output
      (before that ReLU), and the gradient is taken with respect to it.
    - images: [N, C, H, W]
    - targets: [N] int64

    Returns:
    - cam: [N, H, W], computed per image n as
        g = d logits[n, targets[n]] / d A[n]            [K, h, w]
        w_k = mean over the h*w positions of g[k]        (the spatial MEAN)
        m = relu(sum_k w_k * A[n, k])                    [h, w]
        M = bilinear upsampling of m to [H, W]
            (F.interpolate, mode="bilinear", align_corners=False)
        cam[n] = M / max(M); a map that is zero everywhere stays zero
      Values in [0, 1]; the max of every non-zero map is exactly 1.
    Remove every hook you register before returning.
    """
    # BEGIN SOLUTION
    model.eval()
    store = {}

    def keep(module, inputs, output):
        store["A"] = output
        return output.clone()  # what follows (an in-place ReLU) changes the copy, not A

    handle = target_layer.register_forward_hook(keep)
    try:
        logits = model(images.detach())
    finally:
        handle.remove()
    A = store["A"]
    picked = logits.gather(1, targets.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(picked, A)
    weights = grad.mean(dim=(2, 3), keepdim=True)                 # [N, K, 1, 1]
    cam = torch.relu((weights * A).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    top = cam.amax(dim=(1, 2), keepdim=True)
    return cam / torch.where(top > 0, top, torch.ones_like(top))
    # END SOLUTION


def occlusion_sensitivity(model, image, target, patch_size, stride, fill=0.0):
    """Occlusion (Zeiler & Fergus): how much hiding each window lowers the target's probability.

    Inputs:
    - model: the classifier (call model.eval() first)
    - image: [C, H, W], ONE image (no batch dimension)
    - target: int, the class to explain
    - patch_size: int p, the square window is p x p
    - stride: int s (may be smaller or larger than p)
    - fill: float, the value written into every channel of the window

    Returns:
    - drops: [(H - p) // s + 1, (W - p) // s + 1], of the image's dtype;
      drops[i, j] = prob(image) - prob(occluded), where prob is the SOFTMAX
      probability of `target` (not the logit) and `occluded` is a copy of
      the image with rows i*s .. i*s+p-1 and columns j*s .. j*s+p-1 set to
      fill. Windows are the top-left corners at multiples of s that fit
      entirely inside the image.
    """
    # BEGIN SOLUTION
    model.eval()
    _, H, W = image.shape
    rows, cols = (H - patch_size) // stride + 1, (W - patch_size) // stride + 1
    batch = image.detach().unsqueeze(0).repeat(rows * cols + 1, 1, 1, 1)  # [0] stays the original
    for i in range(rows):
        for j in range(cols):
            r, c = i * stride, j * stride
            batch[1 + i * cols + j, :, r:r + patch_size, c:c + patch_size] = fill
    with torch.no_grad():
        probs = torch.softmax(model(batch), dim=1)[:, target]
    return (probs[0] - probs[1:]).reshape(rows, cols)
    # END SOLUTION
