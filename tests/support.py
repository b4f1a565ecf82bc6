"""Helpers shared by the project's own tests (fixtures are in conftest.py)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from grader.course import Course
from grader.plugin import Target
from grader.runner import run_week
from grader.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_COURSE = ROOT / "tests" / "fixtures" / "course"


def by_function(result: dict) -> dict[str, tuple[float, float]]:
    """{function: (score, max_score)} of one result."""
    out: dict[str, list[float]] = {}
    for t in result["tests"]:
        s = out.setdefault(t["function"], [0.0, 0.0])
        s[0] += t["score"]
        s[1] += t["max_score"]
    return {k: (v[0], v[1]) for k, v in out.items()}


def lost(result: dict) -> set[str]:
    """The functions that lost any points."""
    return {f for f, (s, m) in by_function(result).items() if s < m}


def make_submission(tmp_path: Path, name: str, source: str, module: str) -> Path:
    d = tmp_path / name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{module}.py").write_text(source)
    return d


@pytest.fixture(scope="session")
def toy_week():
    return Course(FIXTURE_COURSE).week("week99")


@pytest.fixture(scope="session")
def toy_source(toy_week) -> str:
    return toy_week.solution_file.read_text()


def grade_folders(week, folders: dict[str, Path], *, visibility="all", limits=None, **kw) -> dict[str, dict]:
    limits = limits or Limits(call_timeout_s=5.0)
    results = run_week(week, [Target(name, path) for name, path in folders.items()], visibility=visibility,
                       limits=limits, **kw)
    return {r["student"]: r for r in results}


def reference_source(week) -> str:
    """The week's reference module as a student would hand it in: the solution markers dropped."""
    return "".join(line for line in week.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)


def wrong_versions(week) -> dict[str, tuple[list[str], str]]:
    """week04's realistic wrong versions (tests/week04/wrong_versions.toml): {name: (breaks, source)}."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    reference = reference_source(week)
    out = {}
    for name, spec in tomllib.loads((ROOT / "tests" / "week04" / "wrong_versions.toml").read_text()).items():
        source = reference
        for change in spec["change"]:
            assert source.count(change["old"]) == 1, f"{name}: the reference changed; update its `old` text"
            source = source.replace(change["old"], change["new"])
        out[name] = (spec["breaks"], source)
    return out


def run(cmd, **kw) -> subprocess.CompletedProcess:
    """Run a command that must succeed; its output is the assertion's message when it does not."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def venv_with_wheel(venv: Path, wheel: Path) -> Path:
    """A fresh venv holding only `wheel` (no dependencies installed: torch and the rest come from this
    venv's site-packages through a .pth file, so nothing is downloaded); returns its python."""
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    (Path(site) / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel])
    return python
