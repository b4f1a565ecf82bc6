"""week09 graded end to end: the reference scores full marks, the stubs zero, each realistic
wrong version (tests/week09/wrong_versions.toml) loses the points of exactly the function it
breaks, under two hidden-test seeds, with feedback that names the mistake; and each way to a
banned BCE or torch.distributions costs exactly its function."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from week09_support import BAN_CASES, reference_source, wrong_versions
from grader.course import Course

WEEK = Course(ROOT).week("week09")
WRONG = wrong_versions(WEEK)
FULL = 20.0  # 5 public points + 15 hidden
SEEDS = (0, 77)

# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "reparam_sigma_is_var": "not exp(logvar)",
    "reparam_logvar_as_std": "not the standard deviation",
    "kl_wrong_sign": "wrong sign",
    "kl_mean_over_latent": "averaged over the latent dimensions",
    "kl_logvar_as_logstd": "used as log(sigma)",
    "vae_recon_mean_over_pixels": "averaged over the pixels",
    "vae_naive_bce": "not finite for logits of +-1e3",
    "vae_beta_on_recon": "beta multiplies the KL",
    "vae_kl_batch_sum": "summed over the batch",
    "vae_image_dims_hardcoded": "IndexError",
    "disc_labels_swapped": "swapped",
    "disc_averaged": "averaged",
    "disc_naive_log_sigmoid": "not finite for logits of +-1e3",
    "gen_saturating": "non-saturating",
    "gen_naive_log_sigmoid": "not finite for logits of +-1e3",
    "gen_detached": "does not require grad",
}


def test_the_catalogue_is_complete():
    assert len(WRONG) >= 8
    assert {f for w in WRONG.values() for f in w["breaks"]} == set(WEEK.functions)
    assert set(HINTS) <= set(WRONG)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{seed: {name: result}}: every wrong version under both seeds; the ban cases under the first."""
    tmp = tmp_path_factory.mktemp("w09")
    folders = {"reference": WEEK.solution_file.parent, "stub": WEEK.stub_file.parent}
    for name, w in WRONG.items():
        folders[name] = make_submission(tmp, name, w["source"], "generative")
    bans = {}
    for name, (_, _, code, helpers) in BAN_CASES.items():
        bans[name] = make_submission(tmp, name, reference_source(WEEK) + code, "generative")
        for file, text in helpers.items():
            (bans[name] / file).write_text(text)
    return {seed: grade_folders(WEEK, {**folders, **(bans if seed == SEEDS[0] else {})}, seed=seed)
            for seed in SEEDS}


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
    failed = [t for t in graded["kl_wrong_sign"]["tests"] if t["status"] == "failed"]
    hidden = [t for t in failed if t["visibility"] == "hidden"]
    assert hidden and any(t["visibility"] == "public" for t in failed)
    for t in hidden:
        assert "; got " not in t["message"]
        assert "wrong sign" in t["message"] or "sign is flipped" in t["message"], t["message"]


def public_losses(result) -> set[str]:
    """The functions that lost points in the public tests: what `dlgrade check` shows (public tests
    draw from a fixed seed, so they go the same way in a full run as on their own)."""
    return {t["function"] for t in result["tests"] if t["visibility"] == "public" and t["status"] != "passed"}


def test_public_suite_catches_the_common_bugs(runs):
    graded = runs[SEEDS[0]]
    public = {name for name, w in WRONG.items() if w["public"]}
    assert {name for name in WRONG if public_losses(graded[name])} == public
    for name in WRONG:
        assert public_losses(graded[name]) <= set(WRONG[name]["breaks"]), name
    assert {f for name in public for f in WRONG[name]["breaks"]} == set(WEEK.functions)
    assert public_losses(graded["reference"]) == set() and public_losses(graded["stub"]) == set(WEEK.functions)


@pytest.mark.parametrize("name", sorted(BAN_CASES))
def test_ban_costs_exactly_its_function(runs, name):
    function, status, _, _ = BAN_CASES[name]
    result = runs[SEEDS[0]][name]
    for t in result["tests"]:
        if t["function"] == function:
            assert t["status"] == status and t["score"] == 0.0 and t["message"], (t["name"], t["status"])
        else:
            assert t["status"] == "passed", (t["name"], t["status"], t["message"])
    assert set(by_function(result)) == set(WEEK.functions)


def test_ban_messages_name_what_was_found(runs):
    graded = runs[SEEDS[0]]
    for name, words in (("f_bce_with_logits", "binary_cross_entropy_with_logits"),
                        ("distributions_kl", "torch.distributions"),
                        ("helper_module_aten_op", "operator aten.binary_cross_entropy_with_logits")):
        function = BAN_CASES[name][0]
        msgs = {t["message"] for t in graded[name]["tests"] if t["function"] == function}
        assert msgs and all(words in m for m in msgs), (name, msgs)
