"""Week 06 with loops."""
import torch
from torch import nn


def normalize(images, mean, std):
    out = images.clone()
    for c in range(images.shape[1]):
        out[:, c] = (images[:, c] - float(mean[c])) / float(std[c])
    return out


def hflip(images):
    W = images.shape[-1]
    return torch.stack([images[..., W - 1 - j] for j in range(W)], dim=-1)


def center_crop(images, size):
    if isinstance(size, int):
        size = (size, size)
    h, w = size
    H, W = images.shape[-2], images.shape[-1]
    top = int(round((H - h) / 2))
    left = int(round((W - w) / 2))
    return images[:, :, top:top + h, left:left + w]


def mixup(x, y_onehot, lam, perm):
    xs, ys = [], []
    for i in range(x.shape[0]):
        xs.append(lam * x[i] + (1 - lam) * x[perm[i]])
        ys.append(lam * y_onehot[i] + (1 - lam) * y_onehot[perm[i]])
    return torch.stack(xs), torch.stack(ys)


def build_finetune_model(backbone, num_classes, freeze_backbone=True):
    for name, p in backbone.named_parameters():
        p.requires_grad = not freeze_backbone
    backbone.fc = nn.Linear(backbone.fc.in_features, num_classes)
    return backbone


def confusion_matrix(y_true, y_pred, num_classes):
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        cm[t][p] += 1
    return cm


def precision_recall_f1(cm):
    C = cm.shape[0]
    P, R, F = torch.zeros(C), torch.zeros(C), torch.zeros(C)
    for c in range(C):
        tp = cm[c, c].item()
        col = cm[:, c].sum().item()
        row = cm[c, :].sum().item()
        p = tp / col if col > 0 else 0.0
        r = tp / row if row > 0 else 0.0
        P[c], R[c] = p, r
        F[c] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return P, R, F


def topk_error(scores, y, k):
    wrong = 0
    for i in range(scores.shape[0]):
        own = scores[i, y[i]]
        if (scores[i] > own).sum().item() >= k:
            wrong += 1
    return wrong / scores.shape[0]
