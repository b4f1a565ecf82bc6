"""week05 graded end to end: the reference scores full marks, the stubs zero, right answers in
other styles keep full marks, and each realistic wrong version (tests/week05/wrong_versions.toml)
loses the points of exactly the function it breaks, under two hidden-test seeds, with feedback
that names the mistake. F.batch_norm is banned in batchnorm_forward under every spelling."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from week05_support import reference_source, wrong_versions
from grader.course import Course

WEEK = Course(ROOT).week("week05")
WRONG = wrong_versions(WEEK)
FULL = 24.0  # 8 public points + 16 hidden
SEEDS = (0, 77)

# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "bn_biased_running_var": "BIASED batch variance",
    "bn_swapped_momentum": "momentum is swapped",
    "bn_eps_outside_sqrt": "inside the square root",
    "dropout_no_scale": "not scaled",
    "dropout_divides_by_p": "divided by p",
    "sgd_lr_in_velocity": "velocity holds lr * gradient",
    "sgd_rebinds_params": "IN PLACE",
    "sgd_no_weight_decay": "weight decay is missing",
    "sgd_replaces_list_items": "IN PLACE",
    "adam_no_bias_correction": "bias correction is missing",
    "adam_eps_inside_sqrt": "eps belongs outside",
    "adam_decoupled_decay": "AdamW",
    "step_decay_true_division": "true division",
    "cosine_no_clip": "not clipped",
    "cosine_ignores_min_lr": "min_lr is ignored",
    "train_no_zero_grad": "zero_grad()",
    "train_no_train_mode": "model.train()",
    "train_no_step": "optimizer.step() is missing",
    "train_batch_means": "batch means are averaged",
    "eval_no_eval_mode": "model.eval()",
    "eval_no_no_grad": "torch.no_grad()",
    "eval_batch_means": "batch means are averaged",
}

# Other answers: {name: ([(old, new), ...], the functions that must lose points)}.
VARIANTS = {
    # right, in other styles: float64 detour, returns tensors, data-level in-place updates, a helper class
    "bn_float64_detour": ([("    x_hat = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)\n"
                            "    return gamma.reshape(shape) * x_hat + beta.reshape(shape)\n",
                            "    xd = x.double()\n"
                            "    x_hat = (xd - mean.double().reshape(shape)) / torch.sqrt(var.double().reshape(shape) + eps)\n"
                            "    return (gamma.double().reshape(shape) * x_hat + beta.double().reshape(shape)).to(x.dtype)\n")],
                          set()),
    "sgd_copy_into": ([("            v.mul_(momentum).add_(d)\n            p.sub_(lr * v)\n",
                        "            v.copy_(momentum * v + d)\n            p.copy_(p - lr * v)\n")], set()),
    "loops_return_tensors": ([("    return total / count\n", "    return torch.tensor(total / count)\n"),
                              ("    return total / count, correct / count\n",
                               "    return torch.tensor(total / count), torch.tensor(correct / count)\n")], set()),
    "train_zero_grad_on_model": ([("        optimizer.zero_grad()\n", "        model.zero_grad()\n")], set()),
    # banned: the functional batch norm, and the module
    "bn_uses_F": ([("    dims = [0] + list(range(2, x.dim()))\n",
                    "    import torch.nn.functional as F\n"
                    "    return F.batch_norm(x, running_mean, running_var, gamma, beta, training, momentum, eps)\n"
                    "    dims = [0] + list(range(2, x.dim()))\n")], {"batchnorm_forward"}),
    "bn_uses_aten": ([("    dims = [0] + list(range(2, x.dim()))\n",
                       "    op = getattr(torch.ops.aten, 'batch' + '_norm')\n"
                       "    return op(x, gamma, beta, running_mean, running_var, training, momentum, eps, False)\n"
                       "    dims = [0] + list(range(2, x.dim()))\n")], {"batchnorm_forward"}),
    "bn_uses_module": ([("    dims = [0] + list(range(2, x.dim()))\n",
                         "    bn = torch.nn.BatchNorm1d(x.shape[1], eps=eps, momentum=momentum).to(x.dtype)\n"
                         "    dims = [0] + list(range(2, x.dim()))\n")], {"batchnorm_forward"}),
}


def test_the_catalogue_is_complete():
    assert len(WRONG) >= 8
    assert {f for w in WRONG.values() for f in w["breaks"]} == set(WEEK.functions)
    assert set(HINTS) == set(WRONG)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{seed: {name: result}}: the reference and every wrong version under both seeds; the stubs and the
    other answers under the first."""
    tmp = tmp_path_factory.mktemp("w05")
    folders = {"reference": WEEK.solution_file.parent, "stub": WEEK.stub_file.parent}
    for name, w in WRONG.items():
        folders[name] = make_submission(tmp, name, w["source"], "training")
    for name, (changes, _) in VARIANTS.items():
        source = reference_source(WEEK)
        for old, new in changes:
            assert source.count(old) == 1, (name, old)
            source = source.replace(old, new)
        folders[name] = make_submission(tmp, name, source, "training")
    first = grade_folders(WEEK, folders, seed=SEEDS[0])
    # the second seed for the reference and the wrong versions only: the stubs and the other answers
    # do not depend on the hidden inputs' seed in any way the first run does not show
    again = {name: folders[name] for name in ["reference", *WRONG]}
    return {SEEDS[0]: first, SEEDS[1]: grade_folders(WEEK, again, seed=SEEDS[1])}


@pytest.fixture(params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def graded(request, runs):
    return runs[request.param]


def test_reference_full_marks(graded):
    ref = graded["reference"]
    assert ref["score"] == ref["max_score"] == FULL, [t for t in ref["tests"] if t["status"] != "passed"]


def test_stubs_score_zero(runs):
    stub = runs[SEEDS[0]]["stub"]
    assert stub["score"] == 0.0 and stub["max_score"] == FULL
    assert set(by_function(stub)) == set(WEEK.functions)


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_version_loses_exactly_its_function(graded, name):
    result = graded[name]
    assert lost(result) == set(WRONG[name]["breaks"]), by_function(result)
    broken = [t for t in result["tests"] if t["function"] in WRONG[name]["breaks"] and t["status"] != "passed"]
    assert all(t["status"] in ("failed", "error") and t["message"] for t in broken)
    assert any(t["visibility"] == "hidden" for t in broken), broken


@pytest.mark.parametrize("name", sorted(HINTS))
def test_feedback_names_the_mistake(graded, name):
    messages = [t["message"] for t in graded[name]["tests"] if t["status"] != "passed"]
    assert any(HINTS[name] in m for m in messages), messages


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_other_answers(runs, name):
    result = runs[SEEDS[0]][name]
    expected = VARIANTS[name][1]
    assert lost(result) == expected, [(t["name"], t["message"]) for t in result["tests"] if t["status"] != "passed"]
    for function in expected:
        assert {t["status"] for t in result["tests"] if t["function"] == function} == {"banned"}


def test_hidden_feedback_shows_no_expected_values(graded):
    failed = [t for t in graded["adam_no_bias_correction"]["tests"] if t["status"] == "failed"]
    hidden = [t for t in failed if t["visibility"] == "hidden"]
    assert hidden and any(t["visibility"] == "public" for t in failed)
    for t in hidden:
        assert "; got " not in t["message"] and "bias correction is missing" in t["message"], t["message"]


def public_losses(result) -> set[str]:
    return {t["function"] for t in result["tests"] if t["visibility"] == "public" and t["status"] != "passed"}


def test_public_suite_catches_the_common_bugs(runs):
    graded = runs[SEEDS[0]]
    public = {name for name, w in WRONG.items() if w["public"]}
    assert {name for name in WRONG if public_losses(graded[name])} == public
    for name in WRONG:
        assert public_losses(graded[name]) <= set(WRONG[name]["breaks"]), name
    assert {f for name in public for f in WRONG[name]["breaks"]} == set(WEEK.functions)
