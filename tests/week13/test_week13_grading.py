"""week13 graded end to end: the reference scores full marks, the stubs zero,
and each realistic wrong version (tests/week13/wrong_versions.toml) loses the
points of exactly the functions it breaks, under two hidden-test seeds, with a
hint that names the mistake. F.cross_entropy is banned in nt_xent_loss; a
loss computed in float64 and cast back keeps full marks."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from week13_support import wrong_versions
from grader.course import Course

WEEK = Course(ROOT).week("week13")
WRONG = wrong_versions(WEEK)
MANIFEST = {name: breaks for name, (breaks, _) in WRONG.items()}
FULL = 20.0
REF = "".join(line for line in WEEK.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)


def replaced(old: str, new: str) -> str:
    assert REF.count(old) == 1, old
    return REF.replace(old, new)


VARIANTS = {
    # banned: torch's cross-entropy on the masked similarity rows
    "uses_cross_entropy": (replaced("    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)\n", (
        "    import torch.nn.functional as F\n"
        "    return F.cross_entropy(sim, pos)\n"
        "    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)\n")), {"nt_xent_loss"}),
    # allowed: NT-Xent in float64, cast back; q_sample with gather and view
    "float64_and_gather": (replaced("    z = torch.cat([z1, z2], dim=0)\n", (
        "    return nt_xent_loss(z1.double(), z2.double(), temperature).to(z1.dtype) if z1.dtype != torch.float64 "
        "else _nt(z1, z2, temperature)\n\n\n"
        "def _nt(z1, z2, temperature):\n"
        "    z = torch.cat([z1, z2], dim=0)\n")), set()),
}


@pytest.fixture(scope="module", params=[0, 77], ids=["seed0", "seed77"])
def graded(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w13")
    folders = {"reference": WEEK.solution_file.parent, "stub": WEEK.stub_file.parent}
    for name in MANIFEST:
        folders[name] = make_submission(tmp, name, WRONG[name][1], "ssl_diffusion")
    for name, (source, _) in VARIANTS.items():
        folders[name] = make_submission(tmp, name, source, "ssl_diffusion")
    return grade_folders(WEEK, folders, seed=request.param)


HINTS = {
    "nt_xent_keeps_self": "self-similarity is not excluded",
    "nt_xent_no_normalise": "not L2-normalised",
    "nt_xent_first_view_only": "only the first B rows",
    "linear_arange_short": "do not reach beta_end",
    "cosine_no_clip": "not clipped",
    "cosine_not_squared": "not squared",
    "q_sample_no_sqrt": "square roots are missing",
    "q_sample_one_indexed": "1-indexed",
    "ddpm_loss_sum": "is summed",
    "ddpm_loss_model_sees_x0": "the model is given x0",
    "ddpm_loss_detached": "does not reach the model's parameters",
    "p_sample_noise_at_0": "noise is added at t = 0",
    "p_sample_sqrt_abar": "divided by sqrt(abar_t)",
    "p_sample_t_as_int": "int64 tensor of shape [N]",
}
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
    assert any(t["visibility"] == "hidden" for t in broken), broken


@pytest.mark.parametrize("name", sorted(HINTS))
def test_feedback_names_the_mistake(graded, name):
    messages = [t["message"] for t in graded[name]["tests"] if t["status"] != "passed"]
    assert any(HINTS[name].lower() in m.lower() for m in messages), messages


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants(graded, name):
    result = graded[name]
    expected = VARIANTS[name][1]
    assert lost(result) == expected, by_function(result)
    for function in expected:
        assert {t["status"] for t in result["tests"] if t["function"] == function} == {"banned"}


def test_public_suite_catches_the_common_bugs(graded):
    """Read from the full grading: which wrong versions fail a public test, and only in their functions."""
    caught = set()
    for name in MANIFEST:
        public = [t for t in graded[name]["tests"] if t["visibility"] == "public" and t["status"] != "passed"]
        assert {t["function"] for t in public} <= set(MANIFEST[name]), (name, public)
        if public:
            caught.add(name)
    assert caught == PUBLIC_CATCHES
