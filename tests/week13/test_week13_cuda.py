"""week13 with --device cuda: the reference keeps full marks, the stubs score zero and two wrong
versions (one pure function, one model scenario) lose exactly their function on the GPU. Skipped
where torch sees no GPU."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # ask NVML: forks made later stay CUDA-free

import torch  # noqa: E402

from support import ROOT, by_function, grade_folders, lost, make_submission  # noqa: E402
from week13_support import wrong_versions  # noqa: E402
from grader.course import Course  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_week13_on_cuda(tmp_path):
    week = Course(ROOT).week("week13")
    wrong = wrong_versions(week)
    folders = {"reference": week.solution_file.parent, "stub": week.stub_file.parent}
    for name in ("q_sample_no_sqrt", "p_sample_noise_at_0"):
        folders[name] = make_submission(tmp_path, name, wrong[name][1], "ssl_diffusion")
    results = grade_folders(week, folders, device="cuda")
    ref = results["reference"]
    assert ref["device"] == "cuda" and ref["score"] == ref["max_score"] == 20.0, \
        [(t["name"], t["message"]) for t in ref["tests"] if t["status"] != "passed"]
    assert results["stub"]["score"] == 0.0
    assert lost(results["q_sample_no_sqrt"]) == {"q_sample"}, by_function(results["q_sample_no_sqrt"])
    assert lost(results["p_sample_noise_at_0"]) == {"p_sample_step"}, by_function(results["p_sample_noise_at_0"])
