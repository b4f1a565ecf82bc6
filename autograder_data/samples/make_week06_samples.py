#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week06/: a sample class for week06 (`transfer.py`).

    python autograder_data/samples/make_week06_samples.py

Deletes and rewrites `week06/` next to this script, deterministically (fixed zip
timestamps and notebook cell ids). Standard library only.

- correct: loops (au306001), vectorised (au306002), helper functions and a
  class of the student's own (au306003), a Colab notebook (au306004.ipynb), a
  zip made like `dlgrade submit` (au306005.zip);
- wrong: one or two functions broken the way students break them;
- partial: functions left as NotImplementedError;
- broken: a syntax error, a missing function, a hang.

What each must score is in `week06/EXPECTED.toml`.
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
OUT = HERE / "week06"
FUNCTIONS = ["normalize", "hflip", "center_crop", "mixup", "build_finetune_model",
             "confusion_matrix", "precision_recall_f1", "topk_error"]
ZIP_TIME = (2026, 12, 1, 9, 0, 0)


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# au306001: loops.
LOOPS = src('''
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
''')

# au306002: vectorised.
VECTOR = src('''
    """Week 06, vectorised."""
    import torch
    import torch.nn as nn


    def normalize(images, mean, std):
        m = torch.tensor(mean, dtype=images.dtype).view(1, -1, 1, 1)
        s = torch.tensor(std, dtype=images.dtype).view(1, -1, 1, 1)
        return (images - m) / s


    def hflip(images):
        return torch.flip(images, dims=[3])


    def center_crop(images, size):
        h, w = (size, size) if isinstance(size, int) else size
        top, left = round((images.shape[2] - h) / 2), round((images.shape[3] - w) / 2)
        return images[:, :, top:top + h, left:left + w].contiguous()


    def mixup(x, y_onehot, lam, perm):
        return lam * x + (1 - lam) * x[perm], lam * y_onehot + (1 - lam) * y_onehot[perm]


    def build_finetune_model(backbone, num_classes, freeze_backbone=True):
        if freeze_backbone:
            backbone.requires_grad_(False)
        backbone.fc = nn.Linear(backbone.fc.in_features, num_classes)
        return backbone


    def confusion_matrix(y_true, y_pred, num_classes):
        idx = y_true * num_classes + y_pred
        return torch.bincount(idx, minlength=num_classes ** 2).view(num_classes, num_classes)


    def precision_recall_f1(cm):
        cm = cm.double()
        tp = torch.diag(cm)
        p = torch.nan_to_num(tp / cm.sum(0), nan=0.0)
        r = torch.nan_to_num(tp / cm.sum(1), nan=0.0)
        f = torch.nan_to_num(2 * p * r / (p + r), nan=0.0)
        return p, r, f


    def topk_error(scores, y, k):
        own = scores[torch.arange(len(y)), y].unsqueeze(1)
        return ((scores > own).sum(dim=1) >= k).float().mean()
''')

# au306003: helper functions and a small class of the student's own.
HELPERS = src('''
    """Week 06 with helpers."""
    import torch
    from torch import nn


    def _per_channel(values, like):
        return torch.as_tensor(values, dtype=like.dtype).reshape(1, -1, 1, 1)


    def _pair(size):
        return (size, size) if isinstance(size, int) else (size[0], size[1])


    def _safe_div(a, b):
        out = torch.zeros_like(a)
        mask = b != 0
        out[mask] = a[mask] / b[mask]
        return out


    class Counter:
        def __init__(self, C):
            self.table = torch.zeros(C * C, dtype=torch.int64)
            self.C = C

        def add(self, t, p):
            self.table += torch.bincount(t * self.C + p, minlength=self.C * self.C)
            return self

        def matrix(self):
            return self.table.reshape(self.C, self.C)


    def normalize(images, mean, std):
        return (images - _per_channel(mean, images)) / _per_channel(std, images)


    def hflip(images):
        return images[..., torch.arange(images.shape[-1] - 1, -1, -1)]


    def center_crop(images, size):
        h, w = _pair(size)
        H, W = images.shape[-2:]
        top, left = int(round((H - h) / 2)), int(round((W - w) / 2))
        return images.narrow(-2, top, h).narrow(-1, left, w)


    def mixup(x, y_onehot, lam, perm):
        def mix(t):
            return lam * t + (1 - lam) * t.index_select(0, perm)
        return mix(x), mix(y_onehot)


    def build_finetune_model(backbone, num_classes, freeze_backbone=True):
        if freeze_backbone:
            for p in backbone.parameters():
                p.requires_grad_(False)
        backbone.fc = nn.Linear(backbone.fc.in_features, num_classes)
        return backbone


    def confusion_matrix(y_true, y_pred, num_classes):
        return Counter(num_classes).add(y_true, y_pred).matrix()


    def precision_recall_f1(cm):
        cm = cm.to(torch.float64)
        tp = cm.diagonal()
        p, r = _safe_div(tp, cm.sum(0)), _safe_div(tp, cm.sum(1))
        return p, r, _safe_div(2 * p * r, p + r)


    def topk_error(scores, y, k):
        own = scores.gather(1, y.view(-1, 1))
        return float(((scores > own).sum(1) >= k).double().mean())
''')


def replace(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


def stub_out(source: str, *names: str) -> str:
    """Each named function's body replaced by `raise NotImplementedError`."""
    out, skipping = [], False
    for line in source.splitlines(keepends=True):
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


def notebook(source: str, student: str) -> str:
    cells = [("markdown", f"# Week 06 - augmentation, fine-tuning, evaluation\n{student}"), ("code", "!pip install -q torch"),
             ("code", "%load_ext autoreload\n%autoreload 2")]
    cells += [("code", p.strip("\n")) for p in source.split("\n\n\n")]
    cells += [("code", "x = torch.randn(2, 3, 32, 32)\nprint(center_crop(x, 24).shape)")]
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
    manifest = {"student": student, "week": "week06",
                "files": {"transfer.py": hashlib.sha256(source.encode()).hexdigest()},
                "created": "2026-12-01T09:00:00Z", "dlgrade_version": "0.1.0"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("transfer.py", source), ("manifest.json", json.dumps(manifest, indent=2))):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text)
    return buf.getvalue()


def build() -> list[tuple[str, str, str, list[str], str, str]]:
    """(student, form, kind, broken functions, note, content)."""
    return [
        ("au306001", "folder", "correct", [], "loops over channels, columns, rows and samples", LOOPS),
        ("au306002", "folder", "correct", [], "vectorised: flip, bincount, nan_to_num", VECTOR),
        ("au306003", "folder", "correct", [], "helper functions and a Counter class of the student's own",
         HELPERS),
        ("au306004", "ipynb", "correct", [], "Colab notebook of the vectorised version; intake drops !pip, the "
         "magics and the top-level check", notebook(VECTOR, "au306004")),
        ("au306005", "zip", "correct", [], "zip made like dlgrade submit (transfer.py + manifest.json), helpers",
         HELPERS),
        ("au306006", "folder", "wrong", ["center_crop"], "center_crop offsets with integer division",
         replace(LOOPS, "    top = int(round((H - h) / 2))\n    left = int(round((W - w) / 2))\n",
                 "    top = (H - h) // 2\n    left = (W - w) // 2\n")),
        ("au306007", "folder", "wrong", ["build_finetune_model", "confusion_matrix"],
         "the head frozen with the backbone (fc replaced first); the confusion matrix transposed",
         replace(replace(VECTOR, "    if freeze_backbone:\n        backbone.requires_grad_(False)\n"
                         "    backbone.fc = nn.Linear(backbone.fc.in_features, num_classes)\n",
                         "    backbone.fc = nn.Linear(backbone.fc.in_features, num_classes)\n"
                         "    if freeze_backbone:\n        backbone.requires_grad_(False)\n"),
                 "idx = y_true * num_classes + y_pred", "idx = y_pred * num_classes + y_true")),
        ("au306008", "folder", "wrong", ["topk_error"], "topk_error with torch.topk membership: ties broken "
         "arbitrarily, the label counted out",
         replace(HELPERS, "    own = scores.gather(1, y.view(-1, 1))\n"
                 "    return float(((scores > own).sum(1) >= k).double().mean())\n",
                 "    top = scores.topk(k, dim=1).indices\n"
                 "    own = scores.gather(1, y.view(-1, 1))\n"
                 "    return float(((scores >= own).sum(1) > k).double().mean())\n")),
        ("au306009", "folder", "wrong", ["precision_recall_f1", "hflip"], "precision and recall swapped; "
         "hflip mirrors the height",
         replace(replace(VECTOR, "torch.flip(images, dims=[3])", "torch.flip(images, dims=[2])"),
                 "p = torch.nan_to_num(tp / cm.sum(0), nan=0.0)\n    r = torch.nan_to_num(tp / cm.sum(1), nan=0.0)",
                 "p = torch.nan_to_num(tp / cm.sum(1), nan=0.0)\n    r = torch.nan_to_num(tp / cm.sum(0), nan=0.0)")),
        ("au306010", "folder", "partial", ["build_finetune_model", "precision_recall_f1", "topk_error"],
         "the evaluation and the fine-tuning left as NotImplementedError",
         stub_out(LOOPS, "build_finetune_model", "precision_recall_f1", "topk_error")),
        ("au306011", "folder", "broken", FUNCTIONS, "a syntax error (an unclosed bracket) stops the import",
         replace(VECTOR, "    return torch.flip(images, dims=[3])\n", "    return torch.flip(images, dims=[3]\n")),
        ("au306012", "folder", "broken", ["mixup"], "mixup is missing (named mix_up)",
         replace(VECTOR, "def mixup(x, y_onehot, lam, perm):", "def mix_up(x, y_onehot, lam, perm):")),
        ("au306013", "folder", "broken", ["confusion_matrix"], "confusion_matrix loops while a counter never "
         "advances: a hang",
         replace(LOOPS, "    for t, p in zip(y_true.tolist(), y_pred.tolist()):\n        cm[t][p] += 1\n",
                 "    i = 0\n    while i < len(y_true):\n        cm[y_true[i]][y_pred[i]] += 1\n")),
        ("au306014", "folder", "wrong", ["mixup"], "mixup leaves the labels unmixed",
         replace(HELPERS, "    return mix(x), mix(y_onehot)\n", "    return mix(x), y_onehot\n")),
    ]


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    lines = ["# What each sample submission in this folder must score under `dlgrade grade week06`.",
             "# Written by ../make_week06_samples.py; do not edit by hand, change the generator.",
             "# broken_functions: the functions that must lose points; every other one keeps full marks.", ""]
    for student, form, kind, broken, note, content in build():
        if form == "folder":
            (OUT / student).mkdir()
            (OUT / student / "transfer.py").write_text(content)
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
