"""The week08 reference solution against oracles that share none of its code.

Boxes against torchvision.ops (box_convert, box_area, box_iou, nms, batched_nms)
on random and on hand-built boxes; average precision against a second
implementation written differently (a VOC-style precision envelope over
recall points) and against cases computed by hand; mean IoU against a
confusion matrix; Dice against the formula written out per sample, and its
gradient against finite differences.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torchvision.ops as tv

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "week08" / "detection.py"
FORMATS = ("xyxy", "xywh", "cxcywh")
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(scope="module")
def det():
    spec = importlib.util.spec_from_file_location("week08_detection_under_test", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def boxes(k, dtype=torch.float64, seed=0, size=10.0, max_wh=5.0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(k, 2, generator=g, dtype=dtype) * size
    return torch.cat([xy, xy + torch.rand(k, 2, generator=g, dtype=dtype) * max_wh], 1)


def close(a, e):
    assert a.shape == e.shape and a.dtype == e.dtype, (a.shape, e.shape, a.dtype, e.dtype)
    tol = dict(rtol=1e-5, atol=1e-5) if e.dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(a, e, equal_nan=True, **tol)


HAND = torch.tensor([[0, 0, 2, 2], [2, 0, 4, 2], [2, 2, 3, 3], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 2, 1],
                     [0, 0, 1, 1], [0.5, 0.5, 1.5, 1.5], [3, 0, 3, 4], [0, 0, 4, 1]], dtype=torch.float64)


# ------------------------------------------------------------------ boxes
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fin", FORMATS)
@pytest.mark.parametrize("fout", FORMATS)
def test_box_convert_matches_torchvision(det, fin, fout, dtype):
    for b in (tv.box_convert(boxes(20, dtype, 1), "xyxy", fin), tv.box_convert(HAND.to(dtype), "xyxy", fin),
              torch.zeros(0, 4, dtype=dtype)):
        original = b.clone()
        close(det.box_convert(b, fin, fout), tv.box_convert(b, fin, fout))
        assert torch.equal(b, original)


@pytest.mark.parametrize("dtype", DTYPES)
def test_box_area_matches_torchvision(det, dtype):
    for b in (boxes(25, dtype, 2), HAND.to(dtype), torch.zeros(0, 4, dtype=dtype)):
        close(det.box_area(b), tv.box_area(b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_box_iou_matches_torchvision(det, dtype):
    for a, b in ((boxes(12, dtype, 3), boxes(9, dtype, 4)), (HAND.to(dtype), HAND.to(dtype)),
                 (torch.zeros(0, 4, dtype=dtype), boxes(3, dtype)), (boxes(3, dtype), torch.zeros(0, 4, dtype=dtype))):
        expected = tv.box_iou(a, b).nan_to_num(0.0)  # torchvision gives 0/0 = NaN where the union is 0
        close(det.box_iou(a, b), expected)


def test_box_iou_hand_values(det):
    iou = det.box_iou(HAND, HAND)
    assert iou[0, 1] == 0 and iou[0, 2] == 0          # an edge, a corner: touching is not overlapping
    assert iou[3, 4] == 0 and iou[3, 0] == 0          # area 0 against area 0 (union 0) and inside a box
    assert iou[5, 6] == 0.5 and iou[6, 9] == 0.25     # nested: exactly representable
    assert iou[0, 7] == 0.25 and torch.equal(iou.diagonal()[[0, 1, 2, 5]], torch.ones(4, dtype=torch.float64))


def cluster(k, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    c = boxes(4, dtype, seed + 100, size=20.0, max_wh=6.0) + torch.tensor([0, 0, 2.0, 2.0], dtype=dtype)
    b = c[torch.randint(0, 4, (k,), generator=g)] + torch.randn(k, 4, generator=g, dtype=dtype) * 0.5
    return torch.cat([b[:, :2].minimum(b[:, 2:]), b[:, :2].maximum(b[:, 2:])], 1), torch.rand(k, generator=g, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(4))
def test_nms_matches_torchvision(det, dtype, seed):
    b, s = cluster(40, dtype, seed)
    for thr in (0.0, 0.2, 0.5, 0.7, 1.0):
        keep = det.nms(b, s, thr)
        assert keep.dtype == torch.int64
        assert torch.equal(keep, tv.nms(b, s, thr)), thr


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(4))
def test_batched_nms_matches_torchvision(det, dtype, seed):
    b, s = cluster(40, dtype, seed)
    labels = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(seed))
    for thr in (0.2, 0.5, 0.7):
        assert torch.equal(det.batched_nms(b, s, labels, thr), tv.batched_nms(b, s, labels, thr)), thr


def test_nms_hand_built(det):
    # IoU exactly 0.5 (box 1 inside box 0) and 0.25; suppression is strictly greater: kept
    b = torch.tensor([[0, 0, 2, 1], [0, 0, 1, 1], [0, 0, 4, 1]], dtype=torch.float64)
    s = torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64)
    for thr, expected in ((0.5, [0, 1, 2]), (0.49, [0])):
        assert det.nms(b, s, thr).tolist() == expected == tv.nms(b, s, thr).tolist(), thr
    b, s = b[[2, 1]], s[:2]  # IoU exactly 0.25
    for thr, expected in ((0.25, [0, 1]), (0.2, [0])):
        assert det.nms(b, s, thr).tolist() == expected == tv.nms(b, s, thr).tolist(), thr
    # equal scores: lower index first; touching boxes at threshold 0 are kept
    b = torch.tensor([[0, 0, 2, 2], [0, 0, 2, 2], [2, 0, 4, 2]], dtype=torch.float64)
    s = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)
    assert det.nms(b, s, 0.0).tolist() == [0, 2] == tv.nms(b, s, 0.0).tolist()
    # a chain: B suppressed by A does not suppress C
    b = torch.tensor([[0, 0, 2, 1], [1, 0, 3, 1], [2, 0, 4, 1]], dtype=torch.float64)
    assert det.nms(b, torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64), 0.3).tolist() == [0, 2]
    # no boxes at all
    empty = det.nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.dtype == torch.int64 and empty.shape == (0,)
    empty = det.batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5)
    assert empty.dtype == torch.int64 and empty.shape == (0,)


def test_batched_nms_hand_built(det):
    b = torch.tensor([[0, 0, 2, 2]] * 3 + [[5, 5, 6, 6]] * 2, dtype=torch.float64)
    s = torch.tensor([0.5, 0.9, 0.5, 0.5, 0.5], dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 0, 1])
    # by score, then index: 1 (0.9), 0, 3, 4; box 2 is a duplicate of 0 in label 0
    assert det.batched_nms(b, s, labels, 0.5).tolist() == [1, 0, 3, 4]


# ------------------------------------------------------------------ average precision
def voc_ap(pred_boxes, pred_scores, gt_boxes, thr=0.5):
    """A second implementation: VOC devkit style (mrec/mpre arrays and the backward max), in plain Python."""
    npos = sum(len(g) for g in gt_boxes)
    if npos == 0:
        return 0.0
    dets = sorted(((-float(s), b, i) for b in range(len(pred_scores)) for i, s in enumerate(pred_scores[b].tolist())),
                  key=lambda d: d[0])  # stable
    taken = [[False] * len(g) for g in gt_boxes]
    tp, fp = [], []
    for _, b, i in dets:
        bb = [float(v) for v in pred_boxes[b][i]]
        best, jbest = -1.0, -1
        for j, g in enumerate(gt_boxes[b].tolist()):
            if taken[b][j]:
                continue
            iw = max(min(bb[2], g[2]) - max(bb[0], g[0]), 0.0)
            ih = max(min(bb[3], g[3]) - max(bb[1], g[1]), 0.0)
            inter = iw * ih
            uni = (bb[2] - bb[0]) * (bb[3] - bb[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
            o = inter / uni if uni > 0 else 0.0
            if o > best:
                best, jbest = o, j
        ok = jbest >= 0 and best >= thr
        if ok:
            taken[b][jbest] = True
        tp.append(1.0 if ok else 0.0)
        fp.append(0.0 if ok else 1.0)
    ctp = cfp = 0.0
    rec, prec = [], []
    for t, f in zip(tp, fp):
        ctp += t
        cfp += f
        rec.append(ctp / npos)
        prec.append(ctp / (ctp + cfp))
    mrec = [0.0] + rec + [1.0]
    mpre = [0.0] + prec + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


def T(rows):
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 4)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
def test_average_precision_matches_voc_style(det, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    gts, preds, scores = [], [], []
    for b in range(4):
        n = int(torch.randint(0, 4, (1,), generator=g))
        gt = boxes(n, dtype, seed * 10 + b, size=30.0, max_wh=8.0) + torch.tensor([0, 0, 2.0, 2.0], dtype=dtype)
        p = torch.cat([gt + torch.randn(gt.shape, generator=g, dtype=dtype) * 0.8, gt[:1],
                       boxes(2, dtype, seed * 10 + b + 5, size=30.0)])
        p = torch.cat([p[:, :2].minimum(p[:, 2:]), p[:, :2].maximum(p[:, 2:])], 1)
        gts.append(gt)
        preds.append(p)
        scores.append(torch.randint(0, 5, (len(p),), generator=g).to(dtype) / 4)  # ties on purpose
    for thr in (0.3, 0.5, 0.7):
        ap = det.average_precision(preds, scores, gts, thr)
        assert math.isclose(float(ap), voc_ap(preds, scores, gts, thr), rel_tol=1e-12, abs_tol=1e-12)


def test_average_precision_hand_computed(det):
    gt = [T([[0, 0, 10, 10], [20, 20, 30, 30]])]
    hit1, hit2, miss = [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]
    # TP, FP, TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP = 1/2 * 1 + 1/2 * 2/3
    ap = det.average_precision([T([hit1, miss, hit2])], [torch.tensor([0.9, 0.8, 0.7])], gt)
    assert math.isclose(ap, 0.5 + 1 / 3)
    # FP first: precision 0, 1/2, 2/3; the envelope makes recall 1/2 worth 2/3 -> AP = 2/3
    ap = det.average_precision([T([miss, hit1, hit2])], [torch.tensor([0.9, 0.8, 0.7])], gt)
    assert math.isclose(ap, 2 / 3)
    # a duplicate of hit1 (scored above hit2) is a FP: TP, FP, TP as in the first case
    ap = det.average_precision([T([hit1, hit1, hit2])], [torch.tensor([0.9, 0.8, 0.7])], gt)
    assert math.isclose(ap, 0.5 + 1 / 3)
    # an image without ground truth: its detection is a FP; an image without detections costs recall
    ap = det.average_precision([T([hit1]), T([miss]), T([])], [torch.tensor([0.9]), torch.tensor([0.95]), torch.zeros(0)],
                               [T([[0, 0, 10, 10]]), T([]), T([[0, 0, 1, 1]])])
    assert math.isclose(ap, 0.5 * 0.5)  # FP then TP: precision 1/2 at recall 1/2, recall 1 never reached
    # IoU exactly at the threshold matches; just below does not
    assert det.average_precision([T([[0, 0, 1, 1]])], [torch.tensor([1.0])], [T([[0, 0, 2, 1]])], 0.5) == 1.0
    assert det.average_precision([T([[0, 0, 1, 1]])], [torch.tensor([1.0])], [T([[0, 0, 2, 1]])], 0.51) == 0.0
    # equal scores: stable (image 0 first): FP then TP -> 1/2; the other order would give 1
    ap = det.average_precision([T([miss]), T([hit1])], [torch.tensor([0.5]), torch.tensor([0.5])],
                               [T([]), T([hit1])])
    assert math.isclose(ap, 0.5)
    # equal IoU (1/3) with two ground truth boxes: the lower index is matched, so the exact copy of it is a FP
    ap = det.average_precision([T([[1, 0, 3, 2], [0, 0, 2, 2]])], [torch.tensor([0.9, 0.8])],
                               [T([[0, 0, 2, 2], [2, 0, 4, 2]])], 0.3)
    assert math.isclose(ap, 0.5)
    # no ground truth at all: 0.0, with or without detections
    assert det.average_precision([T([hit1])], [torch.tensor([0.9])], [T([])]) == 0.0
    assert det.average_precision([T([])], [torch.zeros(0)], [T([])]) == 0.0


# ------------------------------------------------------------------ mean IoU, Dice
def confusion_miou(pred, target, C, ignore):
    keep = target != ignore
    cm = torch.bincount(target[keep] * C + pred[keep], minlength=C * C).reshape(C, C).to(torch.float64)
    inter = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - inter
    per = inter / union  # 0/0 = NaN for an empty union
    return per, per[~per.isnan()].mean()


@pytest.mark.parametrize("seed", range(5))
def test_mean_iou_matches_confusion_matrix(det, seed):
    g = torch.Generator().manual_seed(seed)
    C = 6
    pred = torch.randint(0, 4, (2, 9, 7), generator=g)
    target = torch.randint(0, 5, (2, 9, 7), generator=g)
    target[torch.rand(2, 9, 7, generator=g) < 0.25] = 255
    pred[0, 0, 0] = 5
    target[0, 0, 0] = 255  # class 5 predicted only on an ignored pixel: NaN
    miou, per = det.mean_iou(pred, target, C, 255)
    exp_per, exp_miou = confusion_miou(pred, target, C, 255)
    close(per.to(torch.float64), exp_per)
    assert per[5].isnan() and math.isclose(float(miou), float(exp_miou), rel_tol=1e-12)


def test_mean_iou_hand_computed(det):
    pred = torch.tensor([[[0, 0, 1], [1, 2, 2]]])
    target = torch.tensor([[[0, 1, 1], [255, 2, 0]]])
    miou, per = det.mean_iou(pred, target, 4, 255)
    # class 0: inter 1, union {00,01,12} = 3; class 1: inter 1 ({02}), union {01,02} = 2 (10 ignored);
    # class 2: inter 1, union {11,12} = 2; class 3: empty -> NaN
    assert per[:3].tolist() == [1 / 3, 1 / 2, 1 / 2] and per[3].isnan()
    assert math.isclose(float(miou), (1 / 3 + 1 / 2 + 1 / 2) / 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dice_matches_formula(det, dtype):
    g = torch.Generator().manual_seed(9)
    logits = torch.randn(4, 1, 5, 6, generator=g, dtype=dtype) * 3
    target = (torch.rand(4, 1, 5, 6, generator=g) > 0.5).to(dtype)
    target[1] = 0
    for eps in (1.0, 1e-6):
        per = []
        for n in range(4):
            p = [1 / (1 + math.exp(-v)) for v in logits[n].flatten().tolist()]
            t = target[n].flatten().tolist()
            per.append(1 - (2 * sum(a * b for a, b in zip(p, t)) + eps) / (sum(p) + sum(t) + eps))
        loss = det.dice_loss(logits, target, eps)
        assert loss.shape == () and loss.dtype == dtype
        assert math.isclose(float(loss), sum(per) / 4, rel_tol=1e-5 if dtype == torch.float32 else 1e-12)


def test_dice_gradient_matches_finite_differences(det):
    g = torch.Generator().manual_seed(10)
    logits = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = (torch.rand(3, 1, 4, 4, generator=g) > 0.5).to(torch.float64)
    assert torch.autograd.gradcheck(lambda x: det.dice_loss(x, target, 1.0), (logits,))


def test_no_banned_call_in_the_reference():
    from grader.banned import scan
    from grader.course import Course

    week = Course(ROOT).week("week08")
    result = scan(SOLUTION.read_text(), {f: week.banned_for(f) for f in week.functions})
    assert result.banned == {} and result.review == {}
