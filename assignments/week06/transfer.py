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
    # TODO: your code here
    raise NotImplementedError("normalize")


def hflip(images):
    """Mirror every image left to right: out[..., j] = images[..., W - 1 - j].

    Inputs:
    - images: shape [N, C, H, W]

    Returns:
    - out: shape [N, C, H, W]
    """
    # TODO: your code here
    raise NotImplementedError("hflip")


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
    # TODO: your code here
    raise NotImplementedError("center_crop")


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
    # TODO: your code here
    raise NotImplementedError("mixup")


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
    # TODO: your code here
    raise NotImplementedError("build_finetune_model")


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
    # TODO: your code here
    raise NotImplementedError("confusion_matrix")


def precision_recall_f1(cm):
    """Per-class precision, recall and F1 from a confusion matrix (rows are the true class).

    Inputs:
    - cm: int64, shape [C, C]

    Returns a tuple (precision, recall, f1), each a float tensor of shape [C]:
    - precision[c] = cm[c, c] / cm[:, c].sum()   (0 where nothing is predicted as c)
    - recall[c]    = cm[c, c] / cm[c, :].sum()   (0 where no sample is of class c)
    - f1[c] = 2 * precision[c] * recall[c] / (precision[c] + recall[c])   (0 where both are 0)
    """
    # TODO: your code here
    raise NotImplementedError("precision_recall_f1")


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
    # TODO: your code here
    raise NotImplementedError("topk_error")
