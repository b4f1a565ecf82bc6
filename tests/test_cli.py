"""The command line as a user meets it: exit codes, one-sentence errors, no torch for --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from support import FIXTURE_COURSE, ROOT


def dlgrade(*args, cwd=ROOT, course=FIXTURE_COURSE, timeout=120):
    env = {**os.environ, "DLGRADE_COURSE": str(course)} if course else dict(os.environ)
    if not course:
        env.pop("DLGRADE_COURSE", None)
    return subprocess.run([sys.executable, "-m", "grader.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_help_and_version_do_not_import_torch():
    code = ("import sys\nfrom grader.cli import main\nsys.argv=['dlgrade', '%s']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nassert 'torch' not in sys.modules, 'torch imported'\n")
    for flag in ("--help", "--version"):
        proc = subprocess.run([sys.executable, "-c", code % flag], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert ("Usage" in proc.stdout) if flag == "--help" else ("0.1.0" in proc.stdout)


def test_check_reference_passes_and_writes_json(tmp_path):
    out = tmp_path / "r.json"
    proc = dlgrade("check", "week99", FIXTURE_COURSE / "solutions" / "week99", "--json", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["schema"] == "dlgrade.result/1" and result["score"] == result["max_score"] == 2.0
    assert {t["visibility"] for t in result["tests"]} == {"public"}
    assert "passed" in proc.stdout


def test_check_stub_fails_with_exit_1():
    proc = dlgrade("check", "week99")
    assert proc.returncode == 1
    assert "not implemented yet" in proc.stdout


@pytest.mark.parametrize("args, words", [
    (("check", "week77"), "Unknown week 'week77'"),
    (("check", "banana"), "is not a week name"),
    (("check", "week99", "/no/such/place"), "does not exist"),
])
def test_user_errors_are_one_sentence_exit_2(args, words):
    proc = dlgrade(*args)
    assert proc.returncode == 2
    assert words in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1


def test_outside_a_course_says_where(tmp_path):
    proc = dlgrade("check", "week04", cwd=tmp_path, course=None)
    assert proc.returncode == 2 and "No course found" in proc.stderr


def test_cuda_without_gpu_is_a_usage_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    proc = dlgrade("check", "week99", "--device", "cuda")
    assert proc.returncode == 2 and "CUDA" in proc.stderr


def test_submit_packs_files_with_manifest(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    src = (FIXTURE_COURSE / "assignments" / "week99" / "toy.py").read_text()
    (folder / "toy.py").write_text(src.replace("def softplus", "def not_softplus"))
    out = tmp_path / "w.zip"
    proc = dlgrade("submit", "week99", folder, "--student", "au123456", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "does not define softplus" in proc.stderr
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        assert sorted(z.namelist()) == ["manifest.json", "toy.py"]
    assert manifest["student"] == "au123456" and manifest["week"] == "week99"
    assert len(manifest["files"]["toy.py"]) == 64


def test_submit_refuses_syntax_error(tmp_path):
    (tmp_path / "toy.py").write_text("def add(a, b)\n    return a\n")
    proc = dlgrade("submit", "week99", tmp_path, "--student", "au1")
    assert proc.returncode == 2 and "syntax error at line 1" in proc.stderr
