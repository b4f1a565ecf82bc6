"""Week 8 with a small Boxes class of my own; all arithmetic in float64."""
import torch


class Boxes:
    def __init__(self, t):
        self.t = t.to(torch.float64)

    @property
    def x1(self):
        return self.t[:, 0]

    @property
    def y1(self):
        return self.t[:, 1]

    @property
    def x2(self):
        return self.t[:, 2]

    @property
    def y2(self):
        return self.t[:, 3]

    def area(self):
        return (self.x2 - self.x1) * (self.y2 - self.y1)

    def iou(self, other):
        iw = (torch.minimum(self.x2[:, None], other.x2[None]) - torch.maximum(self.x1[:, None], other.x1[None])).clamp(min=0)
        ih = (torch.minimum(self.y2[:, None], other.y2[None]) - torch.maximum(self.y1[:, None], other.y1[None])).clamp(min=0)
        inter = iw * ih
        union = self.area()[:, None] + other.area()[None] - inter
        out = torch.zeros_like(union)
        pos = union > 0
        out[pos] = inter[pos] / union[pos]
        return out


def to_corners(boxes, fmt):
    b = boxes.to(torch.float64)
    if fmt == "xywh":
        return torch.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], 1)
    if fmt == "cxcywh":
        return torch.stack([b[:, 0] - 0.5 * b[:, 2], b[:, 1] - 0.5 * b[:, 3],
                            b[:, 0] + 0.5 * b[:, 2], b[:, 1] + 0.5 * b[:, 3]], 1)
    return b


def from_corners(b, fmt):
    if fmt == "xywh":
        return torch.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)
    if fmt == "cxcywh":
        return torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)
    return b.clone()


def box_convert(boxes, in_fmt, out_fmt):
    if in_fmt == out_fmt:
        return boxes.clone()
    return from_corners(to_corners(boxes, in_fmt), out_fmt).to(boxes.dtype)


def box_area(boxes):
    return Boxes(boxes).area().to(boxes.dtype)


def box_iou(boxes1, boxes2):
    return Boxes(boxes1).iou(Boxes(boxes2)).to(boxes1.dtype)


class Suppressor:
    def __init__(self, boxes, scores, labels=None):
        self.iou = Boxes(boxes).iou(Boxes(boxes))
        self.order = sorted(range(len(scores)), key=lambda i: (-scores[i].item(), i))
        self.labels = labels

    def run(self, thr):
        keep = []
        for i in self.order:
            rivals = [k for k in keep if self.labels is None or self.labels[k] == self.labels[i]]
            if not any(self.iou[i, k] > thr for k in rivals):
                keep.append(i)
        return torch.tensor(keep, dtype=torch.int64)


def nms(boxes, scores, iou_threshold):
    return Suppressor(boxes, scores).run(iou_threshold)


def batched_nms(boxes, scores, labels, iou_threshold):
    return Suppressor(boxes, scores, labels.tolist()).run(iou_threshold)


def average_precision(pred_boxes, pred_scores, gt_boxes, iou_threshold=0.5):
    n_gt = sum(int(g.shape[0]) for g in gt_boxes)
    if not n_gt:
        return 0.0
    flat = [(s, b, i) for b in range(len(pred_scores)) for i, s in enumerate(pred_scores[b].tolist())]
    flat.sort(key=lambda x: x[0], reverse=True)  # sort is stable, also with reverse=True
    taken = [set() for _ in gt_boxes]
    flags = []
    for _, b, i in flat:
        if gt_boxes[b].shape[0] == 0:
            flags.append(False)
            continue
        ious = Boxes(pred_boxes[b][i:i + 1]).iou(Boxes(gt_boxes[b]))[0]
        for j in taken[b]:
            ious[j] = -1
        j = int(ious.argmax())
        flags.append(bool(ious[j] >= iou_threshold))
        if flags[-1]:
            taken[b].add(j)
    tp = torch.tensor(flags, dtype=torch.float64).cumsum(0)
    precision = tp / torch.arange(1, len(flags) + 1, dtype=torch.float64)
    recall = tp / n_gt
    ap, prev = 0.0, 0.0
    for k in range(len(flags)):
        if recall[k] > prev:
            ap += float((recall[k] - prev) * precision[k:].max())
            prev = float(recall[k])
    return ap


def mean_iou(pred, target, num_classes, ignore_index=255):
    valid = target != ignore_index
    p = torch.nn.functional.one_hot(pred.flatten(), num_classes).bool()
    t = torch.nn.functional.one_hot(torch.where(valid, target, 0).flatten(), num_classes).bool()
    t = t & valid.flatten()[:, None]  # ignored pixels dropped from the target only
    inter = (p & t).sum(0).double()
    union = (p | t).sum(0).double()
    per_class = torch.full((num_classes,), float("nan"), dtype=torch.float64)
    per_class[union > 0] = inter[union > 0] / union[union > 0]
    return per_class[union > 0].mean().item(), per_class


def dice_loss(logits, target, eps=1.0):
    p = torch.sigmoid(logits.double()).flatten(1)
    t = target.double().flatten(1)
    dice = (2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)
    return (1 - dice).mean().to(logits.dtype)
