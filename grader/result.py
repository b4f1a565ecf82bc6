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
               visibility: str, duration_s: float, kind: str | None = None, mistake: dict | None = None,
               exception: dict | None = None, student_s: float | None = None,
               reference_s: float | None = None) -> dict:
    """One test's entry. The optional keys (absent when None) say what went wrong as data:

    kind: the failure's kind (shape, dtype, values, exception, timeout, banned, ...; see
    `plugin.failure_data`); mistake: {"key", "text"} of a named mistake; exception:
    {"type", "line"} of what the student's code raised; student_s, reference_s: seconds
    the student's calls and the reference's took on the test's inputs.
    """
    assert status in TEST_STATUSES, status
    entry = {"name": name, "function": function,
             "score": float(max_score) if status == "passed" else 0.0,
             "max_score": float(max_score), "status": status, "visibility": visibility,
             "message": message, "duration_s": round(duration_s, 4)}
    extra = {"kind": kind, "mistake": mistake, "exception": exception,
             "student_s": None if student_s is None else round(student_s, 6),
             "reference_s": None if reference_s is None else round(reference_s, 6)}
    entry.update({k: v for k, v in extra.items() if v is not None})
    return entry


def timing(tests: list[dict]) -> dict:
    """Per function, the seconds its tests' calls took, the student's and the reference's, summed
    over the tests where both were measured (tests that passed, with a local reference)."""
    out: dict[str, dict] = {}
    for t in tests:
        if t.get("student_s") is None or t.get("reference_s") is None:
            continue
        e = out.setdefault(t["function"], {"student_s": 0.0, "reference_s": 0.0, "tests": 0})
        e["student_s"] += t["student_s"]
        e["reference_s"] += t["reference_s"]
        e["tests"] += 1
    return {f: {**e, "student_s": round(e["student_s"], 6), "reference_s": round(e["reference_s"], 6)}
            for f, e in out.items()}


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
    times = timing(tests)
    if times:
        result["timing"] = times
    result["device"] = device
    return result
