"""Week 8 hidden tests: run only by `dlgrade grade`.

Each function's points are split over random values in both float dtypes,
hand-built corners (zero-area and touching boxes, IoU exactly at the
threshold, equal scores, chains of suppression, no boxes at all, duplicate
detections, images without ground truth, no ground truth at all, classes with
an empty union, pixels ignored), coordinates far from zero, and
non-contiguous inputs (transposed and sliced views, sent with their strides);
every call is checked to leave its inputs unmodified. A test calls only the
function it grades.

Points: box_convert 3, box_area 2, box_iou 4, nms 4.5, batched_nms 4,
average_precision 5.5, mean_iou 4, dice_loss 3 (30 in all; the public suite
adds 1 per function).
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


# ------------------------------------------------------------------ hint texts
CX_HALF = "from cxcywh the corners are cx -/+ w/2 and cy -/+ h/2, not cx -/+ w"
CENTRE = "the centre is ((x1 + x2) / 2, (y1 + y2) / 2), not (x1, y1)"
PLUS_ONE = "the area has a +1 (pixel-index boxes): with continuous coordinates it is (x2 - x1) * (y2 - y1)"
NO_CLAMP = "boxes that do not overlap got a non-zero intersection: clamp the intersection's width and height at 0"
GE = "a box was suppressed at IoU equal to the threshold: suppress only when IoU > threshold"
CHAIN = "suppressed boxes suppressed others: only boxes already KEPT suppress"
BY_INDEX = "the indices are sorted by index; return them by decreasing score"
TIES = "equal scores must be visited lower index first (a stable sort: torch.sort(..., stable=True))"
ACROSS = "boxes of different labels suppressed each other: NMS runs within each label"
GROUPED = "the indices are grouped by label; return them all by decreasing score"
NO_INTERP = ("the precision is not interpolated: AP uses, at each recall, the best precision at that recall "
             "or higher (max over j >= k)")
REUSE = ("a ground truth box was matched twice: once matched, a box is taken, and a duplicate detection "
         "is a false positive")
IGNORED = "pixels whose target is ignore_index still count (through their prediction): leave them out entirely"
EMPTY_ZERO = "a class with an empty union got 0: it is NaN and left out of the mean"
EMPTY_MEAN = "the mean counts the classes with an empty union as 0: leave them out (mean over the non-NaN classes)"
NO_SIGMOID = "sigmoid is missing: p = sigmoid(logits)"
BATCH_SUM = "the sums run over the whole batch at once; Dice is per sample, then the mean over the batch"
EPS_TOP = "eps belongs in the numerator too: (2 * sum(p * t) + eps) / (sum(p) + sum(t) + eps)"


def transposed(t):
    """The same values as a non-contiguous view (last two dimensions swapped twice; the wire keeps strides)."""
    return t.transpose(-1, -2).contiguous().transpose(-1, -2)


def sliced(t, dim=0):
    """The same values as a non-contiguous view: every other entry of a tensor twice as large along dim."""
    shape = list(t.shape)
    shape[dim] *= 2
    big = torch.zeros(shape, dtype=t.dtype)
    index = [slice(None)] * t.dim()
    index[dim] = slice(0, None, 2)
    big[tuple(index)] = t
    return big[tuple(index)]


def T(rows, dtype=f64):
    return torch.tensor(rows, dtype=dtype).reshape(-1, 4)


# ------------------------------------------------------------------ per-function checks
def check_convert(student, reference, boxes, fin, fout, view=None):
    out = student.box_convert(boxes if view is None else view, fin, fout)
    check_unmodified(student)
    hints = {}
    if fin == "cxcywh":
        hints[CX_HALF] = lambda: from_xyxy(to_xyxy(boxes, fin, half=1.0), fout)
    if fout == "cxcywh":
        hints[CENTRE] = lambda: (lambda x: torch.cat([x[:, :2], x[:, 2:] - x[:, :2]], 1))(to_xyxy(boxes, fin))
    check(out, reference.box_convert(boxes, fin, fout), name=f"{fin} -> {fout}", hints=hints)


def check_area(student, reference, boxes, view=None):
    out = student.box_area(boxes if view is None else view)
    check_unmodified(student)
    check(out, reference.box_area(boxes), name="area", hints={
        PLUS_ONE: lambda: (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)})


def check_iou(student, reference, a, b, views=None):
    out = student.box_iou(*(views or (a, b)))
    check_unmodified(student)
    check(out, reference.box_iou(a, b), name="iou", hints={NO_CLAMP: lambda: iou_matrix(a, b, clamp=False)})


def nms_hints(b, s, thr, labels=None):
    if labels is None:
        return {GE: lambda: greedy_nms(b, s, thr, ge=True),
                CHAIN: lambda: greedy_nms(b, s, thr, suppressed_suppress=True),
                BY_INDEX: lambda: greedy_nms(b, s, thr, by_index=True),
                TIES: lambda: ties_reversed(b, s, thr)}
    return {ACROSS: lambda: greedy_nms(b, s, thr),
            GROUPED: lambda: greedy_nms(b, s, thr, labels=labels, by_index=True),
            GE: lambda: greedy_nms(b, s, thr, labels=labels, ge=True)}


def ties_reversed(b, s, thr):
    """NMS visiting equal scores higher index first (then mapped back), for the tie hint."""
    k = len(s)
    keep = greedy_nms(b.flip(0), s.flip(0), thr)
    return (k - 1 - keep) if k else keep


def check_nms(student, reference, b, s, thr, views=None):
    out = student.nms(*(views or (b, s)), thr)
    check_unmodified(student)
    check_keep(out, reference.nms(b, s, thr), name=f"keep (threshold {thr})", hints=nms_hints(b, s, thr))


def check_batched(student, reference, b, s, labels, thr, views=None):
    out = student.batched_nms(*(views or (b, s, labels)), thr)
    check_unmodified(student)
    check_keep(out, reference.batched_nms(b, s, labels, thr), name=f"keep (threshold {thr})",
          hints=nms_hints(b, s, thr, labels))


def check_ap(student, reference, preds, scores, gts, thr=0.5, sent=None):
    out = student.average_precision(*(sent or (preds, scores, gts)), thr)
    check_unmodified(student)
    expected = float(reference.average_precision(preds, scores, gts, thr))
    got = as_number(out, "ap")
    if math.isnan(got):
        fail("ap is NaN" + (": with no ground truth at all AP is 0.0 (the recall divides by 0)"
                            if sum(len(g) for g in gts) == 0 else ""))
    check(got, expected, name="ap", rtol=1e-6, atol=1e-9, hints={
        NO_INTERP: lambda: ap_variant(preds, scores, gts, thr, interpolate=False),
        REUSE: lambda: ap_variant(preds, scores, gts, thr, reuse_gt=True)})


def detections_for(rng, gts, dtype=f64, junk=2, dup=1):
    """Detections near each ground truth box, duplicates of some, and junk boxes; random scores."""
    preds, scores = [], []
    for g in gts:
        parts = [g + torch.randn(g.shape, dtype=dtype, generator=rng) * 0.6]
        if len(g) and dup:
            parts.append(g[:dup] + torch.randn(min(dup, len(g)), 4, dtype=dtype, generator=rng) * 0.3)
        parts.append(rand_boxes(rng, junk, dtype, size=30.0))
        p = torch.cat(parts)
        preds.append(torch.cat([p[:, :2].minimum(p[:, 2:]), p[:, :2].maximum(p[:, 2:])], 1))
        scores.append(torch.rand(len(p), dtype=dtype, generator=rng))
    return preds, scores


def gt_set(rng, counts, dtype=f64):
    return [rand_boxes(rng, c, dtype, size=30.0, max_wh=8.0) + torch.tensor([0, 0, 2.0, 2.0], dtype=dtype)
            for c in counts]


def check_miou(student, reference, pred, target, C, ignore_index=None, sent=None):
    args = (pred, target, C) if ignore_index is None else (pred, target, C, ignore_index)
    out = check_pair(student.mean_iou(*(sent or args)), "mean_iou")
    check_unmodified(student)
    miou, per_class = reference.mean_iou(*args)
    ig = 255 if ignore_index is None else ignore_index
    per = per_class.to(f64)

    def wrong_ignore():
        counted = torch.where(target == ig, torch.full_like(target, -7), target)
        return torch.tensor([float(((pred == c) & (counted == c)).sum()) / float(((pred == c) | (counted == c)).sum())
                             if ((pred == c) | (counted == c)).any() else math.nan for c in range(C)], dtype=f64)

    check(out[1], per, name="per_class", check_dtype=False, rtol=1e-5, atol=1e-8,
          hints={IGNORED: wrong_ignore, EMPTY_ZERO: lambda: per.nan_to_num(0.0)})
    if not (isinstance(out[1], torch.Tensor) and out[1].is_floating_point()):
        fail("per_class should be a float tensor (NaN marks the classes with an empty union)")
    check(as_number(out[0], "miou"), float(miou), name="miou", rtol=1e-5, atol=1e-8,
          hints={EMPTY_MEAN: lambda: float(per.nan_to_num(0.0).mean())})


def check_dice(student, reference, logits, target, eps, views=None):
    out = student.dice_loss(*(views or (logits, target)), eps)
    check_unmodified(student)
    check(out, reference.dice_loss(logits, target, eps), name="loss", hints={
        NO_SIGMOID: lambda: dice_variant(logits, target, eps, sigmoid=False),
        BATCH_SUM: lambda: dice_variant(logits, target, eps, per_sample=False),
        EPS_TOP: lambda: dice_variant(logits, target, eps, eps_top=False)})


# ------------------------------------------------------------------ box_convert (3)
@pytest.mark.function("box_convert")
@pytest.mark.points(0.75)
def test_box_convert_float64_all_pairs(student, reference, rng):
    """all six conversions, float64, coordinates far from zero (around 1e4)"""
    xyxy = rand_boxes(rng, 9) * 50 + 1e4
    for fin in FORMATS:
        for fout in FORMATS:
            if fin != fout:
                check_convert(student, reference, from_xyxy(xyxy, fin), fin, fout)


@pytest.mark.function("box_convert")
@pytest.mark.points(0.75)
def test_box_convert_float32_and_same_format(student, reference, rng):
    """all six conversions in float32; a format to itself gives the same values"""
    xyxy = rand_boxes(rng, 8, f32)
    for fin in FORMATS:
        for fout in FORMATS:
            check_convert(student, reference, from_xyxy(xyxy, fin), fin, fout)


@pytest.mark.function("box_convert")
@pytest.mark.points(0.5)
def test_box_convert_zero_size_and_one_box(student, reference, rng):
    """boxes of width or height 0; a single box; exact integer corners"""
    boxes = T([[1, 2, 1, 5], [3, 3, 7, 3], [4, 4, 4, 4], [0, 0, 6, 2]])
    for fin, fout in (("xyxy", "cxcywh"), ("cxcywh", "xyxy"), ("xyxy", "xywh"), ("xywh", "cxcywh")):
        check_convert(student, reference, from_xyxy(boxes, fin), fin, fout)
    check_convert(student, reference, from_xyxy(rand_boxes(rng, 1), "cxcywh"), "cxcywh", "xywh")


@pytest.mark.function("box_convert")
@pytest.mark.points(0.5)
def test_box_convert_empty(student, reference, rng):
    """no boxes at all: [0, 4] in, [0, 4] out"""
    for fin, fout in (("xyxy", "cxcywh"), ("cxcywh", "xyxy"), ("xywh", "xyxy")):
        check_convert(student, reference, torch.zeros(0, 4, dtype=f64), fin, fout)


@pytest.mark.function("box_convert")
@pytest.mark.points(0.5)
def test_box_convert_views(student, reference, rng):
    """non-contiguous boxes (a transposed and a sliced view)"""
    xyxy = rand_boxes(rng, 6)
    boxes = from_xyxy(xyxy, "cxcywh")
    check_convert(student, reference, boxes, "cxcywh", "xyxy", view=transposed(boxes))
    check_convert(student, reference, xyxy, "xyxy", "xywh", view=sliced(xyxy, 1))


# ------------------------------------------------------------------ box_area (2)
@pytest.mark.function("box_area")
@pytest.mark.points(0.5)
def test_box_area_float32(student, reference, rng):
    """random boxes, float32"""
    check_area(student, reference, rand_boxes(rng, 11, f32))


@pytest.mark.function("box_area")
@pytest.mark.points(0.5)
def test_box_area_zero_and_empty(student, reference, rng):
    """boxes of width 0, height 0 or both (area exactly 0); then no boxes at all"""
    boxes = T([[1, 2, 1, 5], [3, 3, 7, 3], [4, 4, 4, 4], [0.5, 0.25, 2.5, 4.25]])
    check_area(student, reference, boxes)
    check_area(student, reference, torch.zeros(0, 4, dtype=f32))


@pytest.mark.function("box_area")
@pytest.mark.points(0.5)
def test_box_area_large_coordinates(student, reference, rng):
    """corners around 1e5 and a single box, float64"""
    check_area(student, reference, rand_boxes(rng, 6) * 100 + 1e5)
    check_area(student, reference, rand_boxes(rng, 1))


@pytest.mark.function("box_area")
@pytest.mark.points(0.5)
def test_box_area_views(student, reference, rng):
    """non-contiguous boxes (a transposed and a sliced view)"""
    boxes = rand_boxes(rng, 5)
    check_area(student, reference, boxes, view=transposed(boxes))
    check_area(student, reference, boxes, view=sliced(boxes, 0))


# ------------------------------------------------------------------ box_iou (4)
@pytest.mark.function("box_iou")
@pytest.mark.points(1)
def test_box_iou_random(student, reference, rng):
    """7 x 5 random boxes with overlaps, float64"""
    a = clustered_boxes(rng, 7, clusters=2)
    b = clustered_boxes(rng, 5, clusters=2)
    check_iou(student, reference, a, b)


@pytest.mark.function("box_iou")
@pytest.mark.points(0.5)
def test_box_iou_float32(student, reference, rng):
    """6 x 9 random boxes, float32"""
    check_iou(student, reference, rand_boxes(rng, 6, f32), rand_boxes(rng, 9, f32))


@pytest.mark.function("box_iou")
@pytest.mark.points(0.75)
def test_box_iou_touching_and_nested(student, reference, rng):
    """boxes sharing an edge or a corner (IoU 0), nested boxes, identical boxes, far apart boxes"""
    a = T([[0, 0, 2, 2], [0, 0, 2, 2], [1, 1, 3, 4], [10, 10, 12, 11]])
    b = T([[2, 0, 4, 2], [2, 2, 3, 3], [0, 2, 2, 5], [0.5, 0.5, 1.5, 1.5], [1, 1, 3, 4], [-5, -5, -4, -4]])
    check_iou(student, reference, a, b)


@pytest.mark.function("box_iou")
@pytest.mark.points(0.75)
def test_box_iou_zero_area(student, reference, rng):
    """boxes of area 0: against each other (union 0, IoU 0) and inside or on a normal box (IoU 0)"""
    a = T([[1, 1, 1, 1], [2, 0, 2, 3], [0, 0, 4, 4]])
    b = T([[1, 1, 1, 1], [2, 1, 2, 2], [0, 0, 4, 4], [3, 3, 3, 3]])
    check_iou(student, reference, a, b)


@pytest.mark.function("box_iou")
@pytest.mark.points(0.5)
def test_box_iou_empty(student, reference, rng):
    """no boxes on one side: [0, M] and [N, 0]"""
    b = rand_boxes(rng, 3)
    check_iou(student, reference, torch.zeros(0, 4, dtype=f64), b)
    check_iou(student, reference, b, torch.zeros(0, 4, dtype=f64))


@pytest.mark.function("box_iou")
@pytest.mark.points(0.5)
def test_box_iou_views(student, reference, rng):
    """non-contiguous boxes (a transposed and a sliced view)"""
    a, b = clustered_boxes(rng, 5, clusters=2), clustered_boxes(rng, 4, clusters=2)
    check_iou(student, reference, a, b, views=(transposed(a), sliced(b, 0)))


# ------------------------------------------------------------------ nms (5)
@pytest.mark.function("nms")
@pytest.mark.points(1)
def test_nms_random(student, reference, rng):
    """30 clustered boxes at thresholds 0.2, 0.5 and 0.8, float64"""
    b, s = clustered_boxes(rng, 30, clusters=4), torch.rand(30, dtype=f64, generator=rng)
    for thr in (0.2, 0.5, 0.8):
        check_nms(student, reference, b, s, thr)


@pytest.mark.function("nms")
@pytest.mark.points(0.5)
def test_nms_float32(student, reference, rng):
    """20 clustered boxes, float32, threshold 0.45"""
    b, s = clustered_boxes(rng, 20, f32), torch.rand(20, dtype=f32, generator=rng)
    check_nms(student, reference, b, s, 0.45)


@pytest.mark.function("nms")
@pytest.mark.points(0.75)
def test_nms_iou_at_threshold(student, reference, rng):
    """IoU exactly 0.5 and 0.25 at those thresholds (kept); touching boxes at threshold 0 (kept)"""
    b = T([[0, 0, 2, 1], [0, 0, 1, 1], [0, 0, 4, 1], [4, 0, 5, 1], [0, 1, 4, 2]])
    s = torch.tensor([0.5, 0.9, 0.7, 0.6, 0.8], dtype=f64)
    for thr in (0.5, 0.25, 0.0):
        check_nms(student, reference, b, s, thr)


@pytest.mark.function("nms")
@pytest.mark.points(0.75)
def test_nms_equal_scores(student, reference, rng):
    """equal scores: the lower index is visited (and kept) first"""
    b = T([[0, 0, 2, 2], [0, 0, 2, 2.2], [5, 5, 7, 7], [5, 5.1, 7, 7], [0, 0.1, 2, 2]])
    s = torch.tensor([0.5, 0.5, 0.7, 0.7, 0.5], dtype=f64)
    check_nms(student, reference, b, s, 0.5)
    b = clustered_boxes(rng, 12, clusters=2)
    s = torch.randint(0, 3, (12,), generator=rng).to(f64) / 4
    check_nms(student, reference, b, s, 0.3)


@pytest.mark.function("nms")
@pytest.mark.points(0.5)
def test_nms_chain(student, reference, rng):
    """a chain A-B-C: B is suppressed by A, so C (overlapping only B) is kept"""
    b = T([[0, 0, 2, 1], [1, 0, 3, 1], [2, 0, 4, 1]])
    check_nms(student, reference, b, torch.tensor([0.9, 0.8, 0.7], dtype=f64), 0.3)
    b = T([[0, 0, 4, 4], [1, 0, 5, 4], [2, 0, 6, 4], [3, 0, 7, 4]])
    check_nms(student, reference, b, torch.tensor([0.4, 0.9, 0.3, 0.8], dtype=f64), 0.5)


@pytest.mark.function("nms")
@pytest.mark.points(0.5)
def test_nms_no_boxes_and_one_box(student, reference, rng):
    """no boxes at all (an empty int64 tensor back), then a single box"""
    check_nms(student, reference, torch.zeros(0, 4, dtype=f64), torch.zeros(0, dtype=f64), 0.5)
    check_nms(student, reference, rand_boxes(rng, 1), torch.rand(1, dtype=f64, generator=rng), 0.5)


@pytest.mark.function("nms")
@pytest.mark.points(0.5)
def test_nms_zero_area_and_views(student, reference, rng):
    """boxes of area 0 among others (never suppress); non-contiguous boxes and scores"""
    b = T([[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 2, 2], [2, 2, 2, 5]])
    check_nms(student, reference, b, torch.tensor([0.9, 0.8, 0.7, 0.6], dtype=f64), 0.0)
    b, s = clustered_boxes(rng, 10, clusters=2), torch.rand(10, dtype=f64, generator=rng)
    check_nms(student, reference, b, s, 0.4, views=(transposed(b), sliced(s, 0)))


# ------------------------------------------------------------------ batched_nms (4)
@pytest.mark.function("batched_nms")
@pytest.mark.points(1)
def test_batched_nms_random(student, reference, rng):
    """30 clustered boxes with 4 labels, thresholds 0.3 and 0.6, float64"""
    b, s = clustered_boxes(rng, 30, clusters=3), torch.rand(30, dtype=f64, generator=rng)
    labels = torch.randint(0, 4, (30,), generator=rng)
    for thr in (0.3, 0.6):
        check_batched(student, reference, b, s, labels, thr)


@pytest.mark.function("batched_nms")
@pytest.mark.points(0.5)
def test_batched_nms_float32(student, reference, rng):
    """16 boxes with 2 labels, float32"""
    b, s = clustered_boxes(rng, 16, f32, clusters=2), torch.rand(16, dtype=f32, generator=rng)
    check_batched(student, reference, b, s, torch.randint(0, 2, (16,), generator=rng), 0.5)


@pytest.mark.function("batched_nms")
@pytest.mark.points(0.75)
def test_batched_nms_labels_never_suppress_each_other(student, reference, rng):
    """identical boxes of different labels are all kept; within a label the usual rule, IoU at the threshold kept"""
    b = T([[0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 1, 2], [0, 0, 1, 2]])
    s = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.95], dtype=f64)
    check_batched(student, reference, b, s, torch.tensor([0, 1, 0, 1, 2]), 0.5)


@pytest.mark.function("batched_nms")
@pytest.mark.points(0.75)
def test_batched_nms_equal_scores(student, reference, rng):
    """equal scores across and within labels: lower index first"""
    b = T([[0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 2, 2.1], [8, 8, 9, 9], [5, 5, 6, 6]])
    s = torch.tensor([0.5, 0.5, 0.5, 0.7, 0.5], dtype=f64)
    check_batched(student, reference, b, s, torch.tensor([1, 0, 1, 1, 0]), 0.5)


@pytest.mark.function("batched_nms")
@pytest.mark.points(0.5)
def test_batched_nms_no_boxes_and_one_label(student, reference, rng):
    """no boxes at all; all boxes of one label (plain NMS)"""
    check_batched(student, reference, torch.zeros(0, 4, dtype=f64), torch.zeros(0, dtype=f64),
                  torch.zeros(0, dtype=torch.int64), 0.5)
    b, s = clustered_boxes(rng, 8, clusters=2), torch.rand(8, dtype=f64, generator=rng)
    check_batched(student, reference, b, s, torch.full((8,), 3, dtype=torch.int64), 0.5)


@pytest.mark.function("batched_nms")
@pytest.mark.points(0.5)
def test_batched_nms_views(student, reference, rng):
    """non-contiguous boxes, scores and labels"""
    b, s = clustered_boxes(rng, 12, clusters=2), torch.rand(12, dtype=f64, generator=rng)
    labels = torch.randint(0, 3, (12,), generator=rng)
    check_batched(student, reference, b, s, labels, 0.4, views=(transposed(b), sliced(s), sliced(labels)))


# ------------------------------------------------------------------ average_precision (6)
@pytest.mark.function("average_precision")
@pytest.mark.points(1)
def test_average_precision_random(student, reference, rng):
    """four images with 1 to 4 ground truth boxes, near detections, duplicates and junk, float64"""
    gts = gt_set(rng, (3, 1, 4, 2))
    preds, scores = detections_for(rng, gts)
    for thr in (0.5, 0.75):
        check_ap(student, reference, preds, scores, gts, thr)


@pytest.mark.function("average_precision")
@pytest.mark.points(0.5)
def test_average_precision_float32(student, reference, rng):
    """three images, float32 boxes and scores"""
    gts = gt_set(rng, (2, 3, 2), f32)
    preds, scores = detections_for(rng, gts, f32)
    check_ap(student, reference, preds, scores, gts)


@pytest.mark.function("average_precision")
@pytest.mark.points(0.75)
def test_average_precision_duplicates(student, reference, rng):
    """two detections of one ground truth box: the second (lower score) is a false positive; IoU ties between ground truth boxes"""
    gts = [T([[0, 0, 10, 10], [20, 20, 30, 30]])]
    preds = [T([[0, 0, 10, 10], [0.5, 0, 10, 10], [20, 20, 30, 31], [40, 40, 50, 50]])]
    for s in ([0.9, 0.8, 0.7, 0.6], [0.9, 0.95, 0.5, 0.6], [0.3, 0.9, 0.8, 0.85]):
        check_ap(student, reference, preds, [torch.tensor(s, dtype=f64)], gts)
    # a detection with equal IoU (1/3) to two ground truth boxes matches the lower index
    check_ap(student, reference, [T([[1, 0, 3, 2], [0, 0, 2, 2]])], [torch.tensor([0.9, 0.8], dtype=f64)],
             [T([[0, 0, 2, 2], [2, 0, 4, 2]])], 0.3)


@pytest.mark.function("average_precision")
@pytest.mark.points(0.75)
def test_average_precision_images_without_ground_truth(student, reference, rng):
    """images without ground truth (all their detections are false positives) and images without detections"""
    gts = gt_set(rng, (2, 0, 3, 0))
    preds, scores = detections_for(rng, gts)
    preds[2], scores[2] = torch.zeros(0, 4, dtype=f64), torch.zeros(0, dtype=f64)
    check_ap(student, reference, preds, scores, gts)


@pytest.mark.function("average_precision")
@pytest.mark.points(0.5)
def test_average_precision_no_ground_truth(student, reference, rng):
    """no ground truth in any image: 0.0 (with detections, and with none)"""
    gts = [torch.zeros(0, 4, dtype=f64), torch.zeros(0, 4, dtype=f64)]
    preds = [rand_boxes(rng, 3), rand_boxes(rng, 2)]
    check_ap(student, reference, preds, [torch.rand(3, dtype=f64, generator=rng),
                                         torch.rand(2, dtype=f64, generator=rng)], gts)
    check_ap(student, reference, [torch.zeros(0, 4, dtype=f64)] * 2, [torch.zeros(0, dtype=f64)] * 2, gts)


@pytest.mark.function("average_precision")
@pytest.mark.points(0.5)
def test_average_precision_iou_at_threshold_and_extremes(student, reference, rng):
    """IoU exactly at the threshold is a match; a perfect detector (1.0); every detection a miss (0.0)"""
    gts = [T([[0, 0, 2, 1]]), T([[0, 0, 4, 1]])]
    preds = [T([[0, 0, 1, 1]]), T([[0, 0, 1, 1], [0, 0, 4, 1]])]
    scores = [torch.tensor([0.9], dtype=f64), torch.tensor([0.8, 0.7], dtype=f64)]
    check_ap(student, reference, preds, scores, gts, 0.5)
    check_ap(student, reference, preds, scores, gts, 0.25)
    g = gt_set(rng, (2, 3))
    check_ap(student, reference, [x.clone() for x in g], [torch.rand(len(x), dtype=f64, generator=rng) for x in g], g)
    check_ap(student, reference, [x + 50 for x in g], [torch.rand(len(x), dtype=f64, generator=rng) for x in g], g)


@pytest.mark.function("average_precision")
@pytest.mark.points(0.75)
def test_average_precision_equal_scores(student, reference, rng):
    """equal scores keep the input order (image 0 first, then by index): a stable sort"""
    gts = [T([[0, 0, 10, 10]]), T([[0, 0, 10, 10]])]
    preds = [T([[50, 50, 60, 60], [0, 0, 10, 10]]), T([[0, 0, 10, 10], [50, 50, 60, 60]])]
    scores = [torch.tensor([0.5, 0.5], dtype=f64), torch.tensor([0.5, 0.5], dtype=f64)]
    check_ap(student, reference, preds, scores, gts)
    gts = gt_set(rng, (2, 2, 1))
    preds, scores = detections_for(rng, gts)
    scores = [torch.randint(0, 3, (len(s),), generator=rng).to(f64) / 2 for s in scores]
    check_ap(student, reference, preds, scores, gts)


@pytest.mark.function("average_precision")
@pytest.mark.points(0.75)
def test_average_precision_views(student, reference, rng):
    """non-contiguous boxes and scores in the lists"""
    gts = gt_set(rng, (2, 3))
    preds, scores = detections_for(rng, gts)
    sent = ([transposed(p) for p in preds], [sliced(s) for s in scores], [sliced(g, 0) for g in gts])
    check_ap(student, reference, preds, scores, gts, sent=sent)


# ------------------------------------------------------------------ mean_iou (4)
@pytest.mark.function("mean_iou")
@pytest.mark.points(1)
def test_mean_iou_random(student, reference, rng):
    """5 classes on 3 images 7x9, some pixels ignored (255, the default, not passed)"""
    pred = torch.randint(0, 5, (3, 7, 9), generator=rng)
    target = torch.randint(0, 5, (3, 7, 9), generator=rng)
    target[torch.rand(3, 7, 9, generator=rng) < 0.2] = 255
    check_miou(student, reference, pred, target, 5)


@pytest.mark.function("mean_iou")
@pytest.mark.points(0.75)
def test_mean_iou_empty_union(student, reference, rng):
    """classes neither predicted nor present (NaN, left out of the mean); a class only predicted (IoU 0)"""
    pred = torch.randint(0, 2, (2, 6, 5), generator=rng)
    target = torch.randint(0, 2, (2, 6, 5), generator=rng)
    pred[0, 0, 0] = 4
    check_miou(student, reference, pred, target, 6, 255)


@pytest.mark.function("mean_iou")
@pytest.mark.points(0.75)
def test_mean_iou_class_only_on_ignored_pixels(student, reference, rng):
    """a class predicted only where the target is ignored: its union is empty (NaN)"""
    pred = torch.randint(0, 3, (2, 5, 8), generator=rng)
    target = torch.randint(0, 3, (2, 5, 8), generator=rng)
    target[:, :2] = 255
    pred[:, :2] = 3
    check_miou(student, reference, pred, target, 4, 255)


@pytest.mark.function("mean_iou")
@pytest.mark.points(0.5)
def test_mean_iou_other_ignore_index(student, reference, rng):
    """ignore_index -1, a batch of 1, a non-square 4x11 map; then a perfect prediction (1.0)"""
    pred = torch.randint(0, 3, (1, 4, 11), generator=rng)
    target = torch.randint(0, 3, (1, 4, 11), generator=rng)
    target[0, 1] = -1
    check_miou(student, reference, pred, target, 3, -1)
    check_miou(student, reference, target.clamp(min=0), target.clamp(min=0), 3, -1)


@pytest.mark.function("mean_iou")
@pytest.mark.points(0.5)
def test_mean_iou_views(student, reference, rng):
    """non-contiguous pred and target (a transposed and a sliced view)"""
    pred = torch.randint(0, 4, (2, 6, 7), generator=rng)
    target = torch.randint(0, 4, (2, 6, 7), generator=rng)
    target[1, 3:] = 255
    check_miou(student, reference, pred, target, 4, 255, sent=(transposed(pred), sliced(target, 0), 4, 255))


@pytest.mark.function("mean_iou")
@pytest.mark.points(0.5)
def test_mean_iou_many_classes(student, reference, rng):
    """21 classes (most of them absent) on a 1x16x16 map"""
    pred = torch.randint(0, 21, (1, 16, 16), generator=rng) % 7
    target = torch.randint(0, 21, (1, 16, 16), generator=rng) % 5 + 2
    check_miou(student, reference, pred, target, 21, 255)


# ------------------------------------------------------------------ dice_loss (3)
@pytest.mark.function("dice_loss")
@pytest.mark.points(0.5)
def test_dice_loss_values(student, reference, rng):
    """random masks [4, 1, 6, 5], eps 1, float64"""
    logits = torch.randn(4, 1, 6, 5, dtype=f64, generator=rng) * 2
    target = (torch.rand(4, 1, 6, 5, dtype=f64, generator=rng) > 0.5).to(f64)
    check_dice(student, reference, logits, target, 1.0)


@pytest.mark.function("dice_loss")
@pytest.mark.points(0.5)
def test_dice_loss_float32_no_channel_dim(student, reference, rng):
    """float32 masks [3, 7, 4] (no channel dimension), eps 0.5; a batch of 1"""
    logits = torch.randn(3, 7, 4, dtype=f32, generator=rng)
    target = (torch.rand(3, 7, 4, dtype=f32, generator=rng) > 0.3).to(f32)
    check_dice(student, reference, logits, target, 0.5)
    check_dice(student, reference, logits[:1].clone(), target[:1].clone(), 1.0)


@pytest.mark.function("dice_loss")
@pytest.mark.points(0.5)
def test_dice_loss_extremes(student, reference, rng):
    """logits of +-50 and exact zeros; an empty target mask; a full one"""
    logits = torch.randn(3, 1, 4, 4, dtype=f64, generator=rng).sign() * 50
    logits[0, 0, 0] = 0.0
    target = (torch.rand(3, 1, 4, 4, dtype=f64, generator=rng) > 0.5).to(f64)
    target[1] = 0.0
    target[2] = 1.0
    check_dice(student, reference, logits, target, 1.0)


@pytest.mark.function("dice_loss")
@pytest.mark.points(0.75)
def test_dice_loss_gradient(student, reference, rng):
    """the gradient with respect to the logits (autograd through the student's loss), float64"""
    logits = torch.randn(2, 1, 5, 4, dtype=f64, generator=rng)
    target = (torch.rand(2, 1, 5, 4, dtype=f64, generator=rng) > 0.5).to(f64)
    check(student.run(dice_grad, logits, target, 1.0), reference.run(dice_grad, logits, target, 1.0),
          name="d loss / d logits")


@pytest.mark.function("dice_loss")
@pytest.mark.points(0.75)
def test_dice_loss_views(student, reference, rng):
    """non-contiguous logits and target (a transposed and a sliced view)"""
    logits = torch.randn(2, 1, 5, 6, dtype=f64, generator=rng)
    target = (torch.rand(2, 1, 5, 6, dtype=f64, generator=rng) > 0.5).to(f64)
    check_dice(student, reference, logits, target, 1.0, views=(transposed(logits), sliced(target, 3)))
