#!/usr/bin/env python3
"""(Re)create autograder_data/samples/week09/: a sample class for week09 (`generative.py`).

    python autograder_data/samples/make_week09_samples.py

Deletes and rewrites `week09/` next to this script, deterministically (fixed zip
timestamps and notebook cell ids). Standard library only.

- correct: loops over the batch (au300001), vectorised with softplus
  (au300002), a stable-BCE helper class and float64 inside (au300003), a
  Colab notebook (au300004.ipynb), a zip made like `dlgrade submit`
  (au300005.zip);
- wrong: one or two functions broken the way students break them;
- partial: functions left as NotImplementedError;
- broken: a syntax error, a missing function, a hang, a banned call.

What each must score is in `week09/EXPECTED.toml`.
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
OUT = HERE / "week09"
FUNCTIONS = ["reparameterize", "kl_divergence", "vae_loss", "gan_discriminator_loss", "gan_generator_loss"]
ZIP_TIME = (2026, 12, 1, 9, 0, 0)


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# au300001: a loop over the batch, the stable BCE written out per sample.
LOOPS = src('''
    """Week 9, one sample at a time."""
    import torch


    def reparameterize(mu, logvar, eps):
        out = torch.empty_like(mu)
        for n in range(mu.shape[0]):
            out[n] = mu[n] + torch.exp(logvar[n] / 2) * eps[n]
        return out


    def kl_divergence(mu, logvar):
        kl = []
        for n in range(mu.shape[0]):
            kl.append(0.5 * torch.sum(mu[n] ** 2 + torch.exp(logvar[n]) - logvar[n] - 1))
        return torch.stack(kl)


    def stable_bce(z, y):
        return torch.clamp(z, min=0) - z * y + torch.log(1 + torch.exp(-torch.abs(z)))


    def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
        n = recon_logits.shape[0]
        recon = 0
        for i in range(n):
            recon = recon + stable_bce(recon_logits[i], x[i]).sum()
        recon = recon / n
        kl = kl_divergence(mu, logvar).mean()
        return recon + beta * kl, recon, kl


    def gan_discriminator_loss(real_logits, fake_logits):
        real = stable_bce(real_logits, torch.ones_like(real_logits)).mean()
        fake = stable_bce(fake_logits, torch.zeros_like(fake_logits)).mean()
        return real + fake


    def gan_generator_loss(fake_logits):
        return stable_bce(fake_logits, torch.ones_like(fake_logits)).mean()
''')

# au300002: vectorised with softplus and logsigmoid.
VECTOR = src('''
    """Week 9, vectorised: softplus and logsigmoid do the stable work."""
    import torch
    import torch.nn.functional as F


    def reparameterize(mu, logvar, eps):
        return torch.addcmul(mu, (0.5 * logvar).exp(), eps)


    def kl_divergence(mu, logvar):
        return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)


    def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
        per_pixel = F.softplus(recon_logits) - recon_logits * x
        recon = per_pixel.reshape(per_pixel.shape[0], -1).sum(1).mean()
        kl = kl_divergence(mu, logvar).mean()
        return recon + beta * kl, recon, kl


    def gan_discriminator_loss(real_logits, fake_logits):
        return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()


    def gan_generator_loss(fake_logits):
        return -F.logsigmoid(fake_logits).mean()
''')

# au300003: a helper class of the student's own; float64 inside, cast back.
HELPERS = src('''
    """Week 9 with a small BCE class of my own; float64 inside, results in the input's dtype."""
    import math

    import torch


    class LogitBCE:
        """bce(z, y) = log(1 + exp(z)) - z * y, written so that exp never overflows."""

        def __init__(self, logits):
            self.z = logits.double()

        def against(self, target):
            z = self.z
            y = target.double() if torch.is_tensor(target) else torch.full_like(z, float(target))
            return torch.logaddexp(torch.zeros_like(z), z) - z * y


    HALF = 0.5


    def reparameterize(mu, logvar, eps):
        std = torch.sqrt(torch.exp(logvar.double()))
        return (mu.double() + std * eps.double()).to(mu.dtype)


    def kl_divergence(mu, logvar):
        m, lv = mu.double(), logvar.double()
        return (-HALF * torch.sum(1 + lv - m * m - torch.exp(lv), dim=1)).to(mu.dtype)


    def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
        per_image = LogitBCE(recon_logits).against(x).flatten(start_dim=1).sum(dim=1)
        recon = per_image.mean()
        m, lv = mu.double(), logvar.double()
        kl = (-HALF * torch.sum(1 + lv - m * m - torch.exp(lv), dim=1)).mean()
        total = recon + beta * kl
        return total.to(x.dtype), recon.to(x.dtype), kl.to(x.dtype)


    def gan_discriminator_loss(real_logits, fake_logits):
        loss = LogitBCE(real_logits).against(1.0).mean() + LogitBCE(fake_logits).against(0.0).mean()
        return loss.to(real_logits.dtype)


    def gan_generator_loss(fake_logits):
        return LogitBCE(fake_logits).against(1.0).mean().to(fake_logits.dtype)
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
    cells = [("markdown", f"# Week 9 - VAE and GAN losses\n{student}"), ("code", "!pip install -q torch"),
             ("code", "%load_ext autoreload\n%autoreload 2")]
    cells += [("code", p.strip("\n")) for p in source.split("\n\n\n")]
    cells += [("code", "z = torch.randn(4, 1, 28, 28)\nx = torch.rand(4, 1, 28, 28)\n"
                       "print(vae_loss(z, x, torch.zeros(4, 2), torch.zeros(4, 2)))\n"
                       "print(torch.nn.functional.binary_cross_entropy_with_logits(z, x, reduction='sum') / 4)")]
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
    manifest = {"student": student, "week": "week09",
                "files": {"generative.py": hashlib.sha256(source.encode()).hexdigest()},
                "created": "2026-12-01T09:00:00Z", "dlgrade_version": "0.1.0"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("generative.py", source), ("manifest.json", json.dumps(manifest, indent=2))):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text)
    return buf.getvalue()


def build() -> list[tuple[str, str, str, list[str], str, str]]:
    """(student, form, kind, broken functions, note, content)."""
    return [
        ("au300001", "folder", "correct", [], "a loop over the batch; the stable BCE written out", LOOPS),
        ("au300002", "folder", "correct", [], "vectorised: addcmul, softplus and logsigmoid", VECTOR),
        ("au300003", "folder", "correct", [], "a LogitBCE class of the student's own; float64 inside, cast back",
         HELPERS),
        ("au300004", "ipynb", "correct", [], "Colab notebook of the vectorised version; intake drops !pip, the "
         "magics and the top-level check that calls F.binary_cross_entropy_with_logits", notebook(VECTOR, "au300004")),
        ("au300005", "zip", "correct", [], "zip made like dlgrade submit (generative.py + manifest.json), loops",
         LOOPS),
        ("au300006", "folder", "wrong", ["reparameterize"], "reparameterize multiplies eps by exp(logvar)",
         replace(VECTOR, "torch.addcmul(mu, (0.5 * logvar).exp(), eps)", "torch.addcmul(mu, logvar.exp(), eps)")),
        ("au300007", "folder", "wrong", ["kl_divergence", "vae_loss"], "kl_divergence takes the mean over the "
         "latent dimensions, and vae_loss calls it: both lose",
         replace(VECTOR, "0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)",
                 "0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean(-1)")),
        ("au300008", "folder", "wrong", ["vae_loss", "gan_generator_loss"], "the BCE as -log(sigmoid): inf at "
         "logits of +-1e3 in vae_loss and gan_generator_loss (the discriminator uses its own stable form)",
         replace(replace(HELPERS,
                         "    return LogitBCE(fake_logits).against(1.0).mean().to(fake_logits.dtype)\n",
                         "    return -torch.log(torch.sigmoid(fake_logits)).mean()\n"),
                 "    per_image = LogitBCE(recon_logits).against(x).flatten(start_dim=1).sum(dim=1)\n",
                 "    p = torch.sigmoid(recon_logits.double())\n"
                 "    per_image = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(start_dim=1).sum(dim=1)\n")),
        ("au300009", "folder", "wrong", ["gan_discriminator_loss"], "gan_discriminator_loss averages the real "
         "and fake terms", replace(VECTOR, "    return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()\n",
                                   "    return 0.5 * (-F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean())\n")),
        ("au300010", "folder", "partial", ["vae_loss", "gan_discriminator_loss", "gan_generator_loss"],
         "only reparameterize and kl_divergence written; the rest raise NotImplementedError",
         stub_out(LOOPS, "vae_loss", "gan_discriminator_loss", "gan_generator_loss")),
        ("au300011", "folder", "broken", FUNCTIONS, "a syntax error (an unclosed bracket) stops the import",
         replace(VECTOR, "    return -F.logsigmoid(fake_logits).mean()\n", "    return -F.logsigmoid(fake_logits.mean()\n")),
        ("au300012", "folder", "broken", ["gan_generator_loss"], "gan_generator_loss is missing (named generator_loss)",
         replace(VECTOR, "def gan_generator_loss(fake_logits):", "def generator_loss(fake_logits):")),
        ("au300013", "folder", "broken", ["reparameterize"], "reparameterize loops forever when eps holds an exact 0",
         replace(LOOPS, "    out = torch.empty_like(mu)\n",
                 "    while bool((eps == 0).any()):  # exact zeros give no signal: nudge them (never changes a thing)\n"
                 "        eps = torch.where(eps == 0, eps * 1.01, eps)\n    out = torch.empty_like(mu)\n")),
        ("au300014", "folder", "wrong", ["gan_discriminator_loss"], "gan_discriminator_loss calls "
         "F.binary_cross_entropy_with_logits (banned)",
         replace(VECTOR, "    return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()\n",
                 "    ones, zeros = torch.ones_like(real_logits), torch.zeros_like(fake_logits)\n"
                 "    return F.binary_cross_entropy_with_logits(real_logits, ones) + "
                 "F.binary_cross_entropy_with_logits(fake_logits, zeros)\n")),
    ]


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    lines = ["# What each sample submission in this folder must score under `dlgrade grade week09`.",
             "# Written by ../make_week09_samples.py; do not edit by hand, change the generator.",
             "# broken_functions: the functions that must lose points; every other one keeps full marks.", ""]
    for student, form, kind, broken, note, content in build():
        if form == "folder":
            (OUT / student).mkdir()
            (OUT / student / "generative.py").write_text(content)
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
