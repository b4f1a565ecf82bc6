"""--device cuda: the suites on the GPU. Skipped where torch sees no GPU (CI has none)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # ask NVML: forks made later stay CUDA-free

import torch  # noqa: E402

from support import ROOT, by_function, grade_folders, lost, make_submission, wrong_versions  # noqa: E402
from grader.course import Course  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_week04_on_cuda(tmp_path):
    week = Course(ROOT).week("week04")
    wrong = wrong_versions(week)
    folders = {"reference": week.solution_file.parent, "stub": week.stub_file.parent,
               "flipped": make_submission(tmp_path, "flipped", wrong["flipped_kernel"][1], "conv"),
               "on_cpu": make_submission(tmp_path, "on_cpu", week.solution_file.read_text().replace(
                   "def gradient_magnitude(gx, gy):", "def gradient_magnitude(gx, gy):\n"
                   "    return torch.sqrt(gx.cpu() ** 2 + gy.cpu() ** 2)\n\n\ndef _unused(gx, gy):"), "conv")}
    results = grade_folders(week, folders, device="cuda")
    ref = results["reference"]
    assert ref["device"] == "cuda" and ref["score"] == ref["max_score"] == 30.0, \
        [(t["name"], t["message"]) for t in ref["tests"] if t["status"] != "passed"]
    assert results["stub"]["score"] == 0.0
    assert lost(results["flipped"]) == {"conv2d_forward"}, by_function(results["flipped"])
    assert lost(results["on_cpu"]) == {"gradient_magnitude"}
    assert any("on the CPU" in t["message"] for t in results["on_cpu"]["tests"])


def test_fixture_week_on_cuda(toy_week):
    results = grade_folders(toy_week, {"ref": toy_week.solution_file.parent}, device="cuda")
    assert results["ref"]["score"] == results["ref"]["max_score"], \
        [(t["name"], t["message"]) for t in results["ref"]["tests"] if t["status"] != "passed"]
