"""week04 graded end to end: the reference scores full marks, the stubs zero,
and each realistic wrong version (tests/week04/wrong_versions.toml) loses the
points of exactly the function it breaks, under two hidden-test seeds."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission, wrong_versions
from grader.course import Course

WRONG = wrong_versions(Course(ROOT).week("week04"))
MANIFEST = {name: breaks for name, (breaks, _) in WRONG.items()}


@pytest.fixture(scope="module")
def week():
    return Course(ROOT).week("week04")


@pytest.fixture(scope="module", params=[0, 77], ids=["seed0", "seed77"])
def graded(request, week, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w04")
    ref_src = week.solution_file.read_text()
    folders = {"reference": week.solution_file.parent, "stub": week.stub_file.parent}
    for name in MANIFEST:
        folders[name] = make_submission(tmp, name, WRONG[name][1], "conv")
    # a banned call and autograd in a backward function
    folders["uses_f_conv2d"] = make_submission(tmp, "uses_f_conv2d", ref_src.replace(
        "def conv2d_forward(x, w, b, stride=1, padding=0):",
        "def conv2d_forward(x, w, b, stride=1, padding=0):\n    return F.conv2d(x, w, b, stride, padding)\n\n\n"
        "def _unused(x, w, b, stride=1, padding=0):"), "conv")
    folders["autograd_backward"] = make_submission(tmp, "autograd_backward", ref_src.replace(
        "def conv2d_backward(dout, x, w, b, stride=1, padding=0):",
        "def conv2d_backward(dout, x, w, b, stride=1, padding=0):\n"
        "    x, w, b = (t.detach().requires_grad_() for t in (x, w, b))\n"
        "    out = conv2d_forward(x, w, b, stride, padding)\n"
        "    out.backward(dout)\n"
        "    return x.grad, w.grad, b.grad\n\n\n"
        "def _unused(dout, x, w, b, stride=1, padding=0):"), "conv")
    # an implemented function that refuses what it does not support, in its own words
    folders["refuses_pairs"] = make_submission(tmp, "refuses_pairs", ref_src.replace(
        "    sh, sw = _pair(stride)\n    ph, pw = _pair(padding)\n    N, C, H, W = x.shape\n",
        "    if not isinstance(stride, int):\n"
        "        raise NotImplementedError('pair strides are not supported')\n"
        "    sh, sw = _pair(stride)\n    ph, pw = _pair(padding)\n    N, C, H, W = x.shape\n", 1), "conv")
    return grade_folders(week, folders, seed=request.param)


# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "flipped_kernel": "kernel is flipped",
    "dx_kernel_transposed": "kernel transposed",
    "maxpool_grad_all_ties": "every tied maximum",
    "maxpool_grad_split_ties": "split among its tied maxima",
    "maxpool_grad_whole_window": "every entry of a window got",
    "maxpool_grad_last_tie": "last maximum",
    "dx_crop_negative_pad": "pad:-pad",
    "magnitude_eps": "exactly 0",
    "pool_backward_1x1_writes_x": "modified its input",
    "db_squeeze": "db",
}
# The wrong versions the public tests alone must catch (the commonest bug of each function among them).
PUBLIC_CATCHES = set(MANIFEST) - {"dx_kernel_squeeze", "pool_backward_1x1_writes_x", "pool_forward_assumes_contiguous"}


def test_reference_full_marks(graded):
    ref = graded["reference"]
    assert ref["score"] == ref["max_score"] == 30.0, [t for t in ref["tests"] if t["status"] != "passed"]


def test_stubs_score_zero(graded, week):
    stub = graded["stub"]
    assert stub["score"] == 0.0 and stub["max_score"] == 30.0
    assert set(by_function(stub)) == set(week.functions)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_wrong_version_loses_exactly_its_function(graded, name):
    result = graded[name]
    assert lost(result) == set(MANIFEST[name]), by_function(result)
    broken = [t for t in result["tests"] if t["function"] in MANIFEST[name] and t["status"] != "passed"]
    assert all(t["status"] in ("failed", "error") and t["message"] for t in broken)


def test_banned_calls_lose_their_function_only(graded):
    for name, function in (("uses_f_conv2d", "conv2d_forward"), ("autograd_backward", "conv2d_backward")):
        result = graded[name]
        assert lost(result) == {function}, by_function(result)
        tests = [t for t in result["tests"] if t["function"] == function]
        assert {t["status"] for t in tests} == {"banned"}


def test_hidden_feedback_shows_no_expected_values(graded):
    failed = [t for t in graded["flipped_kernel"]["tests"] if t["status"] == "failed"]
    hidden = [t for t in failed if t["visibility"] == "hidden"]
    public = [t for t in failed if t["visibility"] == "public"]
    assert hidden and public
    for t in hidden:  # where and how large, never the values
        assert "; got " not in t["message"] and "max abs error" in t["message"]
        assert "kernel is flipped" in t["message"]
    assert all("; got " in t["message"] for t in public)  # public tests may show them


@pytest.mark.parametrize("name", sorted(HINTS))
def test_feedback_names_the_mistake(graded, name):
    messages = [t["message"] for t in graded[name]["tests"] if t["status"] != "passed"]
    assert any(HINTS[name] in m for m in messages), messages


def test_public_suite_catches_the_common_bugs(week, tmp_path):
    folders = {name: make_submission(tmp_path, name, WRONG[name][1], "conv") for name in sorted(PUBLIC_CATCHES)}
    results = grade_folders(week, folders, visibility="public")
    assert {name for name, r in results.items() if lost(r)} == PUBLIC_CATCHES
    for name, r in results.items():
        assert lost(r) <= set(MANIFEST[name]), (name, by_function(r))


def test_student_not_implemented_message_is_kept(graded):
    tests = [t for t in graded["refuses_pairs"]["tests"] if t["status"] != "passed"]
    assert tests and {t["function"] for t in tests} == {"conv2d_forward"}
    assert all("pair strides are not supported" in t["message"] for t in tests)
    stub = [t for t in graded["stub"]["tests"] if t["function"] == "conv2d_forward"]
    assert all("not implemented yet" in t["message"] for t in stub)
