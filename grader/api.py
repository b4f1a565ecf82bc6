"""The Python API behind every `dlgrade` command (keyword-only, no printing).

Each CLI command is a thin wrapper over one function here, so the command
line and scripts that import dlgrade never drift apart.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .course import Course
from .errors import UserError


def check(*, week: str, path: Path | None = None, device: str = "cpu", json_path: Path | None = None,
          course: Course | None = None) -> dict:
    """Run the public tests of `week` on one submission (default: the week's assignment folder)."""
    from .plugin import Target
    from .runner import run_week

    course = course or Course.find()
    w = course.week(week)
    path = Path(path) if path else w.stub_file.parent
    with tempfile.TemporaryDirectory(prefix="dlgrade-check-") as tmp:
        target = _single_target(path, w.module, Path(tmp), student="local")
        [result] = run_week(w, [target], visibility="public", device=device)
    if json_path:
        from .gradebook import atomic_write_text

        atomic_write_text(Path(json_path), json.dumps(result, indent=2))
    return result


def _single_target(path: Path, module: str, workdir: Path, student: str):
    """A folder, a module file, a notebook or a zip, as one Target."""
    from .plugin import Target

    if not path.exists():
        raise UserError(f"{path} does not exist; give the folder holding {module}.py, the file, a notebook or a zip.")
    if path.is_dir() and (path / f"{module}.py").is_file():
        return Target(student, path)
    if path.is_file() and path.suffix == ".py":
        if path.name != f"{module}.py":
            raise UserError(f"{path.name} is not this week's module: the file must be named {module}.py.")
        return Target(student, path.parent)
    from .intake import collect

    subs = collect([path], module, workdir)
    if not subs:
        raise UserError(f"No submission found in {path}; it should hold {module}.py or a notebook.")
    s = subs[0]
    if s.error:
        raise UserError(s.error)
    return Target(student if path.is_dir() else s.student, s.folder, s.sha256, None, tuple(s.notes))


def render(result: dict, fmt: str, color: bool = False) -> str:
    from . import report

    return report.render_result(result, fmt, color=color) if fmt == "text" else report.render_result(result, fmt)


def report(*, path: Path, fmt: str = "text", color: bool = False) -> str:
    """One result file renders as feedback; a folder renders as a class summary."""
    from . import report as rep

    path = Path(path)
    results = rep.load_results(path)
    if path.is_file():
        return render(results[0], fmt, color)
    if not results:
        raise UserError(f"{path} holds no dlgrade results.")
    return rep.render_summary(rep.summarize(results), fmt)


def release(*, week: str, out_dir: Path | None = None, course: Course | None = None) -> dict:
    from .release import release as do_release

    return do_release((course or Course.find()).week(week), out_dir)


def verify(*, week: str, device: str = "cpu", course: Course | None = None):
    from .release import verify as do_verify

    return do_verify((course or Course.find()).week(week), device=device)
