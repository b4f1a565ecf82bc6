#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week08/: a sample class for week08 (`detection.py`).

    python autograder_data/samples/make_week08_samples.py

Deletes and rewrites `week08/` next to this script, deterministically (fixed zip
timestamps and notebook cell ids). Standard library only.

- correct: plain loops (au200001), vectorised (au200002), own helper class and
  float64 inside (au200003), a Colab notebook (au200004.ipynb), a zip made like
  `dlgrade submit` (au200005.zip);
- wrong: one or two functions broken the way students break them;
- partial: functions left as NotImplementedError;
- broken: a syntax error, a missing function, a hang, a banned call.

What each must score is in `week08/EXPECTED.toml`.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import textwrap
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "week08"
FUNCTIONS = ["box_convert", "box_area", "box_iou", "nms", "batched_nms", "average_precision", "mean_iou", "dice_loss"]
ZIP_TIME = (2026, 11, 27, 9, 0, 0)


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# au200001: plain Python loops over boxes, detections and classes.
LOOPS = src('''
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
''')

# au200002: vectorised; float32 per_class and a 0-d tensor miou.
VECTOR = src('''
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
        wh = boxes[:, 2:] - boxes[:, :2]
        return wh.prod(dim=1)


    def box_iou(boxes1, boxes2):
        wh1 = (boxes1[:, 2:] - boxes1[:, :2]).prod(1)
        wh2 = (boxes2[:, 2:] - boxes2[:, :2]).prod(1)
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
''')

# au200003: a Boxes helper class of the student's own; everything in float64, cast back.
HELPERS = src('''
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
        p = torch.nn.functional.one_hot(pred[valid], num_classes).bool()
        t = torch.nn.functional.one_hot(target[valid], num_classes).bool()
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
''')


def replace(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


def stub_out(source: str, *names: str) -> str:
    """Each named function's body replaced by `raise NotImplementedError`."""
    lines = source.splitlines(keepends=True)
    out, skipping = [], False
    for line in lines:
        if any(line.startswith(f"def {n}(") for n in names):
            out.append(line)
            out.append("    raise NotImplementedError\n\n\n")
            skipping = True
            continue
        if skipping and (line.startswith("def ") or line.startswith("class ")):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


def notebook(source: str) -> str:
    cells = [("markdown", "# Week 8 - detection\nau200004"), ("code", "!pip install -q torchvision"),
             ("code", "%matplotlib inline")]
    parts = source.split("\n\n\n")
    cells += [("code", p.strip("\n")) for p in parts]
    cells += [("code", "import torchvision\nb = torch.rand(5, 4); b[:, 2:] += b[:, :2]\n"
                       "print(torch.equal(nms(b, torch.rand(5), 0.5), torchvision.ops.nms(b, torch.rand(5), 0.5)))"),
              ("code", "%%time\nprint(box_iou(b, b))")]
    nb = {"cells": [], "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                                    "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    count = 0
    for k, (kind, text) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"c{k:03d}", "metadata": {}, "source": text.splitlines(keepends=True)}
        if kind == "code":
            count += 1
            cell.update(execution_count=count, outputs=[])
        nb["cells"].append(cell)
    return json.dumps(nb, indent=1, sort_keys=True) + "\n"


def submit_zip(student: str, source: str) -> bytes:
    manifest = {"student": student, "week": "week08",
                "files": {"detection.py": hashlib.sha256(source.encode()).hexdigest()},
                "created": "2026-11-27T09:00:00Z", "dlgrade_version": "0.1.0"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("detection.py", source), ("manifest.json", json.dumps(manifest, indent=2))):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text)
    return buf.getvalue()


def build() -> list[tuple[str, str, str, list[str], str, object]]:
    """(student, form, kind, broken functions, note, content)."""
    e = [
        ("au200001", "folder", "correct", [], "plain Python loops over boxes, detections and pixels", LOOPS),
        ("au200002", "folder", "correct", [], "vectorised: broadcast IoU, a mask for NMS, bincount for mIoU; "
         "AP and miou as 0-d tensors, per_class in float32", VECTOR),
        ("au200003", "folder", "correct", [], "a Boxes class and a Suppressor class of the student's own; "
         "float64 inside, cast back to the input's dtype", HELPERS),
        ("au200004", "ipynb", "correct", [], "Colab notebook of the vectorised version; intake drops !pip, the magics "
         "and the top-level check that calls torchvision.ops.nms", notebook(VECTOR)),
        ("au200005", "zip", "correct", [], "zip made like dlgrade submit (detection.py + manifest.json), loops",
         LOOPS),
        ("au200006", "folder", "wrong", ["nms"], "nms suppresses at IoU >= threshold",
         replace(LOOPS, "if all(pair_iou(b[i], b[k]) <= iou_threshold for k in keep):",
                 "if all(pair_iou(b[i], b[k]) < iou_threshold for k in keep):")),
        ("au200007", "folder", "wrong", ["box_area", "box_iou", "nms", "batched_nms", "average_precision"],
         "box_area adds 1 to width and height; box_iou calls it, and nms, batched_nms and average_precision call "
         "box_iou: the mistake costs all five",
         replace(replace(VECTOR, "    wh = boxes[:, 2:] - boxes[:, :2]\n", "    wh = boxes[:, 2:] - boxes[:, :2] + 1\n"),
                 "    wh1 = (boxes1[:, 2:] - boxes1[:, :2]).prod(1)\n    wh2 = (boxes2[:, 2:] - boxes2[:, :2]).prod(1)\n",
                 "    wh1 = box_area(boxes1)\n    wh2 = box_area(boxes2)\n")),
        ("au200008", "folder", "wrong", ["mean_iou"], "mean_iou keeps ignored pixels' predictions in the union",
         replace(HELPERS, "    p = torch.nn.functional.one_hot(pred[valid], num_classes).bool()\n"
                          "    t = torch.nn.functional.one_hot(target[valid], num_classes).bool()\n",
                 "    p = torch.nn.functional.one_hot(pred.flatten(), num_classes).bool()\n"
                 "    t = torch.nn.functional.one_hot(torch.where(valid, target, 0).flatten(), num_classes).bool()\n"
                 "    t = t & valid.flatten()[:, None]  # ignored pixels dropped from the target only\n")),
        ("au200009", "folder", "wrong", ["average_precision", "dice_loss"], "average_precision without the "
         "precision envelope; dice_loss without the sigmoid",
         replace(replace(VECTOR, "    return (best * tp).sum() / total\n", "    return (prec * tp).sum() / total\n"),
                 "    p = logits.sigmoid().reshape(len(logits), -1)\n", "    p = logits.reshape(len(logits), -1)\n")),
        ("au200010", "folder", "partial", ["nms", "batched_nms", "average_precision", "mean_iou", "dice_loss"],
         "only the box functions written; the rest still raise NotImplementedError",
         stub_out(LOOPS, "nms", "batched_nms", "average_precision", "mean_iou", "dice_loss")),
        ("au200011", "folder", "broken", FUNCTIONS, "a syntax error (a missing colon) stops the import",
         replace(LOOPS, "def box_area(boxes):", "def box_area(boxes)")),
        ("au200012", "folder", "broken", ["dice_loss"], "dice_loss is missing (renamed soft_dice)",
         replace(VECTOR, "def dice_loss(logits, target, eps=1.0):", "def soft_dice(logits, target, eps=1.0):")),
        ("au200013", "folder", "broken", ["nms"], "nms loops forever when it is given no boxes",
         replace(LOOPS, "    keep = []\n    for i in order:\n        if all(pair_iou(b[i], b[k]) <= iou_threshold",
                 "    keep = []\n    while not order:\n        pass\n"
                 "    for i in order:\n        if all(pair_iou(b[i], b[k]) <= iou_threshold")),
        ("au200014", "folder", "wrong", ["batched_nms"], "batched_nms calls torchvision.ops.batched_nms (banned)",
         replace(VECTOR, "def batched_nms(boxes, scores, labels, iou_threshold):\n",
                 "def batched_nms(boxes, scores, labels, iou_threshold):\n    import torchvision.ops\n"
                 "    return torchvision.ops.batched_nms(boxes, scores, labels, iou_threshold)\n\n\n"
                 "def _unused(boxes, scores, labels, iou_threshold):\n")),
    ]
    return e


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    lines = ["# What each sample submission in this folder must score under `dlgrade grade week08`.",
             "# Written by ../make_week08_samples.py; do not edit by hand, change the generator.",
             "# broken_functions: the functions that must lose points; every other one keeps full marks.", ""]
    for student, form, kind, broken, note, content in build():
        if form == "folder":
            (OUT / student).mkdir()
            (OUT / student / "detection.py").write_text(content)
            entry = f"{student}/"
        elif form == "ipynb":
            (OUT / f"{student}.ipynb").write_text(content)
            entry = f"{student}.ipynb"
        else:
            (OUT / f"{student}.zip").write_bytes(submit_zip(student, content))
            entry = f"{student}.zip"
        lines += [f'["{entry}"]', f'kind = "{kind}"', f"broken_functions = {json.dumps(broken)}",
                  "gradable = true", f"note = {json.dumps(note)}", ""]
    (OUT / "EXPECTED.toml").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
