"""Helpers of week09's own tests: its wrong versions, built from the reference."""

from __future__ import annotations

import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def wrong_versions(week) -> dict[str, dict]:
    """{name: {"breaks": [...], "public": bool, "note": str, "source": str}} from wrong_versions.toml."""
    reference = "".join(line for line in week.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)
    out = {}
    for name, spec in tomllib.loads((HERE / "wrong_versions.toml").read_text()).items():
        source = reference
        for change in spec["change"]:
            assert source.count(change["old"]) == 1, f"{name}: the reference changed; update its `old` text"
            source = source.replace(change["old"], change["new"])
        assert source != reference, name
        out[name] = {"breaks": spec["breaks"], "public": spec["public"], "note": spec["note"], "source": source}
    return out


def reference_source(week) -> str:
    """The reference without its solution markers."""
    return "".join(line for line in week.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)


# Ban cases: the reference with one function redefined at the end of the module, and maybe a
# helper module of the student's own beside it. name: (function, status, code appended, helper files)
BAN_CASES = {
    "f_bce_with_logits": ("vae_loss", "banned", '''
import torch.nn.functional as F


def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
    recon = F.binary_cross_entropy_with_logits(recon_logits, x, reduction="sum") / x.shape[0]
    kl = kl_divergence(mu, logvar).mean()
    return recon + beta * kl, recon, kl
''', {}),
    "torch_bce_with_logits": ("gan_generator_loss", "banned", '''
def gan_generator_loss(fake_logits):
    return torch.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits), None, None, 1)
''', {}),
    "bce_loss_module": ("gan_discriminator_loss", "banned", '''
from torch import nn


def gan_discriminator_loss(real_logits, fake_logits):
    crit = nn.BCEWithLogitsLoss()
    return crit(real_logits, torch.ones_like(real_logits)) + crit(fake_logits, torch.zeros_like(fake_logits))
''', {}),
    "distributions_kl": ("kl_divergence", "banned", '''
from torch.distributions import Normal, kl_divergence as kl_between


def kl_divergence(mu, logvar):
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return kl_between(q, p).sum(dim=1)
''', {}),
    "bernoulli_log_prob": ("vae_loss", "banned", '''
import torch.distributions as D


def vae_loss(recon_logits, x, mu, logvar, beta=1.0):
    recon = -D.Bernoulli(logits=recon_logits).log_prob(x).flatten(1).sum(1).mean()
    kl = (-0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)).sum(dim=1)).mean()
    return recon + beta * kl, recon, kl
''', {}),
    # the static scan reads generative.py only: a helper module of the student's own is caught at call time
    "helper_module_names_bce": ("gan_generator_loss", "banned", '''
from losses import bce_to_one


def gan_generator_loss(fake_logits):
    return bce_to_one(fake_logits)
''', {"losses.py": "import torch\nimport torch.nn.functional as F\n\n\ndef bce_to_one(z):\n"
                   "    return F.binary_cross_entropy_with_logits(z, torch.ones_like(z))\n"}),
    # ... and where no banned name is called, by the operator alone
    "helper_module_aten_op": ("gan_discriminator_loss", "banned", '''
from losses import bce_pair


def gan_discriminator_loss(real_logits, fake_logits):
    return bce_pair(real_logits, fake_logits)
''', {"losses.py": "import torch\n\n\ndef bce_pair(r, f):\n"
                   "    op = torch.ops.aten.binary_cross_entropy_with_logits\n"
                   "    return op(r, torch.ones_like(r)) + op(f, torch.zeros_like(f))\n"}),
}
