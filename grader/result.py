"""The result contract (`dlgrade.result/1`) as data.

A result is a plain dict so that reports, exports and other tools read the
same JSON that `dlgrade grade` writes; these helpers build it in one place.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from . import __version__

SCHEMA = "dlgrade.result/1"
TEST_STATUSES = ("passed", "failed", "error", "timeout", "crashed", "banned", "review")


def test_entry(*, name: str, function: str, max_score: float, status: str, message: str,
               visibility: str, duration_s: float) -> dict:
    assert status in TEST_STATUSES, status
    return {"name": name, "function": function,
            "score": float(max_score) if status == "passed" else 0.0,
            "max_score": float(max_score), "status": status, "visibility": visibility,
            "message": message, "duration_s": round(duration_s, 4)}


def make_result(*, student: str, week: str, tests: list[dict], sha256: str, started: float,
                error: str | None = None, notes: list[str] | None = None, seed: int | None = None,
                device: str = "cpu", max_score: float | None = None) -> dict:
    """A submission's result; `error` set means it was not gradable."""
    score = sum(t["score"] for t in tests)
    result = {
        "schema": SCHEMA, "student": student, "week": week,
        "score": round(score, 6), "max_score": round(sum(t["max_score"] for t in tests) if max_score is None else max_score, 6),
        "status": "not_gradable" if error else "graded", "error": error, "tests": tests,
        "submission_sha256": sha256,
        "graded_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dlgrade_version": __version__, "duration_s": round(time.monotonic() - started, 4),
    }
    if notes:
        result["notes"] = notes
    if seed is not None:
        result["seed"] = seed
    result["device"] = device
    return result
