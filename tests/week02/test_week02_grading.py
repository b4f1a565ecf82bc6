"""week02 graded end to end: the reference scores full marks, the stubs zero,
and each realistic wrong version (tests/week02/wrong_versions.toml) loses the
points of exactly the function it breaks, under two hidden-test seeds, with a
hint that names the mistake."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from grader.course import Course

from .helpers import wrong_versions

WEEK = Course(ROOT).week("week02")
WRONG = wrong_versions(WEEK)
MANIFEST = {name: breaks for name, (breaks, _) in WRONG.items()}
FULL = 22.0


@pytest.fixture(scope="module", params=[0, 77], ids=["seed0", "seed77"])
def graded(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w02")
    ref_src = WEEK.solution_file.read_text()
    folders = {"reference": WEEK.solution_file.parent, "stub": WEEK.stub_file.parent}
    for name in MANIFEST:
        folders[name] = make_submission(tmp, name, WRONG[name][1], "linear")
    # banned calls: by name, and by another spelling of the same operator
    folders["uses_f_softmax"] = make_submission(tmp, "uses_f_softmax", ref_src.replace(
        "def softmax(scores):",
        "def softmax(scores):\n    import torch.nn.functional as F\n    return F.softmax(scores, dim=1)\n\n\n"
        "def _unused(scores):"), "linear")
    folders["uses_tensor_log_softmax"] = make_submission(tmp, "uses_tensor_log_softmax", ref_src.replace(
        "def softmax_loss(scores, y):",
        "def softmax_loss(scores, y):\n    log_p = scores.log_softmax(1)\n    N = scores.shape[0]\n"
        "    loss = -log_p[torch.arange(N), y].mean()\n    d = log_p.exp()\n    d[torch.arange(N), y] -= 1\n"
        "    return loss, d / N\n\n\ndef _unused(scores, y):"), "linear")
    # the loss returned as a Python float keeps its points (the contract leaves the choice open)
    folders["float_losses"] = make_submission(tmp, "float_losses", ref_src.replace(
        "    return loss, dscores / N\n", "    return float(loss), dscores / N\n"), "linear")
    return grade_folders(WEEK, folders, seed=request.param)


# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "scores_no_bias": "bias b is missing",
    "scores_transposed": "looks transposed",
    "svm_counts_correct_class": "correct class j = y[i] was counted",
    "svm_kink_counts": "at the kink",
    "svm_sum_not_mean": "summed over the examples",
    "svm_no_correct_class_grad": "dscores[i, y[i]] is missing",
    "softmax_unstable": "subtract each row's maximum",
    "softmax_wrong_axis": "wrong axis",
    "softmax_loss_log_of_softmax": "not finite",
    "softmax_loss_grad_not_divided": "not divided by N",
    "softmax_loss_no_onehot": "missing the -1 at the correct class",
    "knn_most_common": "tied label of the nearest neighbour",
    "knn_float_labels": "labels are int64",
    "knn_skips_nearest": "nearest training point was left out",
    "knn_largest_label_on_tie": "SMALLEST label",
}
# The wrong versions the public tests alone catch (the commonest bug of each function among them).
PUBLIC_CATCHES = set(MANIFEST)


def test_every_function_has_wrong_versions():
    assert len(MANIFEST) >= 8
    assert {f for breaks in MANIFEST.values() for f in breaks} == set(WEEK.functions)
    assert set(HINTS) == set(MANIFEST)


def test_reference_full_marks(graded):
    ref = graded["reference"]
    assert ref["score"] == ref["max_score"] == FULL, [t for t in ref["tests"] if t["status"] != "passed"]


def test_stubs_score_zero(graded):
    stub = graded["stub"]
    assert stub["score"] == 0.0 and stub["max_score"] == FULL
    assert set(by_function(stub)) == set(WEEK.functions)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_wrong_version_loses_exactly_its_function(graded, name):
    result = graded[name]
    assert lost(result) == set(MANIFEST[name]), by_function(result)
    broken = [t for t in result["tests"] if t["function"] in MANIFEST[name] and t["status"] != "passed"]
    assert all(t["status"] in ("failed", "error") and t["message"] for t in broken)


@pytest.mark.parametrize("name", sorted(HINTS))
def test_feedback_names_the_mistake(graded, name):
    messages = [t["message"] for t in graded[name]["tests"] if t["status"] != "passed"]
    assert any(HINTS[name] in m for m in messages), messages


def test_banned_calls_lose_their_function_only(graded):
    for name, function in (("uses_f_softmax", "softmax"), ("uses_tensor_log_softmax", "softmax_loss")):
        result = graded[name]
        assert lost(result) == {function}, by_function(result)
        assert {t["status"] for t in result["tests"] if t["function"] == function} == {"banned"}
    msgs = {t["message"] for t in graded["uses_tensor_log_softmax"]["tests"] if t["status"] == "banned"}
    assert msgs and all("log_softmax" in m for m in msgs), msgs


def test_a_float_loss_keeps_full_marks(graded):
    result = graded["float_losses"]
    assert result["score"] == FULL, [t for t in result["tests"] if t["status"] != "passed"]


def test_hidden_feedback_shows_no_expected_values(graded):
    failed = [t for t in graded["svm_kink_counts"]["tests"] if t["status"] == "failed"]
    hidden = [t for t in failed if t["visibility"] == "hidden"]
    public = [t for t in failed if t["visibility"] == "public"]
    assert hidden and public
    for t in hidden:
        assert "; got " not in t["message"] and "max abs error" in t["message"] and "at the kink" in t["message"]
    assert all("; got " in t["message"] for t in public)


def test_public_suite_catches_the_common_bugs(tmp_path):
    folders = {name: make_submission(tmp_path, name, source, "linear") for name, (_, source) in WRONG.items()}
    results = grade_folders(WEEK, folders, visibility="public")
    assert {name for name, r in results.items() if lost(r)} == PUBLIC_CATCHES
    for name, r in results.items():
        assert lost(r) <= set(MANIFEST[name]), (name, by_function(r))
