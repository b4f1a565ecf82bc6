"""otter-grader: `dlgrade export otter` writes tests and an autograder zip; `otter run` scores like `dlgrade grade`.

Two `otter run`s (about 8 s each plus dlgrade's grading): the reference as a
notebook, and a notebook with a wrong gradient_magnitude whose kernel code
also makes every test case pass in the kernel. dlgrade's plugin decides both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from support import ROOT, by_function

pytest.importorskip("otter")
nbformat = pytest.importorskip("nbformat")

VENV_BIN = str(Path(sys.executable).parent)
ENV = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "CI": "true"}
WRONG = '''

def gradient_magnitude(gx, gy):
    return gx * gx + gy * gy
'''
# run in otter's kernel after the student's definitions: every test case of the kernel "passes"
CHEAT = 'exec("import grader.integrations.otter as o; o.check = lambda *args: None")\n'


def notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Week 4: convolution"),
                                         *map(nbformat.v4.new_code_cell, cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, env=ENV, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=600)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("otter") / "week04-otter"
    proc = run(sys.executable, "-m", "grader.cli", "export", "otter", "week04", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def graded(exported, tmp_path_factory):
    work = tmp_path_factory.mktemp("otter-run")
    source = (ROOT / "solutions" / "week04" / "conv.py").read_text()
    books = {"correct": notebook(work / "au300001.ipynb", source),
             "wrong": notebook(work / "au300002.ipynb", source + WRONG, CHEAT)}
    proc = run(sys.executable, "-m", "grader.cli", "grade", "week04", *map(str, books.values()), "-o",
               str(work / "out"), "-j", "1")
    assert proc.returncode == 0, proc.stderr
    ours = {k: json.loads((work / "out" / "week04" / f"{p.stem}.json").read_text()) for k, p in books.items()}
    theirs = {}
    for k, p in books.items():
        (work / k).mkdir()
        proc = run(str(Path(VENV_BIN) / "otter"), "run", str(p), "-a", str(exported / "autograder.zip"),
                   "-o", str(work / k), "--no-logo")
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        theirs[k] = json.loads((work / k / "results.json").read_text())
    return {"dlgrade": ours, "otter": theirs, "books": books}


def otter_by_function(results: dict) -> dict[str, tuple[float, float]]:
    return {t["name"]: (float(t["score"]), float(t["max_score"])) for t in results["tests"]
            if t.get("max_score") is not None}


def test_export_writes_one_test_file_per_function(exported):
    from otter.test_files import ExceptionTestFile

    from grader.course import Course

    week = Course(ROOT).week("week04")
    files = sorted((exported / "tests").glob("*.py"))
    assert [p.stem for p in files] == sorted(week.functions)
    total = 0.0
    for p in files:
        text = p.read_text()
        assert "OK_FORMAT = False" in text and "from otter.test_files import test_case" in text
        tf = ExceptionTestFile.from_file(str(p))
        assert tf.name == p.stem and tf.test_cases
        assert any(tc.hidden for tc in tf.test_cases) and any(not tc.hidden for tc in tf.test_cases)
        total += sum(tc.points for tc in tf.test_cases)
    assert total == 30.0
    with zipfile.ZipFile(exported / "autograder.zip") as z:
        names = set(z.namelist())
        config = json.loads(z.read("otter_config.json"))
    assert {"run_autograder", "setup.sh", "otter_config.json", "tests/conv2d_forward.py",
            "files/dlgrade_course/autograder_data/week04/test_hidden.py",
            "files/dlgrade_course/solutions/week04/conv.py"} <= names
    assert config["plugins"] == [{"grader.integrations.otter.DlgradePlugin": {"week": "week04"}}]
    assert "dlgrade==" in (exported / "requirements.txt").read_text()


def test_otter_run_scores_like_dlgrade_grade(graded):
    for k in ("correct", "wrong"):
        ours, theirs = graded["dlgrade"][k], graded["otter"][k]
        assert otter_by_function(theirs) == by_function(ours), k
        assert sum(s for s, _ in otter_by_function(theirs).values()) == ours["score"]
    assert graded["dlgrade"]["correct"]["score"] == 30.0
    assert graded["dlgrade"]["wrong"]["score"] == 27.0      # gradient_magnitude lost, the kernel's cheat gained nothing


def test_otter_feedback_is_dlgrades(graded):
    [magnitude] = [t for t in graded["otter"]["wrong"]["tests"] if t["name"] == "gradient_magnitude"]
    assert "Hint: the square root is missing" in magnitude["output"]
    assert magnitude["visibility"] == "hidden"


def test_test_case_grades_in_a_fresh_process(exported, graded, tmp_path, monkeypatch):
    """Without the plugin (and with no result cached), a test case grades the notebook through dlgrade itself."""
    from otter.test_files import ExceptionTestFile

    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(graded["books"]["wrong"], folder)
    shutil.copytree(exported / "dlgrade_course", folder / "dlgrade_course")
    monkeypatch.chdir(folder)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))      # an empty cache
    tf = ExceptionTestFile.from_file(str(exported / "tests" / "gradient_magnitude.py"))
    tf.run({})
    assert tf.test_case_results and not any(r.passed for r in tf.test_case_results)
    assert "the square root is missing" in tf.test_case_results[0].message
    assert list(tmp_path.glob("dlgrade-otter-*.json"))             # graded once, kept for the other cases
    tf = ExceptionTestFile.from_file(str(exported / "tests" / "sobel.py"))
    tf.run({})
    assert all(r.passed for r in tf.test_case_results)


def test_export_needs_a_new_folder(exported):
    proc = run(sys.executable, "-m", "grader.cli", "export", "otter", "week04", "-o", str(exported))
    assert proc.returncode == 2 and "already exists" in proc.stderr and "Traceback" not in proc.stderr


def test_kernel_cannot_rewrite_the_test_files_the_plugin_reads(exported, tmp_path, monkeypatch):
    """The kernel runs between before_grading and after_grading, as the same user: test files it rewrites
    (here, every test case worth 100 points) must not reach the grade."""
    from otter.test_files import GradingResults

    from grader.integrations import otter as plugin_module

    shutil.copytree(exported / "tests", tmp_path / "source" / "tests")
    (tmp_path / "submission").mkdir()
    book = notebook(tmp_path / "submission" / "au300003.ipynb", "x = 1")
    outline = [t for p in sorted(exported.glob("tests/*.py")) for t in _cases(p)]
    result = {"status": "graded", "tests": [{"name": n, "status": "passed", "message": ""} for n, _ in outline]}
    monkeypatch.setattr(plugin_module, "graded", lambda *args, **kwargs: result)
    plugin = plugin_module.DlgradePlugin(str(book), {}, {"week": "week04"})
    plugin.before_grading(None)
    for p in (tmp_path / "source" / "tests").glob("*.py"):          # what the student's kernel does
        p.write_text(re.sub(r"points=[0-9.]+", "points=100.0", p.read_text()))
    results = GradingResults.__new__(GradingResults)
    plugin.after_grading(results)
    total = sum(r.test_case.points for tf in results.results.values() for r in tf.test_case_results)
    assert total == sum(points for _, points in outline) == 30.0


def _cases(path: Path) -> list[tuple[str, float]]:
    from otter.test_files import ExceptionTestFile

    return [(tc.name, tc.points) for tc in ExceptionTestFile.from_file(str(path)).test_cases]
