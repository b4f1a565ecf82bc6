"""week08's ban on torchvision.ops: every spelling of it costs the function that uses it, and only
that function; a route around the names (torch.ops.torchvision.nms) is held for review.

Each case is the reference with one function redefined at the end of the module."""

from __future__ import annotations

import pytest

from support import ROOT, by_function, grade_folders, make_submission
from grader.banned import scan
from grader.course import Course

WEEK = Course(ROOT).week("week08")
BANS = {f: WEEK.banned_for(f) for f in WEEK.functions}
REFERENCE = "".join(line for line in WEEK.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)

# name: (function, status, code appended to the reference)
CASES = {
    "from_import_nms": ("nms", "banned", '''
from torchvision.ops import nms as tv_nms


def nms(boxes, scores, iou_threshold):
    return tv_nms(boxes, scores, iou_threshold)
'''),
    "boxes_submodule_iou": ("box_iou", "banned", '''
import torchvision.ops.boxes as B


def box_iou(boxes1, boxes2):
    return B.box_iou(boxes1, boxes2).nan_to_num(0.0)
'''),
    "ops_module_alias_convert": ("box_convert", "banned", '''
from torchvision import ops


def box_convert(boxes, in_fmt, out_fmt):
    return ops.box_convert(boxes, in_fmt, out_fmt)
'''),
    "module_level_alias_area": ("box_area", "banned", '''
import torchvision

area_of = torchvision.ops.box_area


def box_area(boxes):
    return area_of(boxes)
'''),
    "helper_calls_batched_nms": ("batched_nms", "banned", '''
import torchvision.ops


def _per_class(boxes, scores, labels, t):
    return torchvision.ops.batched_nms(boxes, scores, labels, t)


def batched_nms(boxes, scores, labels, iou_threshold):
    return _per_class(boxes, scores, labels, iou_threshold)
'''),
    "torch_ops_torchvision_nms": ("nms", "review", '''
import torchvision


def nms(boxes, scores, iou_threshold):
    return torch.ops.torchvision.nms(boxes, scores, iou_threshold)
'''),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w08bans")
    folders = {name: make_submission(tmp, name, REFERENCE + code, "detection") for name, (_, _, code) in CASES.items()}
    return grade_folders(WEEK, folders, seed=4)


@pytest.mark.parametrize("name", sorted(CASES))
def test_ban_costs_exactly_its_function(graded, name):
    function, status, _ = CASES[name]
    result = graded[name]
    for t in result["tests"]:
        if t["function"] == function:
            assert t["status"] == status and t["score"] == 0.0 and t["message"], (t["name"], t["status"])
        else:
            assert t["status"] == "passed", (t["name"], t["status"], t["message"])
    assert set(by_function(result)) == set(WEEK.functions)


def test_messages_name_torchvision(graded):
    msgs = {t["message"] for t in graded["from_import_nms"]["tests"] if t["status"] == "banned"}
    assert msgs and all("torchvision.ops" in m and "bans" in m for m in msgs)
    msgs = {t["message"] for t in graded["torch_ops_torchvision_nms"]["tests"] if t["function"] == "nms"}
    assert msgs and all("torch.ops" in m for m in msgs)


def test_static_scan_sees_every_spelling():
    for name, (function, status, code) in CASES.items():
        found = scan(REFERENCE + code, BANS)
        if status == "banned":
            assert list(found.banned) == [function] and any(n.startswith("torchvision.ops") for n in found.banned[function])
        else:
            assert list(found.review) == [function] and found.banned == {}


def test_reference_and_own_helpers_are_clean():
    assert scan(REFERENCE, BANS).banned == {} and scan(REFERENCE, BANS).review == {}
    own = REFERENCE + "\n\ndef nms_helper(ops):\n    return ops\n\n\ndef nms(boxes, scores, iou_threshold):\n" \
                      "    return nms_helper(torch.zeros(0, dtype=torch.int64))\n"
    assert scan(own, BANS).banned == {}
