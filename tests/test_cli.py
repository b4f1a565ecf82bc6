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


# --------------------------------------------------------------------------- settings and paths

def run_main(monkeypatch, capsys, *args, course=FIXTURE_COURSE):
    """`dlgrade ARGS` in this process (torch already imported): (exit code, stdout, stderr)."""
    from grader.cli import main

    monkeypatch.setenv("DLGRADE_COURSE", str(course))
    monkeypatch.setattr(sys, "argv", ["dlgrade", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def one_sentence_exit_2(code, out, err, *words):
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1, err
    assert all(w in err for w in words), err


@pytest.fixture
def submission(tmp_path):
    d = tmp_path / "sub" / "au1"
    d.mkdir(parents=True)
    (d / "toy.py").write_text((FIXTURE_COURSE / "solutions" / "week99" / "toy.py").read_text())
    return d


@pytest.mark.parametrize("args, words", [
    (("--timeout", "-1"), "--timeout must be a number of seconds"),
    (("--timeout", "0"), "--timeout"),
    (("--timeout", "nan"), "not nan"),
    (("--test-timeout", "inf"), "--test-timeout"),
    (("--submission-timeout", "1e9"), "--submission-timeout"),
    (("--memory-mb", "0"), "--memory-mb must be a whole number of MiB"),
    (("--output-kb", "-3"), "--output-kb"),
    (("-j", "0"), "--jobs"),
    (("--seed", "-1"), "--seed"),
    (("--id-pattern", "(?P<student>"), "not a valid regular expression"),
])
def test_bad_settings_on_the_command_line_stop_before_grading(monkeypatch, capsys, tmp_path, submission, args, words):
    out = tmp_path / "out"
    one_sentence_exit_2(*run_main(monkeypatch, capsys, "grade", "week99", submission, "-o", out, *args), words)
    assert not list(out.rglob("*.json"))


@pytest.mark.parametrize("line, words", [
    ("call_timeout_s = -5", "call_timeout_s must be a number of seconds"),
    ('memory_mb = "lots"', "memory_mb must be a whole number of MiB from 64, not 'lots'"),
    ("memory_mb = 2048.5", "memory_mb"),
    ("seed = 1.5", "seed must be a whole number"),
    ("jobs = true", "jobs"),
    ("test_timeout_s = nan", "test_timeout_s"),
    ("id_pattern = 3", "id_pattern must be a regular expression"),
    ("colour = 3", "unknown setting(s) colour"),
])
def test_bad_settings_in_dlgrade_toml_stop_before_grading(monkeypatch, capsys, tmp_path, submission, line, words):
    import shutil

    course = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, course)
    (course / "dlgrade.toml").write_text(f"[grading]\n{line}\n")
    code, out, err = run_main(monkeypatch, capsys, "grade", "week99", submission, "-o", tmp_path / "out",
                              course=course)
    one_sentence_exit_2(code, out, err, "dlgrade.toml", words)


@pytest.fixture
def read_only(tmp_path):
    """A folder nobody may write to, as root too (immutable where chattr works); skipped where none can be made."""
    d = tmp_path / "read-only"
    d.mkdir()
    d.chmod(0o555)
    immutable = False
    if os.access(d, os.W_OK):   # root: permission bits do not bind
        immutable = subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode == 0 \
            if shutil_which("chattr") else False
    probe = d / "probe"
    try:
        probe.write_text("x")
        probe.unlink()
        writable = True
    except OSError:
        writable = False
    if writable:
        pytest.skip("no folder here is read-only for this user")
    yield d
    if immutable:
        subprocess.run(["chattr", "-i", str(d)], check=False)
    d.chmod(0o755)


def shutil_which(name):
    import shutil

    return shutil.which(name)


def test_grade_output_that_is_a_file_or_read_only(monkeypatch, capsys, tmp_path, submission, read_only):
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    one_sentence_exit_2(*run_main(monkeypatch, capsys, "grade", "week99", submission, "-o", a_file),
                        "is a file, not a folder")
    one_sentence_exit_2(*run_main(monkeypatch, capsys, "grade", "week99", submission, "-o", read_only),
                        "Cannot write to", "give -o a folder you can write to")


def test_export_output_that_is_a_folder_or_read_only(monkeypatch, capsys, tmp_path, read_only):
    results = tmp_path / "out" / "week99"
    results.mkdir(parents=True)
    (results / "au1.json").write_text(json.dumps({
        "schema": "dlgrade.result/1", "student": "au1", "week": "week99", "score": 1.0, "max_score": 2.0,
        "status": "graded", "error": None, "tests": [], "submission_sha256": "x", "graded_at": "",
        "dlgrade_version": "0.1.0", "duration_s": 0.0}))
    folder = tmp_path / "exports"
    folder.mkdir()
    one_sentence_exit_2(*run_main(monkeypatch, capsys, "export", results, "-o", folder), "is a folder")
    assert list(folder.iterdir()) == []
    one_sentence_exit_2(*run_main(monkeypatch, capsys, "export", results, "-o", read_only / "g.csv"),
                        "Cannot write to")


def test_submit_output_that_is_a_folder_or_read_only_leaves_nothing(monkeypatch, capsys, tmp_path, submission,
                                                                     read_only):
    folder = tmp_path / "zips"
    folder.mkdir()
    one_sentence_exit_2(*run_main(monkeypatch, capsys, "submit", "week99", submission, "--student", "au1",
                                  "-o", folder), "is a folder", "week99-au1.zip")
    assert list(folder.iterdir()) == [] and not list(tmp_path.glob("*.tmp"))
    one_sentence_exit_2(*run_main(monkeypatch, capsys, "submit", "week99", submission, "--student", "au1",
                                  "-o", read_only / "w.zip"), "Cannot write to")
    code, out, _ = run_main(monkeypatch, capsys, "submit", "week99", submission, "--student", "au1",
                            "-o", folder / "w.zip")
    assert code == 0 and [p.name for p in folder.iterdir()] == ["w.zip"]       # no .tmp beside it


def test_submit_accepts_the_notebook_that_check_accepts(monkeypatch, capsys, tmp_path):
    source = (FIXTURE_COURSE / "solutions" / "week99" / "toy.py").read_text()
    nb = tmp_path / "My week 99.ipynb"
    nb.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": source},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "print(add(1, 2))\n"},
    ]}))
    code, out, err = run_main(monkeypatch, capsys, "check", "week99", nb)
    assert code == 0, out + err
    zipped = tmp_path / "w.zip"
    code, out, err = run_main(monkeypatch, capsys, "submit", "week99", nb, "--student", "au1", "-o", zipped)
    assert code == 0, out + err
    assert "converted from notebook" in err                       # intake's notes are shown as warnings
    with zipfile.ZipFile(zipped) as z:
        assert sorted(z.namelist()) == ["My week 99.ipynb", "manifest.json", "toy.py"]   # the notebook, and
        assert z.read("My week 99.ipynb") == nb.read_bytes()                               # its module form
        packed = z.read("toy.py").decode()
    assert "def add" in packed and "print(add" not in packed      # the module check ran, not the notebook's work
    code, out, err = run_main(monkeypatch, capsys, "check", "week99", zipped)
    assert code == 0, out + err                                   # and what was packed passes check too
