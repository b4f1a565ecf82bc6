"""week06 graded end to end: the reference scores full marks, the stubs zero, and each realistic
wrong version (tests/week06/wrong_versions.toml) loses the points of exactly the function it
breaks, under two hidden-test seeds, with feedback that names the mistake."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from week06_support import reference_source, wrong_versions
from grader.course import Course

WEEK = Course(ROOT).week("week06")
WRONG = wrong_versions(WEEK)
FULL = 28.0  # 8 public points + 20 hidden
SEEDS = (0, 77)

# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "norm_times_std": "std is multiplied",
    "norm_precedence": "divided by the std too early",
    "flip_height": "height axis was flipped",
    "crop_floor": "rounded down",
    "crop_swapped_size": "h and w are swapped",
    "crop_ceil": "rounded up",
    "mixup_swapped_lam": "lam and 1 - lam are swapped",
    "mixup_labels_kept": "labels are not mixed",
    "ft_head_frozen": "the new head is frozen",
    "ft_freeze_ignored": "were frozen though they should train",
    "ft_no_freeze": "still have requires_grad=True",
    "ft_reinit_head": "fresh nn.Linear",
    "ft_train_mode": "changed the model's mode",
    "cm_transposed": "transposed",
    "prf_swapped_axes": "precision and recall are swapped",
    "prf_nan_on_empty": "NaN",
    "prf_f1_nan_when_both_zero": "NaN",
    "topk_ties_against": "ties are counted against the label",
    "topk_accuracy": "top-k ACCURACY",
}

# Right answers written differently from the reference: each keeps full marks.
# name: [(old, new), ...] applied to the reference without its solution markers.
RIGHT = {
    # loops and a list for the crop offsets; a float64 detour for normalize
    "norm_float64_detour": [("    return (images - mean) / std\n",
                             "    return ((images.double() - mean.double()) / std.double()).to(images.dtype)\n")],
    # the confusion matrix with a Python loop, precision etc. in float32
    "cm_loop": [("    cm.index_put_((y_true.long(), y_pred.long()), torch.ones_like(y_true, dtype=torch.int64), "
                 "accumulate=True)\n",
                 "    for t, p in zip(y_true.tolist(), y_pred.tolist()):\n        cm[t, p] += 1\n")],
    "prf_float32": [("    cm = cm.double()\n", "    cm = cm.float()\n")],
    # topk error as a 0-d tensor; the head made after freezing with a loop over named parameters
    "topk_tensor": [("    return (greater >= k).double().mean().item()\n",
                     "    return (greater >= k).float().mean()\n")],
    "ft_named_loop": [("        for p in backbone.parameters():\n            p.requires_grad_(False)\n",
                       "        for name, p in backbone.named_parameters():\n            p.requires_grad = False\n")],
    "ft_not_frozen_then_head": [("    if freeze_backbone:\n", "    if freeze_backbone is True or freeze_backbone:\n")],
    "crop_slicing_narrow": [("    return images[..., top:top + h, left:left + w].clone()\n",
                             "    return images.narrow(-2, top, h).narrow(-1, left, w)\n")],
}


def test_the_catalogue_is_complete():
    assert len(WRONG) >= 8
    assert {f for w in WRONG.values() for f in w["breaks"]} == set(WEEK.functions)
    assert set(HINTS) <= set(WRONG)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{seed: {name: result}}: the reference, the stubs and every wrong version under both seeds."""
    tmp = tmp_path_factory.mktemp("w06")
    folders = {"reference": WEEK.solution_file.parent, "stub": WEEK.stub_file.parent}
    for name, w in WRONG.items():
        folders[name] = make_submission(tmp, name, w["source"], "transfer")
    for name, changes in RIGHT.items():
        source = reference_source(WEEK)
        for old, new in changes:
            assert source.count(old) == 1, (name, old)
            source = source.replace(old, new)
        folders[name] = make_submission(tmp, name, source, "transfer")
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
    failed = [t for t in graded["crop_floor"]["tests"] if t["status"] == "failed"]
    hidden = [t for t in failed if t["visibility"] == "hidden"]
    assert hidden and any(t["visibility"] == "public" for t in failed)
    for t in hidden:
        assert "; got " not in t["message"]
        assert "rounded down" in t["message"], t["message"]


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
