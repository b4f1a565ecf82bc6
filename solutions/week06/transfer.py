"""Week 06: training ConvNets II: data augmentation, transfer learning and evaluation.

Conventions (the same in every function):
- A batch of images is `[N, C, H, W]` (float32 or float64); results keep the
  input's dtype and device. Never modify an input in place.
- Labels and predictions are int64 class indices in `[0, C)`.
- Banned: everything in `torchvision.transforms` (center_crop, hflip,
  normalize, crop and their classes): the point is to know exactly what each
  one computes. Everything in torch is allowed (flip, slicing, bincount,
  topk, sort, your own helpers).
"""

import torch
from torch import nn


def normalize(images, mean, std):
    """Normalise each channel: (images[:, c] - mean[c]) / std[c].

    Inputs:
    - images: shape [N, C, H, W]
    - mean: C numbers (a sequence of floats or a tensor of shape [C])
    - std: C positive numbers (a sequence of floats or a tensor of shape [C])

    Returns:
    - out: shape [N, C, H, W], the input's dtype
    """
    # BEGIN SOLUTION
    mean = torch.as_tensor(mean, dtype=images.dtype, device=images.device).reshape(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=images.dtype, device=images.device).reshape(1, -1, 1, 1)
    return (images - mean) / std
    # END SOLUTION


def hflip(images):
    """Mirror every image left to right: out[..., j] = images[..., W - 1 - j].

    Inputs:
    - images: shape [N, C, H, W]

    Returns:
    - out: shape [N, C, H, W]
    """
    # BEGIN SOLUTION
    return images.flip(-1)
    # END SOLUTION


def center_crop(images, size):
    """Crop the centre of every image, exactly like torchvision.transforms.functional.center_crop.

    Inputs:
    - images: shape [N, C, H, W]
    - size: an int h (a square h x h crop) or a pair (h, w); h <= H and w <= W

    The crop starts at row top = int(round((H - h) / 2)) and column
    left = int(round((W - w) / 2)) (Python's round: halves go to the even number).

    Returns:
    - out: shape [N, C, h, w]
    """
    # BEGIN SOLUTION
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    H, W = images.shape[-2:]
    top, left = int(round((H - h) / 2)), int(round((W - w) / 2))
    return images[..., top:top + h, left:left + w].clone()
    # END SOLUTION


def mixup(x, y_onehot, lam, perm):
    """Mixup of a batch with a permutation of itself.

    Inputs:
    - x: inputs, shape [N, ...] (e.g. images [N, C, H, W])
    - y_onehot: one-hot (or soft) labels, shape [N, K]
    - lam: a float in [0, 1]
    - perm: int64 tensor of shape [N], a permutation of range(N)

    Returns a tuple (x_mix, y_mix):
    - x_mix = lam * x + (1 - lam) * x[perm], shape [N, ...]
    - y_mix = lam * y_onehot + (1 - lam) * y_onehot[perm], shape [N, K]
    """
    # BEGIN SOLUTION
    return lam * x + (1 - lam) * x[perm], lam * y_onehot + (1 - lam) * y_onehot[perm]
    # END SOLUTION


def build_finetune_model(backbone, num_classes, freeze_backbone=True):
    """Prepare a pretrained network for fine-tuning on a new task.

    Inputs:
    - backbone: an nn.Module with a final linear layer `backbone.fc`
      (a torchvision ResNet, or any model with an `fc` attribute)
    - num_classes: the number of classes of the new task
    - freeze_backbone: when True, every parameter except the new head's gets
      requires_grad=False; when False, every parameter keeps requires_grad=True

    Replace `backbone.fc` by a NEW `nn.Linear(backbone.fc.in_features, num_classes)`,
    created with the plain call (default initialisation, default dtype, bias
    included), after any freezing, so that its parameters are trainable. Change
    nothing else: no other layer, weight, buffer or mode.

    Returns:
    - the same model object, modified
    """
    # BEGIN SOLUTION
    if freeze_backbone:
        for p in backbone.parameters():
            p.requires_grad_(False)
    backbone.fc = nn.Linear(backbone.fc.in_features, num_classes)
    return backbone
    # END SOLUTION


def confusion_matrix(y_true, y_pred, num_classes):
    """Count predictions per (true class, predicted class).

    Inputs:
    - y_true: int64, shape [N], values in [0, num_classes)
    - y_pred: int64, shape [N], values in [0, num_classes)
    - num_classes: C

    Returns:
    - cm: int64, shape [C, C]; cm[i, j] = number of samples of true class i
      predicted as class j (rows are the true class)
    """
    # BEGIN SOLUTION
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=y_true.device)
    cm.index_put_((y_true.long(), y_pred.long()), torch.ones_like(y_true, dtype=torch.int64), accumulate=True)
    return cm
    # END SOLUTION


def precision_recall_f1(cm):
    """Per-class precision, recall and F1 from a confusion matrix (rows are the true class).

    Inputs:
    - cm: int64, shape [C, C]

    Returns a tuple (precision, recall, f1), each a float tensor of shape [C]:
    - precision[c] = cm[c, c] / cm[:, c].sum()   (0 where nothing is predicted as c)
    - recall[c]    = cm[c, c] / cm[c, :].sum()   (0 where no sample is of class c)
    - f1[c] = 2 * precision[c] * recall[c] / (precision[c] + recall[c])   (0 where both are 0)
    """
    # BEGIN SOLUTION
    cm = cm.double()
    tp = cm.diagonal()
    predicted, actual = cm.sum(0), cm.sum(1)

    def ratio(a, b):
        return torch.where(b > 0, a / torch.where(b > 0, b, torch.ones_like(b)), torch.zeros_like(a))

    precision, recall = ratio(tp, predicted), ratio(tp, actual)
    f1 = ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1
    # END SOLUTION


def topk_error(scores, y, k):
    """Top-k error: the fraction of rows whose label is not among the k best scores.

    Inputs:
    - scores: shape [N, C]
    - y: int64, shape [N], labels
    - k: an int, 1 <= k <= C

    The label of a row is in the top k when fewer than k scores of its row are
    strictly greater than the label's own score (ties count in the label's favour).

    Returns:
    - error: a float in [0, 1] (a Python float or a 0-d tensor)
    """
    # BEGIN SOLUTION
    own = scores.gather(1, y.long()[:, None])
    greater = (scores > own).sum(1)
    return (greater >= k).double().mean().item()
    # END SOLUTION
