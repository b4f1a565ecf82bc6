"""The week06 sample class (autograder_data/samples/week06/, EXPECTED.toml beside it) graded
through the batch API as `dlgrade grade` does: each entry loses exactly the functions listed."""

from __future__ import annotations

import json
import tomllib

import pytest

from support import ROOT, by_function, lost
from grader import api
from grader.course import Course

SAMPLES = ROOT / "autograder_data" / "samples" / "week06"
EXPECTED = tomllib.loads((SAMPLES / "EXPECTED.toml").read_text())


def student_of(entry: str) -> str:
    return entry.rstrip("/").split(".")[0]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    summary = api.grade(week="week06", submissions=[SAMPLES], out_dir=out, jobs=1, timeout=2.0, course=Course(ROOT))
    return out / "week06", summary


def test_the_class_has_every_kind():
    kinds = [e["kind"] for e in EXPECTED.values()]
    assert len(EXPECTED) >= 12 and kinds.count("correct") >= 3 and {"wrong", "partial", "broken"} <= set(kinds)
    assert any(e.endswith(".ipynb") for e in EXPECTED) and any(e.endswith(".zip") for e in EXPECTED)


def test_every_sample_is_graded_once(graded):
    folder, summary = graded
    assert sorted(p.stem for p in folder.glob("au*.json")) == sorted(student_of(e) for e in EXPECTED)
    assert summary.graded == len(EXPECTED)


@pytest.mark.parametrize("entry", sorted(EXPECTED))
def test_sample_scores_as_expected(graded, entry):
    folder, _ = graded
    exp = EXPECTED[entry]
    result = json.loads((folder / f"{student_of(entry)}.json").read_text())
    assert result["status"] == "graded", result["error"]
    assert lost(result) == set(exp["broken_functions"]), (exp["note"], by_function(result))
    if exp["kind"] == "correct":
        assert result["score"] == result["max_score"]


def test_broken_ones_say_why(graded):
    folder, _ = graded

    def messages(student, function=None):
        r = json.loads((folder / f"{student}.json").read_text())
        return [t["message"] for t in r["tests"] if t["status"] != "passed" and function in (None, t["function"])]

    assert all("could not be imported" in m and "SyntaxError" in m for m in messages("au306011"))
    assert all("mixup" in m and ("does not define" in m or "has no attribute" in m) for m in messages("au306012"))
    assert any("time" in m for m in messages("au306013", "confusion_matrix"))
    assert any("rounded down" in m for m in messages("au306006", "center_crop"))
    assert any("the new head is frozen" in m for m in messages("au306007", "build_finetune_model"))
    assert any("labels are not mixed" in m for m in messages("au306014", "mixup"))
