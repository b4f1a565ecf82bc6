"""Week 8, vectorised: broadcasting for IoU, masks for NMS, bincount for mIoU."""
import torch


def box_convert(boxes, in_fmt, out_fmt):
    if in_fmt == out_fmt:
        return boxes.clone()
    if in_fmt == "xywh":
        boxes = torch.cat([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], dim=1)
    elif in_fmt == "cxcywh":
        boxes = torch.cat([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], dim=1)
    if out_fmt == "xywh":
        return torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1)
    if out_fmt == "cxcywh":
        return torch.cat([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], dim=1)
    return boxes.clone()


def box_area(boxes):
    wh = boxes[:, 2:] - boxes[:, :2] + 1
    return wh.prod(dim=1)


def box_iou(boxes1, boxes2):
    wh1 = box_area(boxes1)
    wh2 = box_area(boxes2)
    inter = (torch.min(boxes1[:, None, 2:], boxes2[:, 2:]) - torch.max(boxes1[:, None, :2], boxes2[:, :2]))
    inter = inter.clamp(min=0).prod(-1)
    union = wh1[:, None] + wh2 - inter
    return torch.where(union > 0, inter / torch.where(union > 0, union, torch.ones_like(union)), 0.0)


def _greedy(boxes, scores, same, thr):
    order = torch.argsort(scores, descending=True, stable=True)
    iou = box_iou(boxes, boxes) if boxes.numel() else torch.zeros(0, 0, dtype=boxes.dtype)
    alive = torch.ones(len(scores), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if alive[i]:
            keep.append(i)
            alive &= ~((iou[i] > thr) & same[i])
    return torch.tensor(keep, dtype=torch.long)


def nms(boxes, scores, iou_threshold):
    same = torch.ones(len(scores), len(scores), dtype=torch.bool)
    return _greedy(boxes, scores, same, iou_threshold)


def batched_nms(boxes, scores, labels, iou_threshold):
    same = labels[:, None] == labels[None, :]
    return _greedy(boxes, scores, same, iou_threshold)


def average_precision(pred_boxes, pred_scores, gt_boxes, iou_threshold=0.5):
    total = sum(g.shape[0] for g in gt_boxes)
    if total == 0:
        return torch.tensor(0.0)
    scores = torch.cat(pred_scores)
    img = torch.cat([torch.full((len(s),), i) for i, s in enumerate(pred_scores)])
    idx = torch.cat([torch.arange(len(s)) for s in pred_scores])
    order = torch.argsort(scores, descending=True, stable=True)
    free = [torch.ones(len(g), dtype=torch.bool) for g in gt_boxes]
    tp = torch.zeros(len(order), dtype=torch.float64)
    for r, d in enumerate(order.tolist()):
        b = int(img[d])
        if len(gt_boxes[b]) == 0:
            continue
        iou = box_iou(pred_boxes[b][idx[d]][None].double(), gt_boxes[b].double())[0]
        iou = torch.where(free[b], iou, -1.0)
        j = int(torch.argmax(iou))
        if iou[j] >= iou_threshold:
            free[b][j] = False
            tp[r] = 1.0
    prec = tp.cumsum(0) / torch.arange(1, len(tp) + 1)
    best = torch.flip(torch.cummax(torch.flip(prec, [0]), 0).values, [0])
    return (best * tp).sum() / total


def mean_iou(pred, target, num_classes, ignore_index=255):
    ok = target != ignore_index
    cm = torch.bincount(target[ok] * num_classes + pred[ok], minlength=num_classes ** 2)
    cm = cm.reshape(num_classes, num_classes).float()
    inter = cm.diag()
    union = cm.sum(0) + cm.sum(1) - inter
    per_class = inter / union
    return torch.nanmean(per_class), per_class


def dice_loss(logits, target, eps=1.0):
    p = logits.sigmoid().reshape(len(logits), -1)
    t = target.reshape(len(target), -1)
    return (1 - (2 * (p * t).sum(-1) + eps) / (p.sum(-1) + t.sum(-1) + eps)).mean()
