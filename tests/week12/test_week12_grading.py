"""week12 graded end to end: the reference scores full marks, the stubs zero,
and each realistic wrong version (tests/week12/wrong_versions.toml) loses the
points of exactly the function it breaks, under two hidden-test seeds, with a
hint that names the mistake. torch's attention, multi-head attention and unfold
are banned under their names and under their operators; a hand-written answer
never reaches them."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from week12_support import reference_source, wrong_versions
from grader.course import Course

WEEK = Course(ROOT).week("week12")
WRONG = wrong_versions(WEEK)
MANIFEST = {name: spec["breaks"] for name, spec in WRONG.items()}
FULL = 17.0
REF = reference_source(WEEK)


def replaced(old: str, new: str) -> str:
    assert REF.count(old) == 1, old
    return REF.replace(old, new)


# Answers that call what is banned: {name: (source, the functions that must lose points)}.
VARIANTS = {
    "uses_F_sdpa": (replaced("    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]\n", (
        "    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]\n"
        "    import torch.nn.functional as F\n"
        "    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)\n")),
        {"scaled_dot_product_attention"}),
    "uses_aten_sdpa": (replaced("    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]\n", (
        "    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]\n"
        "    op = getattr(torch.ops.aten, 'scaled_dot_product_' + 'attention')\n"
        "    out = op(q, k, v)\n")), {"scaled_dot_product_attention"}),
    "uses_nn_mha": (replaced("        N, L, E = x.shape\n", (
        "        N, L, E = x.shape\n"
        "        mha = nn.MultiheadAttention(E, self.num_heads, batch_first=True)\n")),
        {"MultiHeadSelfAttention"}),
    "uses_F_unfold": (replaced("    N, C, H, W = images.shape\n", (
        "    N, C, H, W = images.shape\n"
        "    import torch.nn.functional as F\n"
        "    return F.unfold(images, patch_size, stride=patch_size).transpose(1, 2)\n")), {"patchify"}),
    "uses_aten_im2col": (replaced("        N, C, H, W = x.shape\n", (
        "        N, C, H, W = x.shape\n"
        "        op = getattr(torch.ops.aten, 'im2' + 'col')\n"
        "        cols = op(x, [self.patch_size] * 2, [1, 1], [0, 0], [self.patch_size] * 2)\n")),
        {"PatchEmbedding"}),
}


@pytest.fixture(scope="module", params=[0, 77], ids=["seed0", "seed77"])
def graded(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w12")
    folders = {name: make_submission(tmp, name, spec["source"], "attention") for name, spec in WRONG.items()}
    if request.param == 0:  # the reference, the stubs and the banned calls do not depend on the seed
        folders.update(reference=WEEK.solution_file.parent, stub=WEEK.stub_file.parent)
        for name, (source, _) in VARIANTS.items():
            folders[name] = make_submission(tmp, name, source, "attention")
    return grade_folders(WEEK, folders, seed=request.param)


@pytest.fixture(scope="module")
def graded0(graded):
    if "reference" not in graded:
        pytest.skip("graded under seed 0 only")
    return graded


# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "sdpa_no_scale": "not scaled",
    "sdpa_mask_inverted": "wrong way round",
    "sdpa_causal_strict": "drops the diagonal",
    "sdpa_softmax_wrong_axis": "wrong axis",
    "mhsa_head_split_reshape": "heads are split wrongly",
    "mhsa_scale_by_E": "1/sqrt(d)",
    "mhsa_qkv_order": "wrong order",
    "mhsa_merge_heads_wrong": "heads are merged wrongly",
    "patchify_ppc_order": "(P, P, C) order",
    "patchify_column_major": "column by column",
    "embed_ppc_order": "(P, P, C) order",
    "embed_naive_reshape": "reshaped straight",
    "pe_concatenated": "concatenated",
    "pe_exponent_i": "uses i instead of 2i",
    "pe_float32_angles": "lose precision",
}
PUBLIC_CATCHES = {name for name, spec in WRONG.items() if spec["public"]}


def test_every_function_has_wrong_versions():
    assert len(MANIFEST) >= 8
    assert {f for breaks in MANIFEST.values() for f in breaks} == set(WEEK.functions)
    assert set(HINTS) == set(MANIFEST)


def test_reference_full_marks(graded0):
    ref = graded0["reference"]
    assert ref["score"] == ref["max_score"] == FULL, [t for t in ref["tests"] if t["status"] != "passed"]


def test_stubs_score_zero(graded0):
    stub = graded0["stub"]
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
    assert any(HINTS[name] in m for m in messages), messages


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_banned_calls_lose_their_function_only(graded0, name):
    result = graded0[name]
    expected = VARIANTS[name][1]
    assert lost(result) == expected, by_function(result)
    for function in expected:
        assert {t["status"] for t in result["tests"] if t["function"] == function} == {"banned"}


def test_public_suite_catches_the_common_bugs(graded):
    """The public tests alone lose points for every wrong version marked public, and only in its function."""
    caught = set()
    for name in MANIFEST:
        public = [t for t in graded[name]["tests"] if t["visibility"] == "public" and t["status"] != "passed"]
        assert {t["function"] for t in public} <= set(MANIFEST[name]), (name, public)
        if public:
            caught.add(name)
    assert caught == PUBLIC_CATCHES
