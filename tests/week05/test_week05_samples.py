"""The week05 sample class (autograder_data/samples/week05/, EXPECTED.toml beside it)
graded through the batch API as `dlgrade grade week05 <folder>` does: every entry
loses the points of exactly the functions EXPECTED.toml names."""

from __future__ import annotations

import json
import tomllib

import pytest

from support import ROOT, by_function, lost
from grader import api
from grader.course import Course

SAMPLES = ROOT / "autograder_data" / "samples" / "week05"
EXPECTED = tomllib.loads((SAMPLES / "EXPECTED.toml").read_text())
COURSE = Course(ROOT)


def student_of(entry: str) -> str:
    return entry.rstrip("/").split(".")[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    summary = api.grade(week="week05", submissions=[SAMPLES], out_dir=out, jobs=2, timeout=1.5, course=COURSE)
    assert summary.graded == len(EXPECTED) and summary.not_gradable == 0
    return out / "week05"


def test_the_class_has_every_kind():
    kinds = [e["kind"] for e in EXPECTED.values()]
    assert len(EXPECTED) >= 12 and kinds.count("correct") >= 3
    assert {"wrong", "partial", "broken"} <= set(kinds)
    assert any(e.endswith(".ipynb") for e in EXPECTED) and any(e.endswith(".zip") for e in EXPECTED)


@pytest.mark.parametrize("entry", sorted(EXPECTED))
def test_sample_scores_as_expected(folder, entry):
    exp = EXPECTED[entry]
    result = json.loads((folder / f"{student_of(entry)}.json").read_text())
    assert result["status"] == "graded", result["error"]
    assert lost(result) == set(exp["broken_functions"]), (exp["note"], by_function(result))


def test_banned_and_endless_entries_say_why(folder):
    banned = json.loads((folder / "au050009.json").read_text())
    assert {t["status"] for t in banned["tests"] if t["function"] == "batchnorm_forward"} == {"banned"}
    endless = json.loads((folder / "au050014.json").read_text())
    assert "timeout" in {t["status"] for t in endless["tests"] if t["function"] == "train_one_epoch"}
