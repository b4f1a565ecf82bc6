"""week13's own test helpers: its wrong versions (wrong_versions.toml beside this file)."""

from __future__ import annotations

import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def wrong_versions(week) -> dict[str, tuple[list[str], str]]:
    """{name: (breaks, source)}: the reference without its solution markers, one bug applied."""
    reference = "".join(line for line in week.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)
    out = {}
    for name, spec in tomllib.loads((HERE / "wrong_versions.toml").read_text()).items():
        source = reference
        for change in spec["change"]:
            assert source.count(change["old"]) == 1, f"{name}: the reference changed; update its `old` text"
            source = source.replace(change["old"], change["new"])
        out[name] = (spec["breaks"], source)
    return out
