#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week10/: a sample class for week10 (`visualize.py`).

    python autograder_data/samples/make_week10_samples.py

Deletes and rewrites `week10/` next to this script, deterministically (fixed zip
timestamps and notebook cell ids). Standard library only.

- correct: loops over images and windows (au310001), vectorised (au310002),
  a hook-recorder class of the student's own with backward() and zero_grad
  (au310003), a Colab notebook (au310004.ipynb), a zip made like
  `dlgrade submit` (au310005.zip);
- wrong: one or two functions broken the way students break them;
- partial: functions left as NotImplementedError;
- broken: a syntax error, a missing function, a hang.

What each must score is in `week10/EXPECTED.toml`.
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
OUT = HERE / "week10"
FUNCTIONS = ["saliency_map", "grad_cam", "occlusion_sensitivity"]
ZIP_TIME = (2026, 12, 1, 9, 0, 0)


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# au310001: one image at a time, one window at a time.
LOOPS = src('''
    """Week 10, one image at a time."""
    import torch
    import torch.nn.functional as F


    def saliency_map(model, images, targets):
        model.eval()
        maps = []
        for n in range(images.shape[0]):
            x = images[n:n + 1].clone().requires_grad_(True)
            score = model(x)[0, targets[n]]
            (g,) = torch.autograd.grad(score, x)
            maps.append(g[0].abs().max(dim=0).values)
        return torch.stack(maps)


    def grad_cam(model, target_layer, images, targets):
        model.eval()
        N, _, H, W = images.shape
        cams = []
        for n in range(N):
            saved = []

            def hook(module, inp, out):
                saved.append(out)
                return out.clone()

            h = target_layer.register_forward_hook(hook)
            score = model(images[n:n + 1])[0, targets[n]]
            h.remove()
            act = saved[0]
            (g,) = torch.autograd.grad(score, act)
            act, g = act[0].detach(), g[0]
            cam = torch.zeros(act.shape[1:], dtype=act.dtype, device=act.device)
            for k in range(act.shape[0]):
                cam = cam + g[k].mean() * act[k]
            cam = torch.relu(cam)
            cam = F.interpolate(cam[None, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]
            if cam.max() > 0:
                cam = cam / cam.max()
            cams.append(cam)
        return torch.stack(cams)


    def occlusion_sensitivity(model, image, target, patch_size, stride, fill=0.0):
        model.eval()
        C, H, W = image.shape
        rows = (H - patch_size) // stride + 1
        cols = (W - patch_size) // stride + 1
        out = torch.zeros(rows, cols, dtype=image.dtype, device=image.device)
        with torch.no_grad():
            base = torch.softmax(model(image.unsqueeze(0)), dim=1)[0, target]
            for i in range(rows):
                for j in range(cols):
                    x = image.clone()
                    x[:, i * stride:i * stride + patch_size, j * stride:j * stride + patch_size] = fill
                    out[i, j] = base - torch.softmax(model(x.unsqueeze(0)), dim=1)[0, target]
        return out
''')

# au310002: the whole batch at once; every occluded image in one forward pass.
VECTOR = src('''
    """Week 10, vectorised."""
    import torch
    import torch.nn.functional as F


    def saliency_map(model, images, targets):
        model.eval()
        x = images.detach().requires_grad_()
        scores = model(x)[torch.arange(x.shape[0]), targets]
        grad = torch.autograd.grad(scores.sum(), x)[0]
        return grad.abs().amax(1)


    def grad_cam(model, target_layer, images, targets):
        model.eval()
        acts = {}
        handle = target_layer.register_forward_hook(lambda m, i, o: acts.setdefault("a", o).clone())
        try:
            scores = model(images)
        finally:
            handle.remove()
        a = acts["a"]
        grads = torch.autograd.grad(scores.gather(1, targets[:, None]).sum(), a)[0]
        cam = F.relu(torch.einsum("nk,nkhw->nhw", grads.mean((-2, -1)), a.detach()))
        cam = F.interpolate(cam.unsqueeze(1), size=tuple(images.shape[-2:]), mode="bilinear").squeeze(1)
        peak = cam.flatten(1).max(1).values.view(-1, 1, 1)
        return torch.where(peak > 0, cam / peak.clamp_min(1e-300), torch.zeros_like(cam))


    def occlusion_sensitivity(model, image, target, patch_size, stride, fill=0.0):
        model.eval()
        C, H, W = image.shape
        tops = torch.arange(0, H - patch_size + 1, stride, device=image.device)
        lefts = torch.arange(0, W - patch_size + 1, stride, device=image.device)
        r = torch.arange(H, device=image.device)
        c = torch.arange(W, device=image.device)
        in_rows = (r[None] >= tops[:, None]) & (r[None] < tops[:, None] + patch_size)      # [R, H]
        in_cols = (c[None] >= lefts[:, None]) & (c[None] < lefts[:, None] + patch_size)    # [Q, W]
        masks = in_rows[:, None, :, None] & in_cols[None, :, None, :]                     # [R, Q, H, W]
        masks = masks.reshape(-1, 1, H, W)
        occluded = torch.where(masks, torch.full_like(image, fill), image.expand(masks.shape[0], C, H, W))
        with torch.no_grad():
            probs = model(torch.cat([image[None], occluded])).softmax(-1)[:, target]
        return (probs[0] - probs[1:]).view(len(tops), len(lefts))
''')

# au310003: a recorder class of the student's own; backward() and then the gradients set back to None.
HELPERS = src('''
    """Week 10, with a helper class."""
    import torch
    import torch.nn.functional as F


    class Recorder:
        """Keeps a layer's output while the `with` block runs."""

        def __init__(self, layer):
            self.layer, self.output = layer, None

        def _hook(self, module, inputs, output):
            self.output = output
            self.output.retain_grad()
            return output * 1.0

        def __enter__(self):
            self.handle = self.layer.register_forward_hook(self._hook)
            return self

        def __exit__(self, *exc):
            self.handle.remove()
            return False


    def _pick(scores, targets):
        return scores[torch.arange(len(targets)), targets].sum()


    def _clear(model):
        for p in model.parameters():
            p.grad = None


    def saliency_map(model, images, targets):
        model.eval()
        x = images.clone().requires_grad_(True)
        _pick(model(x), targets).backward()
        _clear(model)
        return x.grad.abs().max(dim=1)[0]


    def grad_cam(model, target_layer, images, targets):
        model.eval()
        with Recorder(target_layer) as rec:
            scores = model(images)
        _pick(scores, targets).backward()
        _clear(model)
        A, G = rec.output.detach(), rec.output.grad
        weights = G.sum(dim=(2, 3), keepdim=True) / (G.shape[2] * G.shape[3])
        cam = (weights * A).sum(dim=1, keepdim=True).clamp(min=0)
        cam = F.interpolate(cam, size=images.shape[2:], mode="bilinear", align_corners=False).squeeze(1)
        out = torch.zeros_like(cam)
        for n in range(cam.shape[0]):
            if cam[n].max() > 0:
                out[n] = cam[n] / cam[n].max()
        return out


    def occlusion_sensitivity(model, image, target, patch_size, stride, fill=0.0):
        model.eval()
        _, H, W = image.shape
        corners = [(r, c) for r in range(0, H - patch_size + 1, stride) for c in range(0, W - patch_size + 1, stride)]
        batch = image.repeat(len(corners), 1, 1, 1)
        for k, (r, c) in enumerate(corners):
            batch[k, :, r:r + patch_size, c:c + patch_size] = fill
        with torch.no_grad():
            p0 = F.softmax(model(image[None]), dim=1)[0, target]
            p = F.softmax(model(batch), dim=1)[:, target]
        rows = len(range(0, H - patch_size + 1, stride))
        return (p0 - p).reshape(rows, -1)
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
    cells = [("markdown", f"# Week 10 - saliency, Grad-CAM, occlusion\n{student}"), ("code", "!pip install -q torch"),
             ("code", "%load_ext autoreload\n%autoreload 2")]
    cells += [("code", p.strip("\n")) for p in source.split("\n\n\n")]
    cells += [("code", "model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(10))\n"
                       "x = torch.randn(2, 3, 32, 32)\n"
                       "print(saliency_map(model, x, torch.tensor([1, 2])).shape)")]
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
    manifest = {"student": student, "week": "week10",
                "files": {"visualize.py": hashlib.sha256(source.encode()).hexdigest()},
                "created": "2026-12-01T09:00:00Z", "dlgrade_version": "0.1.0"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("visualize.py", source), ("manifest.json", json.dumps(manifest, indent=2))):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text)
    return buf.getvalue()


def build() -> list[tuple[str, str, str, list[str], str, str]]:
    """(student, form, kind, broken functions, note, content)."""
    return [
        ("au310001", "folder", "correct", [], "one image and one window at a time; autograd.grad per image", LOOPS),
        ("au310002", "folder", "correct", [], "vectorised: einsum, every occluded image in one forward pass",
         VECTOR),
        ("au310003", "folder", "correct", [], "a Recorder class of the student's own (retain_grad); backward() "
         "and then every p.grad set back to None", HELPERS),
        ("au310004", "ipynb", "correct", [], "Colab notebook of the vectorised version; intake drops !pip, the "
         "magics and the top-level check", notebook(VECTOR, "au310004")),
        ("au310005", "zip", "correct", [], "zip made like dlgrade submit (visualize.py + manifest.json), loops",
         LOOPS),
        ("au310006", "folder", "wrong", ["saliency_map"], "saliency_map never calls model.eval()",
         replace(VECTOR, "    model.eval()\n    x = images.detach().requires_grad_()\n",
                 "    x = images.detach().requires_grad_()\n")),
        ("au310007", "folder", "wrong", ["grad_cam", "occlusion_sensitivity"], "grad_cam upsamples with "
         "align_corners=True; occlusion_sensitivity measures the drop of the logit",
         replace(replace(LOOPS, 'mode="bilinear", align_corners=False)', 'mode="bilinear", align_corners=True)'),
                 "base = torch.softmax(model(image.unsqueeze(0)), dim=1)[0, target]",
                 "base = model(image.unsqueeze(0))[0, target]").replace(
                 "out[i, j] = base - torch.softmax(model(x.unsqueeze(0)), dim=1)[0, target]",
                 "out[i, j] = base - model(x.unsqueeze(0))[0, target]")),
        ("au310008", "folder", "wrong", ["grad_cam"], "grad_cam without the ReLU",
         replace(HELPERS, "cam = (weights * A).sum(dim=1, keepdim=True).clamp(min=0)",
                 "cam = (weights * A).sum(dim=1, keepdim=True)")),
        ("au310009", "folder", "wrong", ["occlusion_sensitivity"], "occlusion_sensitivity: (H - p) // s windows, "
         "one short",
         replace(LOOPS, "    rows = (H - patch_size) // stride + 1\n    cols = (W - patch_size) // stride + 1\n",
                 "    rows = (H - patch_size) // stride\n    cols = (W - patch_size) // stride\n")),
        ("au310010", "folder", "partial", ["grad_cam", "occlusion_sensitivity"],
         "only saliency_map written; the rest raise NotImplementedError",
         stub_out(LOOPS, "grad_cam", "occlusion_sensitivity")),
        ("au310011", "folder", "broken", FUNCTIONS, "a syntax error (an unclosed bracket) stops the import",
         replace(VECTOR, "    return grad.abs().amax(1)\n", "    return grad.abs().amax(1\n")),
        ("au310012", "folder", "broken", ["grad_cam"], "grad_cam is missing (named gradcam)",
         replace(VECTOR, "def grad_cam(model, target_layer, images, targets):",
                 "def gradcam(model, target_layer, images, targets):")),
        ("au310013", "folder", "broken", ["occlusion_sensitivity"], "occlusion_sensitivity loops until the window "
         "top reaches H - p exactly: forever when s does not divide H - p",
         replace(HELPERS, "    corners = [(r, c) for r in range(0, H - patch_size + 1, stride) "
                 "for c in range(0, W - patch_size + 1, stride)]\n",
                 "    tops, r = [0], 0\n"
                 "    while r != H - patch_size:  # walk to the last window's top\n"
                 "        r += stride\n"
                 "        tops[-1:] = [r - stride, r] if r <= H - patch_size else tops[-1:]\n"
                 "    corners = [(t, c) for t in tops for c in range(0, W - patch_size + 1, stride)]\n")),
        ("au310014", "folder", "wrong", ["saliency_map", "grad_cam"], "backward() without clearing the "
         "parameters' gradients afterwards, in both gradient functions",
         HELPERS.replace("    _clear(model)\n", "")),
    ]


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    lines = ["# What each sample submission in this folder must score under `dlgrade grade week10`.",
             "# Written by ../make_week10_samples.py; do not edit by hand, change the generator.",
             "# broken_functions: the functions that must lose points; every other one keeps full marks.", ""]
    for student, form, kind, broken, note, content in build():
        if form == "folder":
            (OUT / student).mkdir()
            (OUT / student / "visualize.py").write_text(content)
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
