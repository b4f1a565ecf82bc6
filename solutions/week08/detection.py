"""Week 8: the bookkeeping of object detection and segmentation, by hand.

Boxes, their overlap (IoU), non-maximum suppression, average precision for a
detector, and the two scores of a segmentation: mean IoU and the Dice loss.

Conventions (the same in every function):
- A box is 4 numbers; a set of K boxes is a float tensor [K, 4]. The default
  format is "xyxy": (x1, y1, x2, y2), top-left and bottom-right corners with
  x1 <= x2 and y1 <= y2. A box's width is x2 - x1 and its height y2 - y1
  (continuous coordinates: no "+ 1"). A box of width or height 0 has area 0.
- Boxes that only touch (share an edge or a corner) do not overlap: IoU 0.
- Results have the input's dtype and device (indices are int64). Never modify
  an input in place. K = 0 (a [0, 4] tensor) is allowed everywhere.
- Banned here (the point is to write them): everything in `torchvision.ops`
  (`box_iou`, `nms`, `batched_nms`, `box_convert`, `box_area`, ...), however
  it is imported. Code that reaches into the grader or torch's internals
  (`torch.ops`, `torch._C`, `sys.modules`) is held for a teacher to review.
"""

import torch


def box_convert(boxes, in_fmt, out_fmt):
    """Convert boxes between the formats "xyxy", "xywh" and "cxcywh".

    Inputs:
    - boxes: [K, 4] float tensor in the format `in_fmt`
    - in_fmt, out_fmt: each one of
        "xyxy":   (x1, y1, x2, y2)  the two corners
        "xywh":   (x1, y1, w, h)    the top-left corner, width and height
        "cxcywh": (cx, cy, w, h)    the centre, width and height
      with w = x2 - x1, h = y2 - y1, cx = (x1 + x2) / 2, cy = (y1 + y2) / 2.

    Returns:
    - out: [K, 4], the same boxes in the format `out_fmt` (a new tensor, also
      when in_fmt == out_fmt).
    """
    # BEGIN SOLUTION
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xyxy":
        x1, y1, x2, y2 = a, b, c, d
    elif in_fmt == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        x1, y1, x2, y2 = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    else:
        raise ValueError(f"unknown box format {in_fmt!r}")
    if in_fmt == out_fmt:
        return boxes.clone()
    if out_fmt == "xyxy":
        parts = (x1, y1, x2, y2)
    elif out_fmt == "xywh":
        parts = (x1, y1, x2 - x1, y2 - y1)
    elif out_fmt == "cxcywh":
        parts = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    else:
        raise ValueError(f"unknown box format {out_fmt!r}")
    return torch.stack(parts, dim=-1)
    # END SOLUTION


def box_area(boxes):
    """Area of each box.

    Inputs:
    - boxes: [K, 4] in "xyxy" format

    Returns:
    - area: [K], (x2 - x1) * (y2 - y1)
    """
    # BEGIN SOLUTION
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    # END SOLUTION


def box_iou(boxes1, boxes2):
    """Intersection over union of every pair of boxes.

    Inputs:
    - boxes1: [N, 4] in "xyxy" format
    - boxes2: [M, 4] in "xyxy" format

    Returns:
    - iou: [N, M], iou[i, j] = area(boxes1[i] ∩ boxes2[j]) / area(boxes1[i] ∪ boxes2[j])
      where the intersection is the box (max x1, max y1, min x2, min y2),
      of area 0 when it is empty (its width or height would be negative), and
      area(A ∪ B) = area(A) + area(B) - area(A ∩ B).
      Where the union has area 0 (two boxes of area 0) the IoU is 0.
    """
    # BEGIN SOLUTION
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])  # [N]
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])  # [M]
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])     # [N, M, 2]
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # [N, M, 2]
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]                                          # [N, M]
    union = area1[:, None] + area2[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(union))
    # END SOLUTION


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression.

    Inputs:
    - boxes: [K, 4] in "xyxy" format
    - scores: [K], one score per box
    - iou_threshold: float

    Returns:
    - keep: int64 tensor [K'] of the indices of the boxes kept, by decreasing
      score.

    Visit the boxes by decreasing score; boxes of equal score in increasing
    index order (a stable sort). A box is kept unless its IoU with a box
    already kept is strictly greater than iou_threshold (IoU exactly equal to
    the threshold: kept). Boxes that were suppressed suppress nothing.
    No boxes (K = 0): an empty int64 tensor.
    """
    # BEGIN SOLUTION
    order = torch.sort(scores, descending=True, stable=True).indices
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1) * (y2 - y1)
    keep = []
    for i in order.tolist():
        k = torch.tensor(keep, dtype=torch.int64, device=boxes.device)  # the boxes kept so far
        w = (torch.minimum(x2[i], x2[k]) - torch.maximum(x1[i], x1[k])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[k]) - torch.maximum(y1[i], y1[k])).clamp(min=0)
        union = area[i] + area[k] - w * h
        iou = torch.where(union > 0, w * h / union, torch.zeros_like(union))
        if not bool((iou > iou_threshold).any()):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)
    # END SOLUTION


def batched_nms(boxes, scores, labels, iou_threshold):
    """Non-maximum suppression within each class.

    Inputs:
    - boxes: [K, 4] in "xyxy" format
    - scores: [K]
    - labels: int64 [K], the class of each box
    - iou_threshold: float

    Returns:
    - keep: int64 [K'], the indices kept, by decreasing score over all
      classes (equal scores: lower index first).

    As nms, but a box can only be suppressed by a kept box of the same label;
    boxes of different labels never suppress each other, however much they
    overlap. No boxes: an empty int64 tensor.
    """
    # BEGIN SOLUTION
    order = torch.sort(scores, descending=True, stable=True).indices
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1) * (y2 - y1)
    keep = []
    for i in order.tolist():
        k = torch.tensor(keep, dtype=torch.int64, device=boxes.device)
        k = k[labels[k] == labels[i]]  # only kept boxes of the same label can suppress box i
        w = (torch.minimum(x2[i], x2[k]) - torch.maximum(x1[i], x1[k])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[k]) - torch.maximum(y1[i], y1[k])).clamp(min=0)
        union = area[i] + area[k] - w * h
        iou = torch.where(union > 0, w * h / union, torch.zeros_like(union))
        if not bool((iou > iou_threshold).any()):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)
    # END SOLUTION


def average_precision(pred_boxes, pred_scores, gt_boxes, iou_threshold=0.5):
    """Average precision of one class over a set of images (VOC 2010+, all points).

    Inputs:
    - pred_boxes: list of B tensors, pred_boxes[b] of shape [P_b, 4] ("xyxy"),
      the detections in image b (P_b may be 0)
    - pred_scores: list of B tensors, pred_scores[b] of shape [P_b]
    - gt_boxes: list of B tensors, gt_boxes[b] of shape [G_b, 4], the ground
      truth boxes of image b (G_b may be 0)
    - iou_threshold: float

    Returns:
    - ap: a number in [0, 1] (a Python float or a 0-d tensor).

    1. Put all detections of all images in one list, by decreasing score.
       Equal scores keep their order in the input (image 0 first, then by
       index within an image): a stable sort.
    2. Visit them in that order. A detection is a true positive (TP) when,
       among the ground truth boxes of ITS image not matched yet, the one with
       the highest IoU with it (the lower index on a tie) has IoU >=
       iou_threshold; that ground truth box
       is then matched (it cannot be matched again, so a duplicate detection
       of it is a false positive, FP). Otherwise it is a FP.
    3. After the k-th detection: precision_k = TP_k / k, recall_k = TP_k / G
       with G the number of ground truth boxes in all images.
    4. AP is the area under the precision-recall curve with precision made
       monotone: p_interp(r) = max of precision_k over every k with
       recall_k >= r. As a sum over the points where recall rises:
           AP = sum_k (recall_k - recall_{k-1}) * max_{j >= k} precision_j,
       with recall_0 = 0.
    No ground truth at all (G = 0): AP = 0.0.
    """
    # BEGIN SOLUTION
    num_gt = sum(int(g.shape[0]) for g in gt_boxes)
    if num_gt == 0:
        return 0.0
    scores = torch.cat([s.reshape(-1).to(torch.float64) for s in pred_scores])
    image_of = torch.cat([torch.full((s.numel(),), b, dtype=torch.int64) for b, s in enumerate(pred_scores)])
    index_in = torch.cat([torch.arange(s.numel()) for s in pred_scores])
    order = torch.sort(scores, descending=True, stable=True).indices
    matched = [torch.zeros(g.shape[0], dtype=torch.bool) for g in gt_boxes]
    tp = []
    for d in order.tolist():
        b, i = int(image_of[d]), int(index_in[d])
        gts = gt_boxes[b]
        hit = False
        if gts.shape[0] > 0:
            box, g = pred_boxes[b][i].to(torch.float64).cpu(), gts.to(torch.float64).cpu()
            w = (torch.minimum(box[2], g[:, 2]) - torch.maximum(box[0], g[:, 0])).clamp(min=0)
            h = (torch.minimum(box[3], g[:, 3]) - torch.maximum(box[1], g[:, 1])).clamp(min=0)
            union = (box[2] - box[0]) * (box[3] - box[1]) + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - w * h
            iou = torch.where(union > 0, w * h / union.clamp(min=1e-300), torch.zeros_like(union))  # [G_b]
            iou[matched[b]] = -1.0
            best = int(iou.argmax())
            if iou[best] >= iou_threshold:
                matched[b][best] = True
                hit = True
        tp.append(1.0 if hit else 0.0)
    if not tp:
        return 0.0
    tp = torch.tensor(tp, dtype=torch.float64)
    tp_cum = tp.cumsum(0)
    precision = tp_cum / torch.arange(1, len(tp) + 1, dtype=torch.float64)
    recall = tp_cum / num_gt
    envelope = precision.flip(0).cummax(0).values.flip(0)  # max over j >= k
    recall_prev = torch.cat([torch.zeros(1, dtype=torch.float64), recall[:-1]])
    return float(((recall - recall_prev) * envelope).sum())
    # END SOLUTION


def mean_iou(pred, target, num_classes, ignore_index=255):
    """Mean intersection over union of a semantic segmentation.

    Inputs:
    - pred: int64 [N, H, W], the predicted class of each pixel, in [0, num_classes)
    - target: int64 [N, H, W], the true class of each pixel, in
      [0, num_classes) or ignore_index
    - num_classes: C
    - ignore_index: pixels whose TARGET is ignore_index are left out entirely
      (whatever their prediction)

    Returns a tuple (miou, per_class):
    - per_class: float tensor [C], per_class[c] = |P_c ∩ T_c| / |P_c ∪ T_c|
      counted over all N images' pixels that are not ignored, with
      P_c = {pixels predicted c}, T_c = {pixels labelled c}. A class with an
      empty union (neither predicted nor present) is NaN.
    - miou: the mean of per_class over the classes that are not NaN (a Python
      float or a 0-d tensor).
    """
    # BEGIN SOLUTION
    valid = target != ignore_index
    per_class = torch.empty(num_classes, dtype=torch.float64, device=target.device)
    for c in range(num_classes):
        p, t = (pred == c) & valid, (target == c) & valid
        inter = int((p & t).sum())
        union = int((p | t).sum())
        per_class[c] = inter / union if union > 0 else float("nan")
    present = ~torch.isnan(per_class)
    miou = per_class[present].mean()
    return float(miou), per_class
    # END SOLUTION


def dice_loss(logits, target, eps=1.0):
    """Soft Dice loss of a binary segmentation.

    Inputs:
    - logits: float [N, ...] (e.g. [N, 1, H, W]), one logit per pixel
    - target: float, same shape, 0 or 1 per pixel
    - eps: smoothing constant

    Returns:
    - loss: a 0-d tensor of the logits' dtype that autograd can differentiate
      (it is used for training). With p = sigmoid(logits) and, per sample n,
      sums over all its pixels (every dimension but the first):
          dice_n = (2 * sum(p * t) + eps) / (sum(p) + sum(t) + eps)
      loss = mean over n of (1 - dice_n).
    """
    # BEGIN SOLUTION
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1).to(p.dtype)
    dice = (2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)  # [N]
    return (1 - dice).mean()
    # END SOLUTION
