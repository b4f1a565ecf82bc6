"""Gradebooks from result dicts, and the atomic write every output file uses.

Three CSV shapes, all rebuilt from the results (never edited in place):

- `gradebook.csv`: one row per student with the points of each function, for
  the instructor;
- a Brightspace grade import (`OrgDefinedId,<item> Points Grade,End-of-Line Indicator`);
- a plain `student,score,max_score,percent,status` list for anything else.

Every file is written atomically (temporary file in the same folder, fsync,
rename), so a grading run killed mid-write never leaves half a gradebook or
half a result behind. No torch here.

A student whose submission is not gradable has no grade: their score (and
points per function, and percent) is left blank in every file, never 0, so
an LMS import does not record a zero the student never earned.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

GRADEBOOK_HEADER = ("student", "score", "max_score", "status")
PLAIN_HEADER = ("student", "score", "max_score", "percent", "status")


def atomic_write_text(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` so that readers see the old file or the new one, never a part.

    The parent folder is created if needed. A new file gets mode 0644 (the
    temporary file would otherwise keep 0600); an existing one keeps its mode.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable where the OS allows opening a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _csv_text(header, rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _points(x) -> float:
    return round(float(x or 0.0), 6)


def _graded(r: dict) -> bool:
    return r.get("status") == "graded"


def _functions_in(results: list[dict]) -> list[str]:
    """Every function the results name, in the order first met."""
    seen: dict[str, None] = {}
    for r in results:
        for t in r.get("tests") or []:
            seen.setdefault(str(t.get("function") or "(other)"), None)
    return list(seen)


def gradebook_rows(results: list[dict], functions: list[str] | None = None) -> tuple[list[str], list[list]]:
    """(header, rows): student, score, max_score, status, the points earned per function, then `review`.

    `review` names the functions whose points are held for a person to look at
    (tests with status `review`), separated by `;`; empty when there are none.

    `functions` are the columns, in order (normally the week's `functions`);
    a function a result has no tests for gets 0, and tests of functions not
    listed still count in `score`. None takes the functions the results name.
    A not-gradable result has its score and points left blank (""). Rows are
    sorted by student.
    """
    functions = list(functions) if functions is not None else _functions_in(results)
    header = [*GRADEBOOK_HEADER, *functions, "review"]
    rows = []
    for r in sorted(results, key=lambda r: str(r.get("student", ""))):
        earned = dict.fromkeys(functions, 0.0)
        for t in r.get("tests") or []:
            fn = str(t.get("function") or "(other)")
            if fn in earned:
                earned[fn] += float(t.get("score") or 0.0)
        if not _graded(r):
            rows.append([str(r.get("student", "")), "", _points(r.get("max_score")), str(r.get("status", "")),
                         *([""] * len(functions)), ""])
            continue
        held = sorted({str(t.get("function") or "(other)") for t in r.get("tests") or [] if t.get("status") == "review"})
        rows.append([str(r.get("student", "")), _points(r.get("score")), _points(r.get("max_score")),
                     str(r.get("status", "")), *(_points(earned[f]) for f in functions), ";".join(held)])
    return header, rows


def write_gradebook_csv(path: Path, results: list[dict], functions: list[str] | None = None) -> Path:
    """The instructor's gradebook (see `gradebook_rows`), written atomically."""
    return atomic_write_text(path, _csv_text(*gradebook_rows(results, functions)))


def write_brightspace_csv(path: Path, results: list[dict], item_name: str) -> Path:
    """A Brightspace grade import for the grade item `item_name` (it must exist there by that name).

    OrgDefinedId is the student id as graded; a not-gradable submission gets a blank grade (no grade, not 0).
    """
    header = ["OrgDefinedId", f"{item_name} Points Grade", "End-of-Line Indicator"]
    rows = [[str(r.get("student", "")), _points(r.get("score")) if _graded(r) else "", "#"]
            for r in sorted(results, key=lambda r: str(r.get("student", "")))]
    return atomic_write_text(path, _csv_text(header, rows))


def write_plain_csv(path: Path, results: list[dict]) -> Path:
    """student,score,max_score,percent,status: one row per student, percent to two decimals; blank if not gradable."""
    rows = []
    for r in sorted(results, key=lambda r: str(r.get("student", ""))):
        score, max_score = _points(r.get("score")), _points(r.get("max_score"))
        if not _graded(r):
            rows.append([str(r.get("student", "")), "", max_score, "", str(r.get("status", ""))])
            continue
        rows.append([str(r.get("student", "")), score, max_score,
                     round(100.0 * score / max_score, 2) if max_score else 0.0, str(r.get("status", ""))])
    return atomic_write_text(path, _csv_text(PLAIN_HEADER, rows))
