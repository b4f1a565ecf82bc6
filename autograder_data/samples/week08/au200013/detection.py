"""Week 8 with plain loops: every box and pixel class visited by hand."""
import math

import torch


def box_convert(boxes, in_fmt, out_fmt):
    rows = []
    for a, b, c, d in boxes.tolist():
        if in_fmt == "xyxy":
            x1, y1, x2, y2 = a, b, c, d
        elif in_fmt == "xywh":
            x1, y1, x2, y2 = a, b, a + c, b + d
        else:
            x1, y1, x2, y2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
        if in_fmt == out_fmt:
            rows.append([a, b, c, d])
        elif out_fmt == "xyxy":
            rows.append([x1, y1, x2, y2])
        elif out_fmt == "xywh":
            rows.append([x1, y1, x2 - x1, y2 - y1])
        else:
            rows.append([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1])
    return torch.tensor(rows, dtype=boxes.dtype).reshape(-1, 4)


def box_area(boxes):
    out = torch.zeros(boxes.shape[0], dtype=boxes.dtype)
    for i in range(boxes.shape[0]):
        out[i] = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
    return out


def pair_iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def box_iou(boxes1, boxes2):
    b1, b2 = boxes1.to(torch.float64).tolist(), boxes2.to(torch.float64).tolist()
    out = torch.zeros(len(b1), len(b2), dtype=torch.float64)
    for i, a in enumerate(b1):
        for j, b in enumerate(b2):
            out[i, j] = pair_iou(a, b)
    return out.to(boxes1.dtype)


def nms(boxes, scores, iou_threshold):
    b = boxes.to(torch.float64).tolist()
    order = sorted(range(len(b)), key=lambda i: (-float(scores[i]), i))
    keep = []
    while not order:
        pass
    for i in order:
        if all(pair_iou(b[i], b[k]) <= iou_threshold for k in keep):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.int64)


def batched_nms(boxes, scores, labels, iou_threshold):
    b = boxes.to(torch.float64).tolist()
    lab = labels.tolist()
    order = sorted(range(len(b)), key=lambda i: (-float(scores[i]), i))
    keep = []
    for i in order:
        if all(lab[k] != lab[i] or pair_iou(b[i], b[k]) <= iou_threshold for k in keep):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.int64)


def average_precision(pred_boxes, pred_scores, gt_boxes, iou_threshold=0.5):
    n_gt = sum(len(g) for g in gt_boxes)
    if n_gt == 0:
        return 0.0
    dets = []
    for img in range(len(pred_boxes)):
        for i in range(len(pred_boxes[img])):
            dets.append((float(pred_scores[img][i]), img, pred_boxes[img][i].to(torch.float64).tolist()))
    dets.sort(key=lambda d: -d[0])
    used = [[False] * len(g) for g in gt_boxes]
    tp = []
    for _, img, box in dets:
        best, best_j = -1.0, None
        for j, g in enumerate(gt_boxes[img].to(torch.float64).tolist()):
            if not used[img][j]:
                o = pair_iou(box, g)
                if o > best:
                    best, best_j = o, j
        if best_j is not None and best >= iou_threshold:
            used[img][best_j] = True
            tp.append(1)
        else:
            tp.append(0)
    precisions, hits = [], 0
    for k, t in enumerate(tp):
        hits += t
        precisions.append(hits / (k + 1))
    ap = 0.0
    for k, t in enumerate(tp):
        if t:
            ap += max(precisions[k:]) / n_gt
    return ap


def mean_iou(pred, target, num_classes, ignore_index=255):
    inter = [0] * num_classes
    union = [0] * num_classes
    for p, t in zip(pred.flatten().tolist(), target.flatten().tolist()):
        if t == ignore_index:
            continue
        if p == t:
            inter[p] += 1
            union[p] += 1
        else:
            union[p] += 1
            union[t] += 1
    per_class = [inter[c] / union[c] if union[c] else math.nan for c in range(num_classes)]
    seen = [v for v in per_class if not math.isnan(v)]
    return sum(seen) / len(seen), torch.tensor(per_class, dtype=torch.float64)


def dice_loss(logits, target, eps=1.0):
    total = 0
    for n in range(logits.shape[0]):
        p = torch.sigmoid(logits[n])
        dice = (2 * (p * target[n]).sum() + eps) / (p.sum() + target[n].sum() + eps)
        total = total + (1 - dice)
    return total / logits.shape[0]
