"""week11 graded end to end: the reference scores full marks, the stubs zero,
and each realistic wrong version (tests/week11/wrong_versions.toml) loses the
points of exactly the function it breaks, under two hidden-test seeds, with a
hint that names the mistake. torch's RNN and LSTM cells and its cross-entropy
are banned under their names and under other spellings of their operators;
log_softmax with nll_loss, and a loss returned as a Python float, are not."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, lost, make_submission
from grader.course import Course

from .helpers import wrong_versions

WEEK = Course(ROOT).week("week11")
WRONG = wrong_versions(WEEK)
MANIFEST = {name: breaks for name, (breaks, _) in WRONG.items()}
FULL = 19.0
REF = WEEK.solution_file.read_text()


def replaced(old: str, new: str) -> str:
    assert REF.count(old) == 1, old
    return REF.replace(old, new)


# Other answers, right or banned: {name: (source, the functions that must lose points)}.
VARIANTS = {
    # banned by name: torch's own cell, weights copied in
    "uses_nn_lstmcell": (replaced("    a = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh\n", (
        "    cell = torch.nn.LSTMCell(W_ih.shape[1], h.shape[1]).to(x.dtype)\n"
        "    with torch.no_grad():\n"
        "        for name, w in (('weight_ih', W_ih), ('weight_hh', W_hh), ('bias_ih', b_ih), ('bias_hh', b_hh)):\n"
        "            getattr(cell, name).copy_(w)\n"
        "        return cell(x, (h, c))\n"
        "    a = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh\n")), {"lstm_cell"}),
    # banned as an operator, reached without its public name
    "uses_aten_rnn_tanh_cell": (replaced("    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)\n",
                                         "    op = getattr(torch.ops.aten, 'rnn_' + 'tanh_cell')\n"
                                         "    return op(x, h, W_ih, W_hh, b_ih, b_hh)\n"), {"rnn_cell"}),
    # nn.CrossEntropyLoss reaches F.cross_entropy's operator
    "uses_cross_entropy_module": (replaced("    N = logits.shape[0]\n", (
        "    N = logits.shape[0]\n"
        "    return torch.nn.CrossEntropyLoss(reduction='sum')(logits[mask], targets[mask]) / N\n")),
        {"temporal_cross_entropy"}),
    # allowed: log_softmax and nll_loss (only F.cross_entropy is banned), the loss as a Python float
    "nll_loss_float": (replaced("    N = logits.shape[0]\n", (
        "    import torch.nn.functional as F\n"
        "    N = logits.shape[0]\n"
        "    lp = F.log_softmax(logits[mask], dim=-1)\n"
        "    return float(F.nll_loss(lp, targets[mask], reduction='sum')) / N\n")), set()),
}


@pytest.fixture(scope="module", params=[0, 77], ids=["seed0", "seed77"])
def graded(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w11")
    folders = {"reference": WEEK.solution_file.parent, "stub": WEEK.stub_file.parent}
    for name in MANIFEST:
        folders[name] = make_submission(tmp, name, WRONG[name][1], "sequence")
    for name, (source, _) in VARIANTS.items():
        folders[name] = make_submission(tmp, name, source, "sequence")
    return grade_folders(WEEK, folders, seed=request.param)


# Words the feedback of some failed test of each wrong version must contain: the hint that names it.
HINTS = {
    "rnn_cell_no_b_hh": "b_hh is missing",
    "rnn_cell_W_hh_transposed": "W_hh is used transposed",
    "rnn_cell_W_ih_transposed": "W_ih is used transposed",
    "rnn_forward_last_only": "not only the last one",
    "rnn_forward_off_by_one": "shifted by one step",
    "rnn_forward_ignores_h0": "h0 is ignored",
    "lstm_gate_order_ifog": "(not i, f, o, g)",
    "lstm_cell_update_uses_h": "uses h instead of c",
    "lstm_no_tanh_on_c": "h_next = o * tanh(c_next)",
    "tce_mean_over_mask": "number of counted positions",
    "tce_ignores_mask": "the mask is ignored",
    "tce_divides_by_NT": "divided by N*T",
    "tce_unstable": "not finite",
}
# The wrong versions the public tests alone catch: all but the instability at +-1e4.
PUBLIC_CATCHES = set(MANIFEST) - {"tce_unstable"}


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
    # the hidden suite catches it too, not only the public test
    assert any(t["visibility"] == "hidden" for t in broken), broken


@pytest.mark.parametrize("name", sorted(HINTS))
def test_feedback_names_the_mistake(graded, name):
    messages = [t["message"] for t in graded[name]["tests"] if t["status"] != "passed"]
    assert any(HINTS[name] in m for m in messages), messages


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_banned_calls_lose_their_function_only(graded, name):
    result = graded[name]
    expected = VARIANTS[name][1]
    assert lost(result) == expected, by_function(result)
    for function in expected:
        assert {t["status"] for t in result["tests"] if t["function"] == function} == {"banned"}


def test_banned_feedback_names_the_call(graded):
    for name, word in (("uses_nn_lstmcell", "LSTMCell"), ("uses_aten_rnn_tanh_cell", "rnn_tanh"),
                       ("uses_cross_entropy_module", "cross_entropy")):
        msgs = {t["message"] for t in graded[name]["tests"] if t["status"] == "banned"}
        assert msgs and all(word in m for m in msgs), (name, msgs)


def test_hidden_feedback_shows_no_expected_values(graded):
    failed = [t for t in graded["lstm_gate_order_ifog"]["tests"] if t["status"] == "failed"]
    hidden = [t for t in failed if t["visibility"] == "hidden"]
    public = [t for t in failed if t["visibility"] == "public"]
    assert hidden and public
    for t in hidden:
        assert "; got " not in t["message"] and "max abs error" in t["message"] and "i, f, g, o" in t["message"]
    assert all("; got " in t["message"] for t in public)


def test_public_suite_catches_the_common_bugs(tmp_path):
    folders = {name: make_submission(tmp_path, name, source, "sequence") for name, (_, source) in WRONG.items()}
    results = grade_folders(WEEK, folders, visibility="public")
    assert {name for name, r in results.items() if lost(r)} == PUBLIC_CATCHES
    for name, r in results.items():
        assert lost(r) <= set(MANIFEST[name]), (name, by_function(r))
