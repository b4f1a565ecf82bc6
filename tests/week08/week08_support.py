"""Helpers of week08's own tests: its wrong versions, built from the reference, and its ban cases."""

from __future__ import annotations

import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def wrong_versions(week) -> dict[str, dict]:
    """{name: {"breaks": [...], "public": bool, "note": str, "source": str}} from wrong_versions.toml."""
    reference = "".join(line for line in week.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)
    out = {}
    for name, spec in tomllib.loads((HERE / "wrong_versions.toml").read_text()).items():
        source = reference
        for change in spec["change"]:
            assert source.count(change["old"]) == 1, f"{name}: the reference changed; update its `old` text"
            source = source.replace(change["old"], change["new"])
        assert source != reference, name
        out[name] = {"breaks": spec["breaks"], "public": spec["public"], "note": spec["note"], "source": source}
    return out


def reference_source(week) -> str:
    """The reference without its solution markers."""
    return "".join(line for line in week.solution_file.read_text().splitlines(True) if "SOLUTION" not in line)


# Ban cases: the reference with one function redefined at the end of the module.
BAN_CASES = {  # name: (function, status, code appended to the reference)
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
    "torch_ops_torchvision_nms": ("nms", "banned", '''
import torchvision


def nms(boxes, scores, iou_threshold):
    return torch.ops.torchvision.nms(boxes, scores, iou_threshold)
'''),
}
