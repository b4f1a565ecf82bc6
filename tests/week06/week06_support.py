"""Helpers of week06's own tests: its wrong versions, built from the reference."""

from __future__ import annotations

import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def reference_source(week) -> str:
    """The reference without its solution markers."""
    return "".join(line for line in week.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)


def wrong_versions(week) -> dict[str, dict]:
    """{name: {"breaks": [...], "public": bool, "note": str, "source": str}} from wrong_versions.toml."""
    reference = reference_source(week)
    out = {}
    for name, spec in tomllib.loads((HERE / "wrong_versions.toml").read_text()).items():
        source = reference
        for change in spec["change"]:
            assert source.count(change["old"]) == 1, f"{name}: the reference changed; update its `old` text"
            source = source.replace(change["old"], change["new"])
        assert source != reference, name
        out[name] = {"breaks": spec["breaks"], "public": spec["public"], "note": spec["note"], "source": source}
    return out
