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
    assert list(rows[0]) == ["student", "score", "max_score", "status", *week.functions]
    assert len(rows) == len(EXPECTED) == len({r["student"] for r in rows})
    for r in rows:
        assert abs(sum(float(r[f]) for f in week.functions) - float(r["score"])) < 1e-9


def test_rerun_skips_graded_and_force_regrades(sample_out, tmp_path):
    folder, _ = sample_out
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("au*.json")}
    again = api.grade(week="week04", submissions=[SAMPLES], out_dir=folder.parent, jobs=2, course=COURSE)
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
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(kill_after + random.random() * 0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name for p in (out / "week04").glob("au*.json")} if (out / "week04").exists() else set()
    for p in done_before:  # whatever was written is whole, never half a file
        json.loads((out / "week04" / p).read_text())
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"already graded {len(done_before)}" in rerun.stdout
    results = [json.loads(p.read_text()) for p in (out / "week04").glob("au*.json")]
    assert sorted(r["student"] for r in results) == sorted(f"au{300000 + i}" for i in range(12))
    assert all(r["score"] == r["max_score"] == 30.0 for r in results)
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
    packed, _ = api.submit(week="week04", path=folder, student="au400003", output=tmp_path / "s.zip", course=COURSE)
    out = tmp_path / "out"
    api.grade(week="week04", submissions=[bulk, packed], out_dir=out, jobs=1, course=COURSE)
    scores = {p.stem: json.loads(p.read_text())["score"] for p in (out / "week04").glob("au*.json")}
    assert scores == {"au400001": 30.0, "au400002": 0.0, "au400003": 30.0}


def test_broken_archive_costs_only_itself(tmp_path):
    subs = small_class(tmp_path / "subs", 2)
    (subs / "au300009.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (subs / "au300010.ipynb").write_text("{ not json")
    out = tmp_path / "out"
    summary = api.grade(week="week04", submissions=[subs], out_dir=out, jobs=2, course=COURSE)
    assert summary.graded == 2 and summary.not_gradable == 2
    bad = json.loads((out / "week04" / "au300010.json").read_text())
    assert bad["status"] == "not_gradable" and "notebook" in bad["error"]
