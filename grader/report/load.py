"""Reading results from disk: one result file, or a folder of them."""

from __future__ import annotations

import json
from pathlib import Path

from ..result import SCHEMA
from .common import ReportError


def load_results(path: Path) -> list[dict]:
    """The results in a result JSON file, or in a folder of them, sorted by student.

    In a folder, hidden files and JSON files that are not results (another
    schema, Gradescope's `results.json`) are skipped; a file given by name
    must be a result. A missing path or a file that is not valid JSON raises ReportError.
    """
    path = Path(path)
    if not path.exists():
        raise ReportError(f"{path} does not exist; give a result JSON file or the folder "
                          "`dlgrade grade` wrote (OUTDIR/WEEK).")
    if path.is_file():
        result = _read_json(path)
        if not _is_result(result):
            raise ReportError(f"{path} is not a dlgrade result (it lacks \"schema\": \"{SCHEMA}\"); "
                              "give a file that `dlgrade grade` or `dlgrade check --json` wrote.")
        return [_checked(result, path)]
    results = []
    for f in sorted(path.glob("*.json")):
        if f.name.startswith(".") or not f.is_file():  # hidden: another tool's partial write
            continue
        data = _read_json(f)
        if _is_result(data):
            results.append(_checked(data, f))
    return sorted(results, key=lambda r: str(r["student"]))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ReportError(f"{path} is not valid JSON ({e.msg} at line {e.lineno}); "
                          "delete it or grade that student again.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ReportError(f"{path} cannot be read ({e}); check its permissions and encoding.") from None


def _is_result(data) -> bool:
    return isinstance(data, dict) and data.get("schema") == SCHEMA


def _checked(result: dict, path: Path) -> dict:
    """The result, if it holds the keys every report reads."""
    missing = [k for k in ("student", "score", "max_score", "status") if k not in result]
    if missing:
        raise ReportError(f"{path} is a damaged result (no {', '.join(missing)}); grade that student again.")
    if not isinstance(result.get("tests", []), list):
        raise ReportError(f"{path} is a damaged result (\"tests\" is not a list); grade that student again.")
    return result
