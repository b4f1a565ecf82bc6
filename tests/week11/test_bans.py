"""week11's bans: no function may use torch's RNN and LSTM modules, their operators
(rnn_tanh, lstm and their cells) or F.cross_entropy, under any spelling; a correct
answer built from matmul, tanh, sigmoid, log_softmax, logsumexp and nll_loss is
never caught."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn.functional as F

from support import ROOT
from grader.banned import scan
from grader.course import Course
from grader.sandbox.bans import Tripwires

WEEK = Course(ROOT).week("week11")
BANS = {f: WEEK.banned_for(f) for f in WEEK.functions}
N, T, D, H, V = 3, 4, 2, 5, 6
X = torch.randn(N, D)
XS = torch.randn(N, T, D)
Hs = torch.randn(N, H)
C = torch.randn(N, H)
P1 = (torch.randn(H, D), torch.randn(H, H), torch.randn(H), torch.randn(H))
P4 = (torch.randn(4 * H, D), torch.randn(4 * H, H), torch.randn(4 * H), torch.randn(4 * H))
LOGITS = torch.randn(N, T, V)
TARGETS = torch.randint(0, V, (N, T))
MASK = torch.rand(N, T) < 0.5


def _run(names, fn):
    wires = Tripwires()
    wires.student_dir = str(ROOT / "tests" / "week11")
    wires.install([n for n in names if n.startswith("aten.")])  # operators only: names stay unwrapped here
    wires.arm(names)
    try:
        fn()
    finally:
        hits = wires.disarm()
    return hits


SPELLINGS = {
    "nn.RNNCell": lambda: torch.nn.RNNCell(D, H)(X, Hs),
    "nn.RNN": lambda: torch.nn.RNN(D, H, batch_first=True)(XS, Hs[None]),
    "nn.LSTMCell": lambda: torch.nn.LSTMCell(D, H)(X, (Hs, C)),
    "nn.LSTM": lambda: torch.nn.LSTM(D, H, batch_first=True)(XS),
    "torch.rnn_tanh_cell": lambda: torch.rnn_tanh_cell(X, Hs, *P1),
    "torch._VF.rnn_tanh_cell": lambda: torch._VF.rnn_tanh_cell(X, Hs, *P1),
    "aten.rnn_tanh": lambda: torch.ops.aten.rnn_tanh(XS, Hs[None], list(P1), True, 1, 0.0, False, False, True),
    "torch.lstm_cell": lambda: torch.lstm_cell(X, (Hs, C), *P4),
    "aten.lstm_cell": lambda: torch.ops.aten.lstm_cell(X, [Hs, C], *P4),
    "F.cross_entropy": lambda: F.cross_entropy(LOGITS[MASK], TARGETS[MASK]),
    "nn.CrossEntropyLoss": lambda: torch.nn.CrossEntropyLoss(reduction="sum")(LOGITS.reshape(-1, V), TARGETS.reshape(-1)),
    "aten.cross_entropy_loss": lambda: torch.ops.aten.cross_entropy_loss(LOGITS.reshape(-1, V), TARGETS.reshape(-1)),
}


@pytest.mark.parametrize("function", ["rnn_cell", "lstm_cell", "temporal_cross_entropy"])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_guard_sees_every_spelling(function, spelling):
    assert _run(WEEK.banned_for(function), SPELLINGS[spelling]), "no banned operator recorded"


def test_guard_leaves_correct_code_alone():
    spec = importlib.util.spec_from_file_location("week11_sequence_bans", WEEK.solution_file)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    def correct():
        ref.rnn_cell(X, Hs, *P1)
        ref.rnn_forward(XS, Hs, *P1)
        ref.lstm_cell(X, Hs, C, *P4)
        ref.temporal_cross_entropy(LOGITS, TARGETS, MASK)
        # what other right answers reach for: log_softmax, logsumexp, nll_loss, relu cells are not banned
        lp = F.log_softmax(LOGITS, dim=-1)
        torch.logsumexp(LOGITS, -1)
        F.nll_loss(lp[MASK], TARGETS[MASK], reduction="sum")
        torch.addmm(P1[2], X, P1[0].T).tanh()
        torch.sigmoid(torch.baddbmm(torch.zeros(N, 1, H), X[:, None], P1[0].T.expand(N, D, H)))
        F.linear(X, *P1[0::2]) + F.linear(Hs, P1[1], P1[3])

    for function in WEEK.functions:
        assert _run(WEEK.banned_for(function), correct) == []


def test_scan_finds_names_and_aliases():
    src = ("import torch\nimport torch.nn as tnn\nfrom torch.nn import LSTMCell as Cell\n"
           "from torch.nn.functional import cross_entropy as ce\n"
           "def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):\n    return torch._VF.rnn_tanh_cell(x, h, W_ih, W_hh, b_ih, b_hh)\n"
           "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):\n    return tnn.RNN(3, 4)(x, h0)[0]\n"
           "def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):\n    return Cell(3, 4)(x, (h, c))\n"
           "def temporal_cross_entropy(logits, targets, mask):\n    return ce(logits[mask], targets[mask])\n")
    banned = scan(src, BANS).banned
    assert set(banned) == set(WEEK.functions), banned
    assert "torch.nn.RNN" in banned["rnn_forward"] and "torch.nn.LSTMCell" in banned["lstm_cell"]
    assert "torch.nn.functional.cross_entropy" in banned["temporal_cross_entropy"]


def test_scan_reference_is_clean():
    found = scan(WEEK.solution_file.read_text(), BANS)
    assert found.banned == {} and found.review == {}
