"""week09's bans read from the source: BCE and torch.distributions are charged to the function that
reaches them, and only to it; what a helper module of the student's own does is left to the call-time
guard (graded end to end in test_week09_grading.py). And the operator ban on its own, in the guard."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from support import ROOT
from week09_support import BAN_CASES, reference_source
from grader.banned import scan
from grader.course import Course
from grader.sandbox.bans import Tripwires

WEEK = Course(ROOT).week("week09")
BANS = {f: WEEK.banned_for(f) for f in WEEK.functions}
REFERENCE = reference_source(WEEK)


@pytest.mark.parametrize("name", sorted(BAN_CASES))
def test_static_scan(name):
    function, _, code, helpers = BAN_CASES[name]
    found = scan(REFERENCE + code, BANS)
    if helpers:  # the scan reads generative.py only: the helper module is the call-time guard's
        assert found.banned == {} and found.review == {}
    else:
        assert list(found.banned) == [function], found


def test_reference_is_clean_and_softplus_allowed():
    assert scan(REFERENCE, BANS).banned == {} and scan(REFERENCE, BANS).review == {}


def _hits(fn):
    wires = Tripwires()
    names = WEEK.banned_for("vae_loss")
    wires.install([n for n in names if n.startswith("aten.")])
    wires.arm(names)
    try:
        fn()
    finally:
        hits = wires.disarm()
    return hits


Z = torch.randn(4, 3, dtype=torch.float64)
Y = torch.rand(4, 3, dtype=torch.float64)


@pytest.mark.parametrize("call", [
    lambda: F.binary_cross_entropy_with_logits(Z, Y),
    lambda: F.binary_cross_entropy(torch.sigmoid(Z), Y),
    lambda: torch.binary_cross_entropy_with_logits(Z, Y, None, None, 1),
    lambda: torch.nn.BCEWithLogitsLoss()(Z, Y),
    lambda: torch.distributions.Bernoulli(logits=Z).log_prob((Y > 0.5).double()),
], ids=["F.bce_with_logits", "F.bce", "torch.bce_with_logits", "BCEWithLogitsLoss", "Bernoulli.log_prob"])
def test_operator_guard_sees_every_spelling(call):
    assert any("aten.binary_cross_entropy" in h for h in _hits(call))


def test_operator_guard_leaves_the_stable_forms_alone():
    def correct():
        (Z.clamp(min=0) - Z * Y + torch.log1p(torch.exp(-Z.abs()))).sum()
        F.softplus(-Z).mean() + F.softplus(Z).mean()
        -F.logsigmoid(Z).mean()

    assert _hits(correct) == []
    assert not torch._C._dispatch_tls_is_dispatch_key_included(torch._C.DispatchKey.PreDispatch)
