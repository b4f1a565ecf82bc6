"""week06 with --device cuda: the reference keeps full marks, the stubs score zero and a wrong
version loses exactly its function on the GPU. Skipped where torch sees no GPU."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # ask NVML: forks made later stay CUDA-free

import torch  # noqa: E402

from support import ROOT, by_function, grade_folders, lost, make_submission  # noqa: E402
from week06_support import wrong_versions  # noqa: E402
from grader.course import Course  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_week06_on_cuda(tmp_path):
    week = Course(ROOT).week("week06")
    wrong = wrong_versions(week)
    folders = {"reference": week.solution_file.parent, "stub": week.stub_file.parent}
    for name in ("ft_head_frozen", "crop_floor", "prf_nan_on_empty"):
        folders[name] = make_submission(tmp_path, name, wrong[name]["source"], "transfer")
    results = grade_folders(week, folders, device="cuda")
    ref = results["reference"]
    assert ref["device"] == "cuda" and ref["score"] == ref["max_score"] == 28.0, \
        [(t["name"], t["message"]) for t in ref["tests"] if t["status"] != "passed"]
    assert results["stub"]["score"] == 0.0
    for name in ("ft_head_frozen", "crop_floor", "prf_nan_on_empty"):
        assert lost(results[name]) == set(wrong[name]["breaks"]), by_function(results[name])
