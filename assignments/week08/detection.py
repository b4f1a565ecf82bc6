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
    # TODO: your code here
    raise NotImplementedError("box_convert")


def box_area(boxes):
    """Area of each box.

    Inputs:
    - boxes: [K, 4] in "xyxy" format

    Returns:
    - area: [K], (x2 - x1) * (y2 - y1)
    """
    # TODO: your code here
    raise NotImplementedError("box_area")


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
    # TODO: your code here
    raise NotImplementedError("box_iou")


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
    # TODO: your code here
    raise NotImplementedError("nms")


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
    # TODO: your code here
    raise NotImplementedError("batched_nms")


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
    # TODO: your code here
    raise NotImplementedError("average_precision")


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
    # TODO: your code here
    raise NotImplementedError("mean_iou")


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
    # TODO: your code here
    raise NotImplementedError("dice_loss")
