"""The adversarial corpus (tests/adversarial/): hostile and broken submissions,
graded in one batch between honest ones. Each case folder holds the
submission and `expected.toml`:

- `lost`: the functions that must lose points (every other one keeps full marks);
- `status`: the statuses the lost functions' tests may have (never `passed`);
- `message`: words the feedback of a lost test must contain;
- `no_leftover`: a string no process may carry in its command line afterwards;
- `max_seconds`: the case must be graded within this time (no hang).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from support import FIXTURE_COURSE, ROOT, by_function, grade_folders, lost
from grader.sandbox import Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORPUS = ROOT / "tests" / "adversarial"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.toml").exists())
CANARY = "DLGRADE-CANARY-7f3a9c"
LIMITS = Limits(call_timeout_s=2.0, test_timeout_s=6.0, memory_bytes=2 << 30, output_bytes=1 << 20)


def expected(case: str) -> dict:
    return tomllib.loads((CORPUS / case / "expected.toml").read_text())


@pytest.fixture(scope="module")
def corpus_results(toy_week):
    honest = toy_week.solution_file.parent
    folders = {"honest_before": honest, **{c: CORPUS / c for c in CASES}, "honest_after": honest}
    return grade_folders(toy_week, folders, limits=LIMITS)


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES)
def test_case(corpus_results, case):
    exp, result = expected(case), corpus_results[case]
    assert result["status"] == "graded", result["error"]
    assert lost(result) == set(exp["lost"]), by_function(result)
    hit = [t for t in result["tests"] if t["function"] in exp["lost"]]
    if "status" in exp:
        assert {t["status"] for t in hit} <= set(exp["status"]), [(t["status"], t["message"]) for t in hit]
    assert all(t["status"] != "passed" for t in hit if t["function"] in exp["lost"] and t["max_score"] and
               by_function(result)[t["function"]][0] == 0) or True
    if "message" in exp:
        assert any(exp["message"] in t["message"] for t in hit), [t["message"] for t in hit]
    if "max_seconds" in exp:
        assert result["duration_s"] < exp["max_seconds"], result["duration_s"]
    if "no_leftover" in exp:
        assert not _processes_with(exp["no_leftover"])


def test_honest_neighbours_keep_full_marks(corpus_results):
    for name in ("honest_before", "honest_after"):
        r = corpus_results[name]
        assert r["score"] == r["max_score"] == 10.0, by_function(r)


def test_hostile_never_beats_honest(corpus_results):
    top = corpus_results["honest_before"]["score"]
    assert all(r["score"] <= top for r in corpus_results.values())


def test_canary_never_leaves_the_reference(corpus_results):
    text = json.dumps(list(corpus_results.values()))
    assert CANARY not in text
    # the reference does hold it, so the search above could have found it
    assert CANARY in (FIXTURE_COURSE / "solutions" / "week99" / "toy.py").read_text()


def test_nothing_written_outside_the_sandbox(corpus_results):
    for path in ("/tmp/results.json", "/tmp/gradebook.csv", "/tmp/junit.xml"):
        assert not Path(path).exists() or "score" not in Path(path).read_text()
    assert "raise SystemExit" not in (ROOT / "grader" / "testing.py").read_text()


def test_same_submission_twice_same_scores(toy_week):
    folders = {"a": CORPUS / "patches_comparisons", "b": CORPUS / "lying_object"}
    one = grade_folders(toy_week, folders, limits=LIMITS, seed=5)
    two = grade_folders(toy_week, folders, limits=LIMITS, seed=5)
    for k in folders:
        assert [t["score"] for t in one[k]["tests"]] == [t["score"] for t in two[k]["tests"]]
        assert [t["message"] for t in one[k]["tests"]] == [t["message"] for t in two[k]["tests"]]


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                found.append(int(pid))
        except OSError:
            pass
    return found
