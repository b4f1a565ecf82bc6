"""Week 06 with helpers."""
import torch
from torch import nn


def _per_channel(values, like):
    return torch.as_tensor(values, dtype=like.dtype).reshape(1, -1, 1, 1)


def _pair(size):
    return (size, size) if isinstance(size, int) else (size[0], size[1])


def _safe_div(a, b):
    out = torch.zeros_like(a)
    mask = b != 0
    out[mask] = a[mask] / b[mask]
    return out


class Counter:
    def __init__(self, C):
        self.table = torch.zeros(C * C, dtype=torch.int64)
        self.C = C

    def add(self, t, p):
        self.table += torch.bincount(t * self.C + p, minlength=self.C * self.C)
        return self

    def matrix(self):
        return self.table.reshape(self.C, self.C)


def normalize(images, mean, std):
    return (images - _per_channel(mean, images)) / _per_channel(std, images)


def hflip(images):
    return images[..., torch.arange(images.shape[-1] - 1, -1, -1)]


def center_crop(images, size):
    h, w = _pair(size)
    H, W = images.shape[-2:]
    top, left = int(round((H - h) / 2)), int(round((W - w) / 2))
    return images.narrow(-2, top, h).narrow(-1, left, w)


def mixup(x, y_onehot, lam, perm):
    def mix(t):
        return lam * t + (1 - lam) * t.index_select(0, perm)
    return mix(x), mix(y_onehot)


def build_finetune_model(backbone, num_classes, freeze_backbone=True):
    if freeze_backbone:
        for p in backbone.parameters():
            p.requires_grad_(False)
    backbone.fc = nn.Linear(backbone.fc.in_features, num_classes)
    return backbone


def confusion_matrix(y_true, y_pred, num_classes):
    return Counter(num_classes).add(y_true, y_pred).matrix()


def precision_recall_f1(cm):
    cm = cm.to(torch.float64)
    tp = cm.diagonal()
    p, r = _safe_div(tp, cm.sum(0)), _safe_div(tp, cm.sum(1))
    return p, r, _safe_div(2 * p * r, p + r)


def topk_error(scores, y, k):
    top = scores.topk(k, dim=1).indices
    own = scores.gather(1, y.view(-1, 1))
    return float(((scores >= own).sum(1) > k).double().mean())
