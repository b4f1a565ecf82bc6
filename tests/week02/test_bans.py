"""week02's bans: softmax and softmax_loss may not use torch's softmax, log-softmax,
logsumexp or cross-entropy, under any spelling; the other functions may; a correct
answer built from exp, max, sum and log is never caught."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from support import ROOT
from grader.banned import scan
from grader.course import Course
from grader.sandbox.bans import Tripwires

WEEK = Course(ROOT).week("week02")
BANS = {f: WEEK.banned_for(f) for f in WEEK.functions}
S = torch.randn(4, 5, dtype=torch.float64)
Y = torch.tensor([0, 3, 1, 4])


def _run(names, fn):
    wires = Tripwires()
    wires.student_dir = str(ROOT / "tests" / "week02")
    wires.install([n for n in names if n.startswith("aten.")])  # operators only: names stay unwrapped here
    wires.arm(names)
    try:
        fn()
    finally:
        hits = wires.disarm()
    return hits


SPELLINGS = {
    "F.softmax": lambda: F.softmax(S, dim=1),
    "torch.softmax": lambda: torch.softmax(S, 1),
    "Tensor.softmax": lambda: S.softmax(1),
    "torch.special.softmax": lambda: torch.special.softmax(S, 1),
    "nn.Softmax": lambda: torch.nn.Softmax(dim=1)(S),
    "F.log_softmax": lambda: F.log_softmax(S, 1),
    "Tensor.log_softmax": lambda: S.log_softmax(1),
    "torch.logsumexp": lambda: torch.logsumexp(S, 1),
    "Tensor.logsumexp": lambda: S.logsumexp(1),
    "F.cross_entropy": lambda: F.cross_entropy(S, Y),
    "nn.CrossEntropyLoss": lambda: torch.nn.CrossEntropyLoss()(S, Y),
    "F.nll_loss": lambda: F.nll_loss(S, Y),
    "aten._softmax": lambda: torch.ops.aten._softmax(S, 1, False),
}


@pytest.mark.parametrize("function", ["softmax", "softmax_loss"])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_guard_sees_every_spelling(function, spelling):
    assert _run(WEEK.banned_for(function), SPELLINGS[spelling]), "no banned operator recorded"


@pytest.mark.parametrize("function", ["linear_scores", "svm_loss", "knn_predict"])
def test_other_functions_may_use_them(function):
    assert _run(WEEK.banned_for(function), SPELLINGS["F.cross_entropy"]) == []


def test_guard_leaves_correct_code_alone():
    def correct():
        shifted = S - S.amax(dim=1, keepdim=True)
        e = shifted.exp()
        p = e / e.sum(dim=1, keepdim=True)
        log_p = shifted - e.sum(1, keepdim=True).log()
        torch.logaddexp(S[:, 0], S[:, 1])
        log_p.gather(1, Y[:, None]).mean()
        S.max(dim=1).values + S.exp().sum(1).log1p()
        return p

    for function in ("softmax", "softmax_loss"):
        assert _run(WEEK.banned_for(function), correct) == []


def test_scan_finds_names_and_aliases():
    src = ("import torch.nn.functional as nnf\nfrom torch import logsumexp as lse\n"
           "def softmax(s):\n    return nnf.softmax(s, 1)\n"
           "def softmax_loss(s, y):\n    return lse(s, 1).mean(), s\n"
           "def svm_loss(s, y, margin=1.0):\n    return nnf.cross_entropy(s, y), s\n")
    banned = scan(src, BANS).banned
    assert banned == {"softmax": ["torch.nn.functional.softmax"], "softmax_loss": ["torch.logsumexp"]}


def test_scan_reference_is_clean():
    found = scan(WEEK.solution_file.read_text(), BANS)
    assert found.banned == {} and found.review == {}
