"""Week 8 public tests: one per function, run by `dlgrade check week08`.

Every input is drawn from `rng` or written out by hand, so the reference's
answers can be recorded by `dlgrade release` and replayed in the student
bundle. Hints are computed here, from the inputs, never by asking the
reference something new. A test of one function calls only that function.
"""

import math

import pytest
import torch

from grader.testing import GradingFailure, check, check_unmodified, fail

f32, f64 = torch.float32, torch.float64
FORMATS = ("xyxy", "xywh", "cxcywh")


# ------------------------------------------------------------------ helpers
def rand_boxes(rng, k, dtype=f64, size=10.0, max_wh=5.0):
    """k random boxes (x1, y1, x2, y2) in a size x size image."""
    xy = torch.rand(k, 2, dtype=dtype, generator=rng) * size
    wh = torch.rand(k, 2, dtype=dtype, generator=rng) * max_wh
    return torch.cat([xy, xy + wh], dim=1)


def clustered_boxes(rng, k, dtype=f64, clusters=3):
    """k valid boxes jittered around a few centres: many overlaps, as a detector's raw output."""
    centres = rand_boxes(rng, clusters, dtype, size=20.0, max_wh=6.0) + torch.tensor([0, 0, 2.0, 2.0], dtype=dtype)
    pick = torch.randint(0, clusters, (k,), generator=rng)
    b = centres[pick] + torch.randn(k, 4, dtype=dtype, generator=rng) * 0.5
    return torch.cat([b[:, :2].minimum(b[:, 2:]), b[:, :2].maximum(b[:, 2:])], 1)


def to_xyxy(b, fmt, half=0.5):
    """Boxes in format fmt as xyxy (half: the fraction of w, h between the centre and a side)."""
    a, c, w, h = b.unbind(-1)
    if fmt == "xyxy":
        return b.clone()
    if fmt == "xywh":
        return torch.stack([a, c, a + w, c + h], -1)
    return torch.stack([a - half * w, c - half * h, a + half * w, c + half * h], -1)


def from_xyxy(b, fmt):
    x1, y1, x2, y2 = b.unbind(-1)
    if fmt == "xyxy":
        return b.clone()
    if fmt == "xywh":
        return torch.stack([x1, y1, x2 - x1, y2 - y1], -1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1)


def iou_matrix(a, b, clamp=True):
    """IoU computed here, for hints (clamp=False: the intersection without clamping at 0)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0) if clamp else rb - lt
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union, torch.zeros_like(union))


def greedy_nms(boxes, scores, thr, labels=None, ge=False, suppressed_suppress=False, by_index=False):
    """NMS done right, or wrong in one named way, for hints."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    iou = iou_matrix(boxes, boxes)
    keep, dropped = [], []
    for i in order:
        judges = keep + (dropped if suppressed_suppress else [])
        same = [k for k in judges if labels is None or int(labels[k]) == int(labels[i])]
        if any((iou[i, k] >= thr) if ge else (iou[i, k] > thr) for k in same):
            dropped.append(i)
        else:
            keep.append(i)
    if labels is not None and by_index:  # grouped by label, each group by score
        keep = sorted(keep, key=lambda i: (int(labels[i]), order.index(i)))
    elif by_index:
        keep = sorted(keep)
    return torch.tensor(keep, dtype=torch.int64)


def ap_variant(pred_boxes, pred_scores, gt_boxes, thr, interpolate=True, reuse_gt=False):
    """Average precision written here (right, or with one named mistake), for hints."""
    dets = [(float(s), b, i) for b, ss in enumerate(pred_scores) for i, s in enumerate(ss.tolist())]
    dets.sort(key=lambda d: -d[0])  # Python's sort is stable
    total = sum(len(g) for g in gt_boxes)
    if total == 0:
        return 0.0
    used = [set() for _ in gt_boxes]
    hits = []
    for _, b, i in dets:
        if len(gt_boxes[b]) == 0:
            hits.append(0)
            continue
        iou = iou_matrix(pred_boxes[b][i:i + 1].to(f64), gt_boxes[b].to(f64))[0]
        if not reuse_gt:
            iou = torch.where(torch.tensor([j in used[b] for j in range(len(iou))]), -1.0, iou)
        j = int(iou.argmax())
        ok = float(iou[j]) >= thr
        if ok:
            used[b].add(j)
        hits.append(int(ok))
    ap, tp = 0.0, 0
    precisions = []
    for k, h in enumerate(hits, 1):
        tp += h
        precisions.append(tp / k)
    for k, h in enumerate(hits):
        if h:
            ap += (max(precisions[k:]) if interpolate else precisions[k]) / total
    return ap


def check_keep(out, expected, name, hints):
    """check() for the kept indices, with hints: an index answer that equals a named wrong rule says so."""
    try:
        check(out, expected, name=name)
    except GradingFailure as e:
        if isinstance(out, torch.Tensor) and not out.is_floating_point():
            for text, alt in hints.items():
                try:
                    alt = alt() if callable(alt) else alt
                except Exception:  # noqa: BLE001 - a hint that cannot be computed is no hint
                    alt = None
                if isinstance(alt, torch.Tensor) and alt.shape == out.shape and torch.equal(out.to(torch.int64), alt):
                    fail(f"{e}. Hint: {text}")
        raise


def as_number(x, name):
    """A Python number or a tensor of one element, as a float (either is a right answer)."""
    if isinstance(x, torch.Tensor) and x.numel() == 1:
        return float(x.detach().reshape(()))
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    fail(f"{name} should be a number (a Python float or a 0-d tensor), got "
         f"{'a tensor of shape ' + str(list(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__}")


def check_pair(out, function):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"{function} should return a tuple (miou, per_class), got "
             f"{'a ' + type(out).__name__ + ' of ' + str(len(out)) + ' items' if isinstance(out, (tuple, list)) else type(out).__name__}")
    return out


def dice_variant(logits, target, eps, sigmoid=True, per_sample=True, eps_top=True):
    p = torch.sigmoid(logits) if sigmoid else logits
    dims = tuple(range(1, p.dim())) if per_sample else tuple(range(p.dim()))
    top = 2 * (p * target).sum(dims) + (eps if eps_top else 0.0)
    return (1 - top / (p.sum(dims) + target.sum(dims) + eps)).mean()


def dice_grad(module, logits, target, eps):
    x = logits.clone().requires_grad_(True)
    loss = module.dice_loss(x, target, eps)
    loss.backward()
    return x.grad


# ------------------------------------------------------------------ tests
@pytest.mark.function("box_convert")
@pytest.mark.points(1)
@pytest.mark.public
def test_box_convert(student, reference, rng):
    """all six conversions between xyxy, xywh and cxcywh on random boxes, float64"""
    xyxy = rand_boxes(rng, 6)
    for fin in FORMATS:
        for fout in FORMATS:
            if fin == fout:
                continue
            boxes = from_xyxy(xyxy, fin)
            out = student.box_convert(boxes, fin, fout)
            check_unmodified(student)
            hints = {}
            if fin == "cxcywh":
                hints["from cxcywh the corners are cx -/+ w/2 and cy -/+ h/2, not cx -/+ w"] = \
                    from_xyxy(to_xyxy(boxes, fin, half=1.0), fout)
            if fout == "cxcywh":
                hints["the centre is ((x1 + x2) / 2, (y1 + y2) / 2), not (x1, y1)"] = \
                    torch.cat([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], 1)
            check(out, reference.box_convert(boxes, fin, fout), name=f"{fin} -> {fout}", hints=hints)


@pytest.mark.function("box_area")
@pytest.mark.points(1)
@pytest.mark.public
def test_box_area(student, reference, rng):
    """random boxes with fractional corners, float64"""
    boxes = rand_boxes(rng, 7)
    out = student.box_area(boxes)
    check_unmodified(student)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    check(out, reference.box_area(boxes), name="area", hints={
        "the area has a +1 (pixel-index boxes): with continuous coordinates it is (x2 - x1) * (y2 - y1)":
            (w + 1) * (h + 1)})


@pytest.mark.function("box_iou")
@pytest.mark.points(1)
@pytest.mark.public
def test_box_iou(student, reference, rng):
    """random boxes, some overlapping and some far apart, float64"""
    a, b = rand_boxes(rng, 5), rand_boxes(rng, 4)
    b[0] = a[0]                                  # one identical pair: IoU 1
    b[1] = a[1] + torch.tensor([30.0, 30.0, 30.0, 30.0], dtype=f64)  # far apart: IoU 0
    out = student.box_iou(a, b)
    check_unmodified(student)
    check(out, reference.box_iou(a, b), name="iou", hints={
        "boxes that do not overlap got a non-zero intersection: clamp the intersection's width and height at 0":
            iou_matrix(a, b, clamp=False),
        "the result is transposed: iou[i, j] is boxes1[i] against boxes2[j], shape [N, M]":
            iou_matrix(b, a).T if a.shape[0] == b.shape[0] else None,
    })


@pytest.mark.function("nms")
@pytest.mark.points(1)
@pytest.mark.public
def test_nms(student, reference, rng):
    """clustered random boxes at thresholds 0.3 and 0.6; a pair with IoU exactly 0.5 at threshold 0.5 (kept); a chain"""
    boxes = clustered_boxes(rng, 12)
    scores = torch.rand(12, dtype=f64, generator=rng)
    cases = [(boxes, scores, 0.3), (boxes, scores, 0.6),
             (torch.tensor([[0., 0., 2., 1.], [0., 0., 1., 1.], [5., 5., 6., 6.]], dtype=f64),
              torch.tensor([0.9, 0.8, 0.7], dtype=f64), 0.5),
             (torch.tensor([[0., 0., 2., 1.], [1., 0., 3., 1.], [2., 0., 4., 1.]], dtype=f64),
              torch.tensor([0.9, 0.8, 0.7], dtype=f64), 0.3)]  # B suppressed by A; C overlaps only B: kept
    for b, s, thr in cases:
        out = student.nms(b, s, thr)
        check_unmodified(student)
        check_keep(out, reference.nms(b, s, thr), name=f"keep (threshold {thr})", hints={
            "a box was suppressed at IoU equal to the threshold: suppress only when IoU > threshold":
                greedy_nms(b, s, thr, ge=True),
            "suppressed boxes suppressed others: only boxes already KEPT suppress":
                greedy_nms(b, s, thr, suppressed_suppress=True),
            "the indices are sorted by index; return them by decreasing score":
                greedy_nms(b, s, thr, by_index=True),
        })


@pytest.mark.function("batched_nms")
@pytest.mark.points(1)
@pytest.mark.public
def test_batched_nms(student, reference, rng):
    """clustered boxes with 3 labels, threshold 0.4, float64"""
    boxes = clustered_boxes(rng, 14, clusters=2)
    scores = torch.rand(14, dtype=f64, generator=rng)
    labels = torch.randint(0, 3, (14,), generator=rng)
    out = student.batched_nms(boxes, scores, labels, 0.4)
    check_unmodified(student)
    check_keep(out, reference.batched_nms(boxes, scores, labels, 0.4), name="keep", hints={
        "boxes of different labels suppressed each other: NMS runs within each label":
            greedy_nms(boxes, scores, 0.4),
        "the indices are grouped by label; return them all by decreasing score":
            greedy_nms(boxes, scores, 0.4, labels=labels, by_index=True),
    })


@pytest.mark.function("average_precision")
@pytest.mark.points(1)
@pytest.mark.public
def test_average_precision(student, reference, rng):
    """three images: detections near the ground truth, a duplicate, misses, an image without ground truth"""
    gts = [rand_boxes(rng, 3, size=30.0, max_wh=8.0) + torch.tensor([0, 0, 2.0, 2.0], dtype=f64),
           rand_boxes(rng, 2, size=30.0, max_wh=8.0) + torch.tensor([0, 0, 2.0, 2.0], dtype=f64),
           torch.zeros(0, 4, dtype=f64)]
    preds, scores = [], []
    for g in gts:
        near = g + torch.randn(g.shape, dtype=f64, generator=rng) * 0.6
        dup = g[:1] + torch.randn(min(1, len(g)), 4, dtype=f64, generator=rng) * 0.3
        junk = rand_boxes(rng, 2, size=30.0)
        p = torch.cat([near, dup, junk])
        p = torch.cat([p[:, :2].minimum(p[:, 2:]), p[:, :2].maximum(p[:, 2:])], 1)
        preds.append(p)
        scores.append(torch.rand(len(p), dtype=f64, generator=rng))
    out = student.average_precision(preds, scores, gts, 0.5)
    check_unmodified(student)
    check(as_number(out, "ap"), float(reference.average_precision(preds, scores, gts, 0.5)), name="ap",
          rtol=1e-6, atol=1e-9, hints={
              "the precision is not interpolated: AP uses, at each recall, the best precision at that recall "
              "or higher (max over j >= k)": ap_variant(preds, scores, gts, 0.5, interpolate=False),
              "a ground truth box was matched twice: once matched, a box is taken, and a duplicate detection "
              "is a false positive": ap_variant(preds, scores, gts, 0.5, reuse_gt=True),
          })


@pytest.mark.function("mean_iou")
@pytest.mark.points(1)
@pytest.mark.public
def test_mean_iou(student, reference, rng):
    """4 classes of which one is never seen, ignored pixels (255) with predictions on them"""
    pred = torch.randint(0, 3, (2, 6, 7), generator=rng)
    target = torch.randint(0, 3, (2, 6, 7), generator=rng)
    target[0, :2] = 255
    out = check_pair(student.mean_iou(pred, target, 4, 255), "mean_iou")
    check_unmodified(student)
    miou, per_class = reference.mean_iou(pred, target, 4, 255)
    counted = target.clone()
    counted[counted == 255] = 99  # ignored pixels left in: their predictions join the union
    wrong_ignore = torch.tensor([float(((pred == c) & (counted == c)).sum()) / float(((pred == c) | (counted == c)).sum())
                                 if ((pred == c) | (counted == c)).any() else math.nan for c in range(4)], dtype=f64)
    check(out[1], per_class.to(f64), name="per_class", check_dtype=False, rtol=1e-5, atol=1e-8, hints={
        "pixels whose target is ignore_index still count (through their prediction): leave them out entirely":
            wrong_ignore,
        "a class with an empty union got 0: it is NaN and left out of the mean": per_class.to(f64).nan_to_num(0.0),
    })
    check(as_number(out[0], "miou"), float(miou), name="miou", rtol=1e-5, atol=1e-8, hints={
        "the mean counts the classes with an empty union as 0: leave them out (mean over the non-NaN classes)":
            float(per_class.to(f64).nan_to_num(0.0).mean()),
    })


@pytest.mark.function("dice_loss")
@pytest.mark.points(1)
@pytest.mark.public
def test_dice_loss(student, reference, rng):
    """a batch of 3 masks [3, 1, 5, 6], eps 1, float64; then its gradient through autograd"""
    logits = torch.randn(3, 1, 5, 6, dtype=f64, generator=rng) * 2
    target = (torch.rand(3, 1, 5, 6, dtype=f64, generator=rng) > 0.6).to(f64)
    out = student.dice_loss(logits, target, 1.0)
    check_unmodified(student)
    check(out, reference.dice_loss(logits, target, 1.0), name="loss", hints={
        "sigmoid is missing: p = sigmoid(logits)": dice_variant(logits, target, 1.0, sigmoid=False),
        "the sums run over the whole batch at once; Dice is per sample, then the mean over the batch":
            dice_variant(logits, target, 1.0, per_sample=False),
        "eps belongs in the numerator too: (2 * sum(p * t) + eps) / (sum(p) + sum(t) + eps)":
            dice_variant(logits, target, 1.0, eps_top=False),
    })
    check(student.run(dice_grad, logits, target, 1.0), reference.run(dice_grad, logits, target, 1.0),
          name="d loss / d logits")
