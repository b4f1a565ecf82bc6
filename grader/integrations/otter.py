"""otter-grader 7: a week as otter test files and an autograder zip, graded by dlgrade's sandbox.

`export` writes, in one folder:

    tests/<function>.py   one exception-based otter test file per function, one test case per dlgrade
                          test with that test's points and visibility
    dlgrade_course/       the week's data, reference and settings (a support file of the autograder)
    otter_config.json     names `DlgradePlugin`, the otter plugin that decides the grade
    requirements.txt      CPU PyTorch and dlgrade, for the grading image
    autograder.zip        made by otter's own `otter generate` from the above

otter executes a student's notebook in a Jupyter kernel and runs the test
cases there, in the student's own process. So nothing of the grade is decided
there: `DlgradePlugin`, which otter runs in its grading process, grades the
notebook with dlgrade (intake and sandboxed workers, as `dlgrade grade`) before
the kernel starts, and after the kernel is done replaces every test case's
outcome with dlgrade's. Each test case in the kernel only reports dlgrade's
verdict (from the plugin's result, or by grading in a fresh process of its
own where otter runs without the plugin), so `grader.check` and `otter run`
show the same messages, and what the student's code fakes in the kernel (its
verdicts, the test files) does not count. The kernel still runs as the same
user as otter (see docs/otter.md for what that leaves open).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..course import Week
from ..errors import UserError

try:
    from otter.plugins import AbstractOtterPlugin
except ImportError:  # the plugin is only ever loaded by otter, where otter is installed
    AbstractOtterPlugin = object

COURSE_DIR = "dlgrade_course"
PLUGIN = "grader.integrations.otter.DlgradePlugin"

TEST_FILE = '''"""{function}: graded by dlgrade in its sandbox; this file only reports dlgrade's verdict."""
OK_FORMAT = False

from otter.test_files import test_case

name = {function!r}
'''

TEST_CASE = '''

@test_case(name={name!r}, points={points!r}, hidden={hidden!r})
def test_{n}():
    from grader.integrations.otter import check
    check({week!r}, {name!r})
'''


# --------------------------------------------------------------------------- export

def export(*, week: Week, out_dir: Path, weak_sandbox: bool = False) -> Path:
    """Write otter's test files, support files and autograder zip for `week` into `out_dir`; returns the zip."""
    from .. import __version__
    from ..api import _writable_folder
    from .gradescope import _torch_pins, TORCH_INDEX, pack_course, suite_outline

    try:
        import otter  # noqa: F401
    except ImportError:
        raise UserError("Exporting to otter-grader needs otter-grader: install dlgrade[otter].") from None
    out_dir = Path(out_dir)
    _writable_folder(out_dir, "-o")
    for old in (out_dir / "tests", out_dir / COURSE_DIR):
        if old.exists():
            raise UserError(f"{old} already exists; give -o a new or empty folder.")
    tests = suite_outline(week, weak_sandbox=weak_sandbox)
    (out_dir / "tests").mkdir()
    for function in dict.fromkeys(t["function"] for t in tests):
        (out_dir / "tests" / f"{function}.py").write_text(test_file(week.name, function, tests))
    pack_course(week, out_dir / COURSE_DIR, weak_sandbox=weak_sandbox)
    (out_dir / "otter_config.json").write_text(json.dumps(
        {"lang": "python", "plugins": [{PLUGIN: {"week": week.name}}]}, indent=1))
    (out_dir / "requirements.txt").write_text(
        f"--extra-index-url {TORCH_INDEX}\n" + "\n".join(_torch_pins().split()) + f"\ndlgrade=={__version__}\n")
    proc = subprocess.run([sys.executable, "-m", "otter", "generate", "-t", "tests", "-o", "autograder.zip",
                           "-c", "otter_config.json", "-r", "requirements.txt", COURSE_DIR],
                          cwd=out_dir, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no message"]
        raise UserError(f"`otter generate` failed ({tail[0]}); check that otter-grader 7 is installed.")
    return out_dir / "autograder.zip"


def test_file(week: str, function: str, tests: list[dict]) -> str:
    """One otter test file: a test case per dlgrade test of `function`, with its points and visibility."""
    text = TEST_FILE.format(function=function)
    for n, t in enumerate((t for t in tests if t["function"] == function), 1):
        text += TEST_CASE.format(name=t["name"], points=float(t["max_score"]), hidden=t["visibility"] != "public",
                                 n=n, week=week)
    return text


# --------------------------------------------------------------------------- grading

def check(week: str, test: str) -> None:
    """Called by each test case in otter's kernel: raise AssertionError with dlgrade's message unless `test` passed."""
    here = Path.cwd()
    result = graded(here / COURSE_DIR, week, submission_file(here))
    if result.get("status") != "graded":
        raise AssertionError(f"not graded: {result.get('error')}")
    t = next((t for t in result["tests"] if t["name"] == test), None)
    if t is None:
        raise AssertionError(f"dlgrade has no test named {test!r}; export the otter autograder again")
    if t["status"] != "passed":
        raise AssertionError(f"{t['status']}: {t['message']}")


def submission_file(folder: Path) -> Path:
    """The notebook (else the one .py file) otter grades in `folder`, found as otter finds it."""
    notebooks = sorted(folder.glob("*.ipynb"))
    scripts = sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")
    found = notebooks or scripts
    if len(found) != 1:
        raise AssertionError(f"expected one notebook or one .py file to grade in {folder}, found {len(found)}")
    return found[0]


def graded(course_dir: Path, week: str, submission: Path, *, cached: bool = True) -> dict:
    """dlgrade's result for `submission`, graded in a fresh process and kept in a cache by content.

    cached=False grades even when the cache holds a result: what the plugin does, since a
    student's kernel could have written there.
    """
    cache = _cache_path(course_dir, week, submission)
    if cached:
        try:
            return json.loads(cache.read_text())
        except (OSError, ValueError):
            pass
    fd, tmp = tempfile.mkstemp(prefix="dlgrade-otter-", suffix=".json")
    os.close(fd)
    try:
        # -I and a bare environment: nothing the kernel's student code set (PYTHONPATH, sys.path) reaches it
        proc = subprocess.run([sys.executable, "-I", "-m", "grader.integrations.otter", str(course_dir), week,
                               str(submission), tmp], env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            raise RuntimeError(f"dlgrade could not grade {submission.name}: {tail[0]}")
        result = json.loads(Path(tmp).read_text())
    finally:
        Path(tmp).unlink(missing_ok=True)
    _store(cache, result)
    return result


def _cache_path(course_dir: Path, week: str, submission: Path) -> Path:
    from ..batch import _tree_sha256

    h = hashlib.sha256(submission.read_bytes())
    h.update(f"\0{week}\0{_tree_sha256(course_dir)}".encode())
    return Path(tempfile.gettempdir()) / f"dlgrade-otter-{h.hexdigest()[:32]}.json"


def _store(cache: Path, result: dict) -> None:
    from ..gradebook import atomic_write_text

    try:
        atomic_write_text(cache, json.dumps(result))
    except OSError:
        pass  # no cache: a later test case grades again, with the same result


class DlgradePlugin(AbstractOtterPlugin):
    """otter plugin, run in otter's grading process: dlgrade decides every test case's outcome.

    before_grading grades the submission and reads the autograder's own tests/
    (both before the student's kernel starts, since the kernel can rewrite any
    file) and leaves the result where the kernel's test cases find it;
    after_grading sets each test case of those test files from that result,
    discarding whatever the kernel reported.
    """

    def before_grading(self, config) -> None:
        from otter.test_files import ExceptionTestFile

        self.source = Path(self.submission_path).resolve().parent.parent / "source"
        self.test_files = [ExceptionTestFile.from_file(str(p)) for p in sorted((self.source / "tests").glob("*.py"))]
        week = self.plugin_config["week"]
        self.result = graded(self.source / "files" / COURSE_DIR, week, Path(self.submission_path), cached=False)
        # the kernel looks the result up under its own copy of the course; the two copies are the same files
        _store(_cache_path(Path(self.submission_path).parent / COURSE_DIR, week, Path(self.submission_path)),
               self.result)

    def after_grading(self, results) -> None:
        from otter.test_files.abstract_test import TestCaseResult

        by_name = {t["name"]: t for t in self.result.get("tests", [])}
        files = {}
        for tf in self.test_files:
            tf.all_or_nothing = False
            tf.test_case_results = []
            for tc in tf.test_cases:
                t = by_name.get(tc.name)
                passed = self.result.get("status") == "graded" and t is not None and t["status"] == "passed"
                if passed:
                    message = "✅ Test case passed"
                elif t is None:
                    message = f"❌ not graded: {self.result.get('error') or 'dlgrade has no such test'}"
                else:
                    message = f"❌ {t['status']}: {t['message']}"
                tf.test_case_results.append(TestCaseResult(test_case=tc, message=message, passed=passed))
            files[tf.name] = tf
        results.results = files


def main(argv: list[str] | None = None) -> int:
    """`python -I -m grader.integrations.otter COURSE WEEK SUBMISSION OUT`: grade one file, write its result JSON."""
    from ..gradebook import atomic_write_text
    from .gradescope import grade_one

    course_dir, week, submission, out = (argv if argv is not None else sys.argv[1:])
    result = grade_one(Path(course_dir), week, Path(submission))
    atomic_write_text(Path(out), json.dumps(result))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
