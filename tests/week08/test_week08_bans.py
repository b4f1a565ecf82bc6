"""week08's ban on torchvision.ops read from the source: every spelling of it is charged to the
function that reaches it, and only to that one; a route around the names
(torch.ops.torchvision.nms) is banned by operator. Graded end to end in test_week08_grading.py."""

from __future__ import annotations

import pytest

from support import ROOT
from week08_support import BAN_CASES, reference_source
from grader.banned import scan
from grader.course import Course

WEEK = Course(ROOT).week("week08")
BANS = {f: WEEK.banned_for(f) for f in WEEK.functions}
REFERENCE = reference_source(WEEK)


@pytest.mark.parametrize("name", sorted(BAN_CASES))
def test_static_scan_sees_the_spelling(name):
    function, status, code = BAN_CASES[name]
    found = scan(REFERENCE + code, BANS)
    if status == "banned":
        assert list(found.banned) == [function], found
        assert all(n.startswith(("torchvision.ops", "torch.ops.torchvision.")) for n in found.banned[function])
    else:
        assert list(found.review) == [function] and found.banned == {}, found


def test_every_function_is_banned_torchvision_ops():
    for function in WEEK.functions:
        assert "torchvision.ops" in BANS[function]
    # a module ban covers what lives under it, however deep
    src = "import torchvision.ops._box_convert as bc\n\ndef box_convert(b, i, o):\n    return bc._box_xyxy_to_cxcywh(b)\n"
    assert scan(src, BANS).banned == {"box_convert": ["torchvision.ops"]}


def test_reference_and_own_names_are_clean():
    assert scan(REFERENCE, BANS).banned == {} and scan(REFERENCE, BANS).review == {}
    own = REFERENCE + "\n\ndef ops(x):\n    return x\n\n\ndef nms(boxes, scores, iou_threshold):\n" \
                      "    return ops(torch.zeros(0, dtype=torch.int64))\n"
    assert scan(own, BANS).banned == {}


def test_torchvision_operators_are_banned_at_call_time(tmp_path):
    """The operator ban sees torchvision::nms however it was reached, and only while armed."""
    import torch
    import torchvision  # noqa: F401 - registers torchvision's operators

    from grader.sandbox.bans import Tripwires

    wires = Tripwires()
    wires.student_dir = str(tmp_path)
    wires.install(["torchvision::*"])
    boxes, scores = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]), torch.tensor([0.9, 0.8])
    wires.arm(["torchvision::*"])
    try:
        kept = torch.ops.torchvision.nms(boxes, scores, 0.5)
    finally:
        hits = wires.disarm()
    assert kept.tolist() == [0] and hits == ["operator torchvision::nms"], hits
    wires.arm([])
    try:
        torch.ops.torchvision.nms(boxes, scores, 0.5)
    finally:
        assert wires.disarm() == []
