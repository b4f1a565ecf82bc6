"""week10 graded end to end: the reference scores full marks, the stubs zero, and each realistic
wrong version (tests/week10/wrong_versions.toml) loses the points of exactly the function it
breaks, under two hidden-test seeds, with feedback that names the mistake."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from week10_support import reference_source, wrong_versions
from grader.course import Course

WEEK = Course(ROOT).week("week10")
WRONG = wrong_versions(WEEK)
FULL = 13.0  # 3 public points + 10 hidden
SEEDS = (0, 77)

# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "sal_no_eval": "call model.eval()",
    "sal_no_abs": "absolute value is missing",
    "sal_sum_channels": "channels are summed",
    "sal_softmax_prob": "softmax probability",
    "sal_backward_leaves_grads": "left gradients on the model's parameters",
    "cam_no_relu": "ReLU is missing",
    "cam_no_spatial_mean": "spatial MEAN",
    "cam_no_normalisation": "not normalised",
    "cam_batch_max": "whole batch",
    "cam_nan_on_zero_map": "NaN",
    "cam_align_corners_true": "align_corners=True",
    "cam_nearest": "nearest",
    "cam_after_inplace_relu": "in-place ReLU",
    "cam_hook_not_removed": "handle.remove()",
    "occ_logits": "logit",
    "occ_one_window_short": "(H - p) // s + 1",
    "occ_windows_to_the_edge": "fits inside the image",
    "occ_reversed_sign": "sign is reversed",
    "occ_fill_ignored": "write `fill`",
    "occ_occludes_the_input": "modified its input image in place",
}

# Right answers written differently from the reference: each keeps full marks.
# name: [(old, new), ...] applied to the reference without its solution markers.
RIGHT = {
    # the mode handed over is restored after the map is computed in eval mode
    "sal_restores_mode": [("    model.eval()\n    x = images.detach().clone().requires_grad_(True)\n",
                           "    was_training = model.training\n    model.eval()\n"
                           "    x = images.detach().clone().requires_grad_(True)\n"),
                          ("    return grad.abs().amax(dim=1)\n",
                           "    model.train(was_training)\n    return grad.abs().amax(dim=1)\n")],
    # backward() on the model, then zero_grad(set_to_none=False): zeros are no gradient left behind
    "sal_backward_then_zero_grad": [("    (grad,) = torch.autograd.grad(picked, x)\n",
                                     "    picked.backward()\n    grad = x.grad\n"
                                     "    model.zero_grad(set_to_none=False)\n")],
    # the normalisation done in float64 and cast back
    "cam_float64_detour": [("    return cam / torch.where(top > 0, top, torch.ones_like(top))\n",
                            "    c64, t64 = cam.double(), top.double()\n"
                            "    return (c64 / torch.where(t64 > 0, t64, torch.ones_like(t64))).to(cam.dtype)\n")],
}


def test_the_catalogue_is_complete():
    assert len(WRONG) >= 8
    assert {f for w in WRONG.values() for f in w["breaks"]} == set(WEEK.functions)
    assert set(HINTS) <= set(WRONG)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{seed: {name: result}}: the reference, the stubs and every wrong version under both seeds."""
    tmp = tmp_path_factory.mktemp("w10")
    folders = {"reference": WEEK.solution_file.parent, "stub": WEEK.stub_file.parent}
    for name, w in WRONG.items():
        folders[name] = make_submission(tmp, name, w["source"], "visualize")
    for name, changes in RIGHT.items():
        source = reference_source(WEEK)
        for old, new in changes:
            assert source.count(old) == 1, (name, old)
            source = source.replace(old, new)
        folders[name] = make_submission(tmp, name, source, "visualize")
    return {seed: grade_folders(WEEK, folders, seed=seed) for seed in SEEDS}


@pytest.fixture(params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def graded(request, runs):
    return runs[request.param]


def test_reference_full_marks(graded):
    ref = graded["reference"]
    assert ref["score"] == ref["max_score"] == FULL, [t for t in ref["tests"] if t["status"] != "passed"]


def test_stubs_score_zero(graded):
    stub = graded["stub"]
    assert stub["score"] == 0.0 and stub["max_score"] == FULL
    assert set(by_function(stub)) == set(WEEK.functions)
    assert all("not implemented yet" in t["message"] or "NotImplementedError" in t["message"] for t in stub["tests"])


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_in_other_styles_keep_full_marks(graded, name):
    result = graded[name]
    assert result["score"] == result["max_score"] == FULL, [(t["name"], t["message"]) for t in result["tests"]
                                                            if t["status"] != "passed"]


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_version_loses_exactly_its_function(graded, name):
    result = graded[name]
    assert lost(result) == set(WRONG[name]["breaks"]), by_function(result)
    broken = [t for t in result["tests"] if t["function"] in WRONG[name]["breaks"] and t["status"] != "passed"]
    assert all(t["status"] in ("failed", "error") and t["message"] for t in broken)


@pytest.mark.parametrize("name", sorted(HINTS))
def test_feedback_names_the_mistake(graded, name):
    messages = [t["message"] for t in graded[name]["tests"] if t["status"] != "passed"]
    assert any(HINTS[name] in m for m in messages), messages


def test_hidden_feedback_shows_no_expected_values(graded):
    failed = [t for t in graded["cam_no_relu"]["tests"] if t["status"] == "failed"]
    hidden = [t for t in failed if t["visibility"] == "hidden"]
    assert hidden and any(t["visibility"] == "public" for t in failed)
    for t in hidden:
        assert "; got " not in t["message"]
        assert "ReLU is missing" in t["message"], t["message"]


def public_losses(result) -> set[str]:
    """The functions that lost points in the public tests: what `dlgrade check` shows."""
    return {t["function"] for t in result["tests"] if t["visibility"] == "public" and t["status"] != "passed"}


def test_public_suite_catches_the_common_bugs(runs):
    graded = runs[SEEDS[0]]
    public = {name for name, w in WRONG.items() if w["public"]}
    assert {name for name in WRONG if public_losses(graded[name])} == public
    for name in WRONG:
        assert public_losses(graded[name]) <= set(WRONG[name]["breaks"]), name
    assert {f for name in public for f in WRONG[name]["breaks"]} == set(WEEK.functions)
    assert public_losses(graded["reference"]) == set() and public_losses(graded["stub"]) == set(WEEK.functions)
