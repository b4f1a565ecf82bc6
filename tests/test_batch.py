"""Batch grading end to end: the sample class, resuming, crash safety, intake forms.

The sample class (autograder_data/samples/week04/, EXPECTED.toml beside it)
is graded through `dlgrade grade` exactly as README's first command does.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from support import ROOT, by_function, lost
from grader import api
from grader.course import Course

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SAMPLES = ROOT / "autograder_data" / "samples" / "week04"
EXPECTED = tomllib.loads((SAMPLES / "EXPECTED.toml").read_text())
COURSE = Course(ROOT)


def student_of(entry: str) -> str:
    return entry.rstrip("/").split(".")[0]


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    summary = api.grade(week="week04", submissions=[SAMPLES], out_dir=out, jobs=2, timeout=3.0, course=COURSE)
    return out / "week04", summary


def test_every_sample_is_graded_once(sample_out):
    folder, summary = sample_out
    students = sorted(p.stem for p in folder.glob("au*.json"))
    assert students == sorted(student_of(e) for e in EXPECTED)
    assert summary.graded + summary.not_gradable == len(EXPECTED)


@pytest.mark.parametrize("entry", sorted(EXPECTED))
def test_sample_scores_as_expected(sample_out, entry):
    folder, _ = sample_out
    exp = EXPECTED[entry]
    result = json.loads((folder / f"{student_of(entry)}.json").read_text())
    if not exp["gradable"]:
        assert result["status"] == "not_gradable" and result["error"] and result["score"] == 0
        assert len(result["error"].splitlines()) == 1
        return
    assert result["status"] == "graded", result["error"]
    assert lost(result) == set(exp["broken_functions"]), (exp["note"], by_function(result))


def test_gradebook_columns_and_sums(sample_out):
    folder, _ = sample_out
    rows = list(csv.DictReader((folder / "gradebook.csv").open()))
    week = COURSE.week("week04")
    assert list(rows[0]) == ["student", "score", "max_score", "status", *week.functions, "review"]
    assert len(rows) == len(EXPECTED) == len({r["student"] for r in rows})
    for r in rows:
        if r["status"] != "graded":      # no grade at all, never a 0
            assert r["score"] == "" and all(r[f] == "" for f in week.functions), r
            continue
        assert abs(sum(float(r[f]) for f in week.functions) - float(r["score"])) < 1e-9
    unreadable = {student_of(e) for e, exp in EXPECTED.items() if not exp["gradable"]}
    assert unreadable and {r["student"] for r in rows if r["status"] == "not_gradable"} == unreadable


def test_rerun_skips_graded_and_force_regrades(sample_out, tmp_path):
    folder, _ = sample_out
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("au*.json")}
    again = api.grade(week="week04", submissions=[SAMPLES], out_dir=folder.parent, jobs=2, timeout=3.0,
                      course=COURSE)
    assert again.graded == 0 and again.skipped == len(EXPECTED) - 2  # the two unreadable ones are retried
    after = {p.name: p.stat().st_mtime_ns for p in folder.glob("au*.json")}
    assert all(before[k] == after[k] for k in before if k not in ("au100033.json", "au100034.json"))


def test_reports_and_exports_from_the_batch(sample_out, tmp_path):
    folder, _ = sample_out
    html = api.report(path=folder, fmt="html")
    assert "<svg" in html and "au100033" in html
    n = api.export(path=folder, fmt="brightspace", output=tmp_path / "b.csv", item="Week 4")
    text = (tmp_path / "b.csv").read_text().splitlines()
    assert n == len(EXPECTED) and text[0] == "OrgDefinedId,Week 4 Points Grade,End-of-Line Indicator"
    unreadable = sorted(student_of(e) for e, exp in EXPECTED.items() if not exp["gradable"])
    assert [line for line in text if line.endswith(",,#")] == [f"{s},,#" for s in unreadable]   # blank, not 0
    api.export(path=folder, fmt="csv", output=tmp_path / "p.csv")
    plain = {r["student"]: r for r in csv.DictReader((tmp_path / "p.csv").open())}
    assert all(plain[s]["score"] == plain[s]["percent"] == "" for s in unreadable)


def test_summary_names_the_not_gradable(sample_out):
    _, summary = sample_out
    unreadable = sorted(student_of(e) for e, exp in EXPECTED.items() if not exp["gradable"])
    assert [s for s, _ in summary.not_gradable_students] == unreadable
    text = str(summary)
    assert all(f"  {s}: " in text for s in unreadable), text


def small_class(dest: Path, n: int) -> Path:
    ref = COURSE.week("week04").solution_file
    for i in range(n):
        d = dest / f"au{300000 + i}"
        d.mkdir(parents=True)
        shutil.copy(ref, d / "conv.py")
    return dest


@pytest.mark.parametrize("kill_after", [0.3, 2.5, 4.5])
def test_kill_minus_nine_then_rerun_grades_everyone_once(tmp_path, kill_after):
    subs = small_class(tmp_path / "subs", 12)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "grader.cli", "grade", "week04", str(subs), "-o", str(out), "-j", "2"]
    tmp = tmp_path / "tmp"          # the temporary folder of both runs, to see what the killed one left there
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    time.sleep(kill_after + random.random() * 0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name for p in (out / "week04").glob("au*.json")} if (out / "week04").exists() else set()
    for p in done_before:  # whatever was written is whole, never half a file
        json.loads((out / "week04" / p).read_text())
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert not list(tmp.glob("dlgrade-intake-*")), list(tmp.iterdir())   # the killed run's copies are gone
    assert f"already graded {len(done_before)}" in rerun.stdout
    results = [json.loads(p.read_text()) for p in (out / "week04").glob("au*.json")]
    assert sorted(r["student"] for r in results) == sorted(f"au{300000 + i}" for i in range(12))
    assert all(r["score"] == r["max_score"] > 0 for r in results)
    rows = list(csv.DictReader((out / "week04" / "gradebook.csv").open()))
    assert sorted(r["student"] for r in rows) == sorted(r["student"] for r in results)


def test_lms_bulk_download_and_submit_zip(tmp_path):
    ref = COURSE.week("week04").solution_file.read_text()
    stub = COURSE.week("week04").stub_file.read_text()
    bulk = tmp_path / "bulk.zip"
    with zipfile.ZipFile(bulk, "w") as z:
        z.writestr("123-456 - au400001 - Ada Lovelace - Nov 3, 2026 1052 AM - conv.py", ref)
        z.writestr("123-457 - au400002 - Alan Turing - Nov 3, 2026 1101 AM - conv.py", stub)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "conv.py").write_text(ref)
    packed, _ = api.submit(week="week04", path=folder, student="au400003", output=tmp_path / "week04-au400003.zip",
                           course=COURSE)
    out = tmp_path / "out"
    api.grade(week="week04", submissions=[bulk, packed], out_dir=out, jobs=1, course=COURSE)
    results = {p.stem: json.loads(p.read_text()) for p in (out / "week04").glob("au*.json")}
    full = results["au400001"]["max_score"]
    assert {k: r["score"] for k, r in results.items()} == {"au400001": full, "au400002": 0.0, "au400003": full}


def test_broken_archive_costs_only_itself(tmp_path):
    subs = small_class(tmp_path / "subs", 2)
    (subs / "au300009.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (subs / "au300010.ipynb").write_text("{ not json")
    out = tmp_path / "out"
    summary = api.grade(week="week04", submissions=[subs], out_dir=out, jobs=2, course=COURSE)
    assert summary.graded == 2 and summary.not_gradable == 2
    bad = json.loads((out / "week04" / "au300010.json").read_text())
    assert bad["status"] == "not_gradable" and "notebook" in bad["error"]


# --------------------------------------------------------------------------- one submission never costs another

def killer_class(dest: Path) -> tuple[Path, dict[str, str]]:
    """Three honest students and four submissions that each break the trusted process in their own way.

    Returns the folder and {student: what must be in its error} for the ones that cannot be graded.
    """
    ref = COURSE.week("week04").solution_file.read_text()
    small_class(dest, 3)
    deep = "\n\nBIG = " + " + ".join(["1"] * 5000) + "\n"        # the ban scan's ast.parse raises RecursionError
    (dest / "au300100").mkdir()
    (dest / "au300100" / "conv.py").write_text(ref + deep)
    cells = [ref, "SCALE = " + " + ".join(["1"] * 1200) + "\n"]    # the notebook converter would recurse
    (dest / "au300101.ipynb").write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": c}
                  for c in cells]}))
    for student in ("au300102", "au300103"):                     # broken by the monkeypatch in the test
        (dest / student).mkdir()
        (dest / student / "conv.py").write_text(ref)
    return dest, {"au300100": "RecursionError", "au300102": "KeyError", "au300103": "grader process died"}


@pytest.fixture
def fragile_grader(monkeypatch):
    """au300102 raises KeyError in the trusted process; au300103 kills its grader process outright."""
    from grader.plugin import GradingPlugin

    real = GradingPlugin.grade

    def grade(self, target):
        if target.student == "au300102":
            raise KeyError("value")
        if target.student == "au300103":
            os._exit(3)
        return real(self, target)

    monkeypatch.setattr(GradingPlugin, "grade", grade)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_submission_that_breaks_the_grader_costs_only_itself(tmp_path, fragile_grader, jobs):
    subs, broken = killer_class(tmp_path / "subs")
    out = tmp_path / "out"
    summary = api.grade(week="week04", submissions=[subs], out_dir=out, jobs=jobs, course=COURSE)
    results = {p.stem: json.loads(p.read_text()) for p in (out / "week04").glob("au*.json")}
    assert sorted(results) == sorted(["au300000", "au300001", "au300002", "au300101", *broken])
    for student in ("au300000", "au300001", "au300002", "au300101"):     # the victims keep their grade
        r = results[student]
        assert r["status"] == "graded" and r["score"] == r["max_score"] > 0, r
    assert any("nested too deeply" in n for n in results["au300101"]["notes"])
    deep = results.pop("au300100")
    if deep["status"] == "graded":     # a scan that reads deep code itself; the worker cannot import it either
        assert deep["score"] == 0.0, deep
        del broken["au300100"]
    for student, words in broken.items():
        r = results[student] if student != "au300100" else deep
        assert r["status"] == "not_gradable" and words in r["error"], r
        assert len(r["error"].splitlines()) == 1 and r["submission_sha256"] == ""   # retried on a rerun
    assert summary.graded == 7 - len(broken) and summary.not_gradable == len(broken) and summary.missing == []
    assert all(s in str(summary) for s in broken)
    results["au300100"] = deep
    rows = {r["student"]: r for r in csv.DictReader((out / "week04" / "gradebook.csv").open())}
    assert rows["au300000"]["score"] == rows["au300000"]["max_score"] and set(rows) == set(results)


def test_grade_names_missing_results_and_exits_non_zero(tmp_path, monkeypatch):
    """If results are fewer than submissions (here: a grader that drops one), grade says who and exits 2."""
    from grader import batch

    subs = small_class(tmp_path / "subs", 2)
    real = batch._run_jobs

    def lossy(week, todo, *a, **kw):
        yield from (r for r in real(week, todo, *a, **kw) if r["student"] != "au300001")

    monkeypatch.setattr(batch, "_run_jobs", lossy)
    summary = api.grade(week="week04", submissions=[subs], out_dir=tmp_path / "out", jobs=1, course=COURSE)
    assert summary.missing == ["au300001"] and not summary.complete
    assert "no result (1): au300001" in str(summary)

    from click.testing import CliRunner
    from grader.cli import cli

    monkeypatch.setenv("DLGRADE_COURSE", str(ROOT))
    res = CliRunner().invoke(cli, ["grade", "week04", str(subs), "-o", str(tmp_path / "out2"), "-j", "1"])
    assert res.exit_code == 2, res.output
    assert "au300001" in res.output and "Traceback" not in res.output


def test_malformed_hello_reply_is_an_import_error_not_a_crash():
    """A worker whose reply to "hello" lacks "value" (or is no dict) costs that submission its tests, nothing more."""
    from grader.errors import StudentImportError
    from grader.proxy import Session, StudentModule

    class Worker:
        alive = True

        def __init__(self, reply):
            self.reply = reply

        def request(self, req, timeout=None):
            return self.reply

        def kill(self, wait=True):
            self.alive = False

    class Sandbox:
        def __init__(self, reply):
            self.reply = reply

        def spawn(self, *a, **kw):
            return Worker(self.reply)

    week = COURSE.week("week04")
    for reply in ({"ok": True}, {"ok": True, "value": ["conv2d_forward"]}, {"value": {}}, ["ok"], None):
        session = Session(Sandbox(reply), Path("."), week, seed=0, device="cpu")
        session.probe()
        assert session.import_error and "conv.py" in session.import_error, reply
        with pytest.raises(StudentImportError):
            StudentModule(session).conv2d_forward(1)


def test_a_rerun_regrades_when_what_a_grade_depends_on_changed(tmp_path, monkeypatch):
    """Seed, suites, reference, limits and dlgrade version are recorded; any change regrades, nothing else does."""
    import grader
    from support import FIXTURE_COURSE

    course_dir = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, course_dir)
    course = Course(course_dir)
    week = course.week("week99")
    subs = tmp_path / "subs"
    for student in ("au1", "au2"):
        (subs / student).mkdir(parents=True)
        shutil.copy(week.solution_file, subs / student / "toy.py")
    out = tmp_path / "out"

    def rerun(**kw) -> int:
        s = api.grade(week="week99", submissions=[subs], out_dir=out, jobs=1, course=course, **kw)
        assert s.graded + s.skipped == 2 and not s.missing
        return s.graded

    assert rerun() == 2
    under = json.loads((out / "week99" / "au1.json").read_text())["graded_under"]
    assert set(under) == {"seed", "suites_sha256", "reference_sha256", "limits", "device", "dlgrade_version"}
    assert under["seed"] == 0 and under["limits"]["call_timeout_s"] == 20.0 and len(under["suites_sha256"]) == 64
    assert rerun() == 0                                            # nothing changed: nothing regraded
    assert rerun(seed=7) == 2 and rerun(seed=7) == 0
    assert rerun(seed=7, timeout=5.0) == 2 and rerun(seed=7, timeout=5.0) == 0
    with (week.data_dir / "test_hidden.py").open("a") as f:
        f.write("\n# a fixed suite\n")
    assert rerun(seed=7, timeout=5.0) == 2
    with week.solution_file.open("a") as f:
        f.write("\n# a fixed reference\n")
    assert rerun(seed=7, timeout=5.0) == 2
    monkeypatch.setattr(grader, "__version__", "9.9.9")
    assert rerun(seed=7, timeout=5.0) == 2 and rerun(seed=7, timeout=5.0) == 0


def test_leftover_intake_folders_of_dead_runs_are_removed_and_nothing_else(tmp_path):
    from grader.intake.scratch import remove_leftovers

    dead = subprocess.Popen(["true"])
    dead.wait()
    tmp = tmp_path / "tmp"
    leftover = tmp / f"dlgrade-intake-{dead.pid}-k3x_9q"
    (leftover / "intake-1" / "students" / "au1").mkdir(parents=True)
    (leftover / "intake-1" / "students" / "au1" / "conv.py").write_text("# a student's code\n")
    running = tmp / f"dlgrade-intake-{os.getpid()}-abc"      # a run still going
    running.mkdir()
    outside = tmp_path / "keep"
    outside.mkdir()
    (outside / "precious.txt").write_text("x")
    (tmp / f"dlgrade-intake-{dead.pid}-link").symlink_to(outside, target_is_directory=True)
    (leftover / "intake-1" / "link").symlink_to(outside, target_is_directory=True)
    others = [tmp / f"dlgrade-run-{dead.pid}", tmp / f"mine-{dead.pid}-x", tmp / "dlgrade-intake-x"]
    for d in others:
        d.mkdir()
    assert remove_leftovers(tmp) == [leftover]
    assert not leftover.exists() and running.is_dir() and all(d.is_dir() for d in others)
    assert (outside / "precious.txt").read_text() == "x" and (tmp / f"dlgrade-intake-{dead.pid}-link").is_symlink()


def test_check_and_submit_clear_what_killed_runs_left(tmp_path, monkeypatch):
    """check and submit copy a student's files through intake too; they start by clearing dead runs' copies."""
    import tempfile

    dead = subprocess.Popen(["true"])
    dead.wait()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    leftover = tmp_path / f"dlgrade-intake-{dead.pid}-abc123"
    for run in (lambda: api.check(week="week04", path=COURSE.week("week04").solution_file.parent, course=COURSE),
                lambda: api.submit(week="week04", student="au1", output=tmp_path / "z" / "w.zip", course=COURSE,
                                   path=COURSE.week("week04").solution_file.parent)):
        (leftover / "students").mkdir(parents=True)
        run()
        assert not leftover.exists()
        assert not list(tmp_path.glob("dlgrade-intake-*"))            # and nothing of their own is left


def test_a_grader_failing_on_every_submission_alike_is_the_machinery_not_the_class(tmp_path, monkeypatch):
    from grader.errors import UserError
    from grader.plugin import GradingPlugin

    def broken(self, target):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(GradingPlugin, "grade", broken)
    subs = small_class(tmp_path / "subs", 3)
    with pytest.raises(UserError, match=r"failed on every submission the same way \(OSError.*not of the submissions"):
        api.grade(week="week04", submissions=[subs], out_dir=tmp_path / "out", jobs=2, course=COURSE)
    results = [json.loads(p.read_text()) for p in (tmp_path / "out" / "week04").glob("au*.json")]
    assert len(results) == 3 and all(r["submission_sha256"] == "" for r in results)   # a rerun grades them


def test_a_suite_that_does_not_load_stops_grade_with_exit_2(tmp_path, monkeypatch, capsys):
    from support import FIXTURE_COURSE

    from grader.cli import main

    course = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, course)
    (course / "autograder_data" / "week99" / "test_hidden.py").write_text("def test_x(:\n    pass\n")
    sub = tmp_path / "subs" / "au1"
    sub.mkdir(parents=True)
    shutil.copy(course / "solutions" / "week99" / "toy.py", sub / "toy.py")
    monkeypatch.setenv("DLGRADE_COURSE", str(course))
    monkeypatch.setattr(sys, "argv", ["dlgrade", "grade", "week99", str(sub.parent), "-o", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as e:
        main()
    err = capsys.readouterr().err
    assert e.value.code == 2 and "suite does not load" in err and "Traceback" not in err, err
    assert not list((tmp_path / "out").rglob("au1.json"))          # nobody was given a grade
