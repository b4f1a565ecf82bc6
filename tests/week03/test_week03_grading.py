"""week03 graded end to end: the reference scores full marks, the stubs zero,
and each realistic wrong version (tests/week03/wrong_versions.toml) loses the
points of exactly the function it breaks, under two hidden-test seeds, with a
hint that names the mistake."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from grader.course import Course

from .helpers import wrong_versions

WEEK = Course(ROOT).week("week03")
WRONG = wrong_versions(WEEK)
MANIFEST = {name: breaks for name, (breaks, _) in WRONG.items()}
FULL = 27.0


@pytest.fixture(scope="module", params=[0, 77], ids=["seed0", "seed77"])
def graded(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w03")
    folders = {"reference": WEEK.solution_file.parent, "stub": WEEK.stub_file.parent}
    for name in MANIFEST:
        folders[name] = make_submission(tmp, name, WRONG[name][1], "backprop")
    return grade_folders(WEEK, folders, seed=request.param)


# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "affine_no_flatten": "flatten each example",
    "affine_view_flatten": ".view fails on a view",
    "affine_dx_not_reshaped": "check your reshape/view",
    "affine_db_mean": "SUM of dout over the batch",
    "affine_dw_transposed": "looks transposed",
    "relu_in_place": "modified its input",
    "relu_grad_at_zero": "at x exactly 0 the gradient is 0",
    "sigmoid_unstable": "exponentiate only -|x|",
    "sigmoid_backward_unstable": "exponentiate only -|x|",
    "sigmoid_backward_no_dout": "dout is missing",
    "numgrad_perturbs_copy": "perturb x IN PLACE",
    "numgrad_forward_difference": "forward difference",
    "numgrad_not_restored": "left x changed",
    "numgrad_flat_copy": "non-contiguous view here",
    "net_reg_grad_no_2": "adds 2 * reg * W to dW",
    "net_no_relu_mask": "through the ReLU unmasked",
    "net_unstable_softmax": "subtract each row's maximum",
}
# Caught only by the hidden suite: bugs that show on a non-contiguous input or at large scores alone.
HIDDEN_ONLY = {"affine_view_flatten", "numgrad_flat_copy", "net_unstable_softmax"}
PUBLIC_CATCHES = set(MANIFEST) - HIDDEN_ONLY


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
    # a direct call says "not implemented yet"; a scenario (numerical_gradient) names the exception
    assert all("not implemented yet" in t["message"] or "raised NotImplementedError: " + t["function"] in t["message"]
               for t in stub["tests"])


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


def test_hidden_feedback_shows_no_expected_values(graded):
    failed = [t for t in graded["net_reg_grad_no_2"]["tests"] if t["status"] == "failed"]
    hidden = [t for t in failed if t["visibility"] == "hidden"]
    public = [t for t in failed if t["visibility"] == "public"]
    assert hidden and public
    for t in hidden:
        assert "; got " not in t["message"] and "max abs error" in t["message"]
    assert all("; got " in t["message"] for t in public)


def test_public_suite_catches_the_common_bugs(tmp_path):
    folders = {name: make_submission(tmp_path, name, source, "backprop") for name, (_, source) in WRONG.items()}
    results = grade_folders(WEEK, folders, visibility="public")
    assert {name for name, r in results.items() if lost(r)} == PUBLIC_CATCHES
    for name, r in results.items():
        assert lost(r) <= set(MANIFEST[name]), (name, by_function(r))
