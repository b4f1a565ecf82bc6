"""week07 graded end to end: the reference scores full marks, the stubs zero, and each realistic
wrong version (tests/week07/wrong_versions.toml) loses the points of exactly the function it
breaks, under two hidden-test seeds, with feedback that names the mistake."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from week07_support import reference_source, wrong_versions
from grader.course import Course

WEEK = Course(ROOT).week("week07")
WRONG = wrong_versions(WEEK)
FULL = 16.0  # 5 public points + 11 hidden
SEEDS = (0, 77)

# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "conv_no_dilation": "dilation is ignored",
    "conv_pad_once": "padding is added once",
    "conv_no_plus_one": "+ 1 is missing",
    "rf_ignores_strides": "strides are ignored",
    "rf_own_stride": "includes its own stride",
    "count_ignores_trainable": "trainable_only is ignored",
    "count_shared_twice": "counted twice",
    "count_tensors": "number of parameter tensors",
    "block_no_final_relu": "final ReLU is missing",
    "block_relu_before_add": "before the shortcut is added",
    "block_stride_on_conv2": "stride is on conv2",
    "block_conv_bias": "unexpected keys conv1.bias",
    "block_shortcut_for_stride_only": "missing keys shortcut.0.weight",
    "dsc_no_groups": "depthwise.weight has shape",
    "dsc_relu_between": "ReLU between depthwise and pointwise",
}

# Right answers written differently from the reference: each keeps full marks.
# name: [(old, new), ...] applied to the reference without its solution markers.
RIGHT = {
    # nn.ReLU modules instead of F.relu (no parameters, so the state_dict is the same)
    "block_relu_modules": [("        self.shortcut = nn.Sequential()\n        if",
                            "        self.act = nn.ReLU()\n        self.shortcut = nn.Sequential()\n        if"),
                           ("        out = F.relu(self.bn1(self.conv1(x)))\n",
                            "        out = self.act(self.bn1(self.conv1(x)))\n")],
    # the receptive field computed backwards from the output unit
    "rf_backwards": [("    r, jump = 1, 1\n    for k, s in layers:\n        r += (k - 1) * jump\n        jump *= s\n    return r\n",
                      "    r = 1\n    for k, s in reversed(layers):\n        r = (r - 1) * s + k\n    return r\n")],
    # conv_output_size with math.floor of a true division
    "conv_math_floor": [("    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1\n",
                         "    import math\n    return math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1)"
                         " / stride) + 1\n")],
}


def test_the_catalogue_is_complete():
    assert len(WRONG) >= 8
    assert {f for w in WRONG.values() for f in w["breaks"]} == set(WEEK.functions)
    assert set(HINTS) <= set(WRONG)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{seed: {name: result}}: the reference, the stubs and every wrong version under both seeds."""
    tmp = tmp_path_factory.mktemp("w07")
    folders = {"reference": WEEK.solution_file.parent, "stub": WEEK.stub_file.parent}
    for name, w in WRONG.items():
        folders[name] = make_submission(tmp, name, w["source"], "architectures")
    for name, changes in RIGHT.items():
        source = reference_source(WEEK)
        for old, new in changes:
            assert source.count(old) == 1, (name, old)
            source = source.replace(old, new)
        folders[name] = make_submission(tmp, name, source, "architectures")
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
    failed = [t for t in graded["block_no_final_relu"]["tests"] if t["status"] == "failed"]
    hidden = [t for t in failed if t["visibility"] == "hidden"]
    assert hidden and any(t["visibility"] == "public" for t in failed)
    for t in hidden:
        assert "; got " not in t["message"]
        assert "final ReLU is missing" in t["message"], t["message"]


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
