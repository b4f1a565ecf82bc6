"""What the class got wrong: failures as data, common mistakes, the student overview, slow code.

A small week04 class is graded once through the sandbox (the reference, the
stub and versions of the reference with one thing wrong in conv2d_forward);
the tests then read its results and the reports made from them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch

from grader import testing
from grader.course import Course
from grader.report import load_results, render_result, render_summary, summarize
from grader.result import timing
from grader.sandbox import Limits
from support import ROOT, grade_folders, make_submission, reference_source, wrong_versions

FLIPPED = "the kernel is flipped (that is convolution; F.conv2d computes cross-correlation)"

# Each variant appends a new conv2d_forward to the reference; the reference's stays as _conv_ok.
VARIANTS = {
    "mutates": "def conv2d_forward(x, w, b, stride=1, padding=0):\n"
               "    out = _conv_ok(x, w, b, stride, padding)\n"
               "    x.zero_()\n"
               "    return out\n",
    "shape": "def conv2d_forward(x, w, b, stride=1, padding=0):\n"
             "    return _conv_ok(x, w, b, stride, padding)[..., :-1]\n",
    "dtype": "def conv2d_forward(x, w, b, stride=1, padding=0):\n"
             "    return _conv_ok(x, w, b, stride, padding).to(torch.float16)\n",
    "raises": "def conv2d_forward(x, w, b, stride=1, padding=0):\n"
              "    return x[99]\n",
    # correct, but one scalar tensor operation per multiply-add: hundreds of times slower than the reference
    "slow": "def conv2d_forward(x, w, b, stride=1, padding=0):\n"
            "    sh, sw = _pair(stride)\n"
            "    ph, pw = _pair(padding)\n"
            "    N, C, H, W = x.shape\n"
            "    nf, _, KH, KW = w.shape\n"
            "    Ho, Wo = (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1\n"
            "    xp = F.pad(x, (pw, pw, ph, ph))\n"
            "    out = torch.empty(N, nf, Ho, Wo, dtype=x.dtype, device=x.device)\n"
            "    for n in range(N):\n"
            "        for f in range(nf):\n"
            "            for i in range(Ho):\n"
            "                for j in range(Wo):\n"
            "                    acc = b[f]\n"
            "                    for c in range(C):\n"
            "                        for u in range(KH):\n"
            "                            for v in range(KW):\n"
            "                                acc = acc + xp[n, c, i * sh + u, j * sw + v] * w[f, c, u, v]\n"
            "                    out[n, f, i, j] = acc\n"
            "    return out\n",
}


@pytest.fixture(scope="module")
def week():
    return Course(ROOT).week("week04")


@pytest.fixture(scope="module")
def graded(week, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("analytics")
    base = reference_source(week) + "\n\n_conv_ok = conv2d_forward\n\n\n"
    folders = {"reference": week.solution_file.parent, "stub": week.stub_file.parent,
               "flipped": make_submission(tmp, "flipped", wrong_versions(week)["flipped_kernel"][1], "conv")}
    for name, code in VARIANTS.items():
        folders[name] = make_submission(tmp, name, base + code, "conv")
    results = grade_folders(week, folders, limits=Limits(call_timeout_s=60.0))  # "slow" must not time out
    out = tmp / "out" / "week04"
    out.mkdir(parents=True)
    for student, r in results.items():
        (out / f"{student}.json").write_text(json.dumps(r))
    return results, out, base


def _failures(result, function="conv2d_forward"):
    return [t for t in result["tests"] if t["function"] == function and t["status"] != "passed"]


# ------------------------------------------------------------------ failures as data
def test_each_failure_says_its_kind_and_mistake(graded):
    results, _, _ = graded
    assert not any(_failures(results["reference"]))
    kinds = {name: {t["kind"] for t in _failures(results[name])} for name in ("mutates", "shape", "dtype", "raises")}
    assert kinds == {"mutates": {"mutated"}, "shape": {"shape"}, "dtype": {"dtype"}, "raises": {"exception"}}
    assert {t["mistake"]["key"] for t in _failures(results["mutates"])} == {"input_modified_in_place"}
    flipped = _failures(results["flipped"])
    assert flipped and all(t["kind"] == "values" for t in flipped)
    assert {t["mistake"]["text"] for t in flipped} == {FLIPPED}
    assert {t["mistake"]["key"] for t in flipped} == {testing.mistake_key(FLIPPED)}
    assert all(t["kind"] == "not_implemented" for t in results["stub"]["tests"])
    # time is kept only where both sides ran the whole test: a failed test may stop before the reference runs
    assert not any("student_s" in t or "reference_s" in t for t in _failures(results["mutates"]))
    assert "conv2d_forward" not in results["mutates"].get("timing", {})


def test_an_exception_carries_its_type_and_line(graded):
    results, _, base = graded
    line = len((base + VARIANTS["raises"]).splitlines())  # `return x[99]` is the file's last line
    assert {json.dumps(t["exception"]) for t in _failures(results["raises"])} == {
        json.dumps({"type": "IndexError", "line": f"conv.py:{line}"})}


def test_old_results_without_the_new_keys_still_report():
    old = {"schema": "dlgrade.result/1", "student": "au1", "week": "week04", "score": 0.0, "max_score": 1.0,
           "status": "graded", "error": None, "tests": [
               {"name": "f: a", "function": "f", "score": 0.0, "max_score": 1.0, "status": "failed",
                "visibility": "public", "message": "values differ", "duration_s": 0.1}]}
    summary = summarize([old])
    assert summary["mistakes"] == [{"function": "f", "named": [], "unnamed": [
        {"kind": "failed", "text": "fails (no detail recorded)", "students": ["au1"], "count": 1}]}]
    assert summary["slow"] == [] and "no detail recorded" in render_summary(summary, "md")


# ------------------------------------------------------------------ the comparison helper, in-process
def _caught(fn) -> testing.GradingFailure:
    with pytest.raises(testing.GradingFailure) as info:
        fn()
    return info.value


def test_engine_hints_have_fixed_keys():
    e = torch.arange(1.0, 7.0).reshape(2, 3)
    assert _caught(lambda: testing.check(-e, e)).mistake["key"] == "sign_flipped"
    f = _caught(lambda: testing.check(e * 4, e))
    assert f.mistake == {"key": "constant_factor", "text": testing.GENERIC["constant_factor"]}
    assert "factor of 4" in str(f)  # the message keeps the number, the mistake's text does not
    assert _caught(lambda: testing.check(e.T.contiguous(), e)).mistake["key"] == "shape_transposed"
    assert _caught(lambda: testing.check(None, e)).mistake["key"] == "returned_none"
    assert _caught(lambda: testing.check(e.double(), e)).kind == "dtype"
    assert _caught(lambda: testing.check(e + torch.rand(2, 3), e)).mistake is None


def test_suite_hints_keep_an_explicit_key_or_get_a_slug():
    e = torch.arange(1.0, 7.0)
    named = testing.Mistake("bias_missing", "the bias is missing")
    f = _caught(lambda: testing.check(e + 1, e, hints={named: lambda: e + 1}))
    assert f.mistake == {"key": "bias_missing", "text": "the bias is missing"}
    f = _caught(lambda: testing.check(e + 2, e, hints={"the bias is added twice, 2 times": e + 2}))
    assert f.mistake["key"] == "the_bias_is_added_twice_times"
    f = _caught(lambda: testing.fail("adam_step left param unchanged: update it IN PLACE"))
    assert f.kind == "check" and f.mistake["key"] == "adam_step_left_param_unchanged_update_it_in_place"


def test_hints_are_not_counted_as_reference_time():
    from grader.proxy import TimedReference

    class Slow:
        @staticmethod
        def f(x):
            import time

            time.sleep(0.05)
            return x

    ref = TimedReference(Slow())
    e = torch.ones(3)
    ref.f(e)
    with pytest.raises(testing.GradingFailure):
        testing.check(e * 3, e, hints={"never this": lambda: ref.f(e * 5)})
    assert 0.05 <= ref.elapsed < 0.1  # the call the test made, not the hint's


# ------------------------------------------------------------------ the class report
def test_common_mistakes_count_students(graded):
    _, out, _ = graded
    summary = summarize(load_results(out))
    conv = next(m for m in summary["mistakes"] if m["function"] == "conv2d_forward")
    named = {e["text"]: e["students"] for e in conv["named"]}
    assert named[FLIPPED] == ["flipped"]
    assert named[testing.GENERIC["input_modified_in_place"]] == ["mutates"]
    unnamed = {e["text"]: e["students"] for e in conv["unnamed"]}
    assert unnamed["wrong shape or length"] == ["shape"] and unnamed["wrong dtype"] == ["dtype"]
    assert any(re.fullmatch(r"raises IndexError at conv\.py:\d+", t) for t in unnamed)
    assert unnamed["not implemented (the stub's NotImplementedError)"] == ["stub"]
    # a student counts once per mistake, however many tests showed it
    assert all(e["count"] == len(e["students"]) == len(set(e["students"])) for e in conv["named"] + conv["unnamed"])


def test_reports_show_mistakes_and_students(graded):
    _, out, _ = graded
    summary = summarize(load_results(out))
    md = render_summary(summary, "md")
    assert "## Common mistakes" in md and "the kernel is flipped" in md and "| flipped |" in md
    assert "## Students" in md and re.search(r"\| reference \| \d+(\.\d+)?/\d+", md)
    html = render_summary(summary, "html")
    assert "<details><summary>1 student</summary>" in html and 'href="#student-flipped"' in html
    assert 'id="student-flipped"' in html
    linked = render_summary(summary, "html", links="feedback")
    assert 'href="feedback/flipped.html"' in linked
    text = render_summary(summary, "text", width=200)
    with_ids = render_summary(summary, "text", width=200, students=True)
    assert "common mistakes: conv2d_forward" in text
    # ids in the terminal only with --students (a student's id otherwise shows in the overview alone)
    assert text.count("mutates") == 1 and with_ids.count("mutates") == 2


def test_mistake_text_is_escaped():
    evil = {"schema": "dlgrade.result/1", "student": "au1", "week": "w", "score": 0.0, "max_score": 1.0,
            "status": "graded", "error": None, "tests": [
                {"name": "f: a", "function": "f", "score": 0.0, "max_score": 1.0, "status": "error",
                 "visibility": "hidden", "message": "", "duration_s": 0.1, "kind": "exception",
                 "exception": {"type": "<script>x</script>", "line": "a|b.py:1"}}]}
    html = render_summary(summarize([evil]), "html")
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert "a\\|b.py" in render_summary(summarize([evil]), "md")


# ------------------------------------------------------------------ slow code
def test_slow_code_is_flagged(graded):
    results, out, _ = graded
    t = results["slow"]["timing"]["conv2d_forward"]
    assert t["student_s"] > 50 * t["reference_s"] and t["student_s"] > 0.05
    assert results["slow"]["timing"] == timing(results["slow"]["tests"])
    assert all(f["status"] == "passed" for f in results["slow"]["tests"])  # slow, yet right
    summary = summarize(load_results(out))
    assert [(e["student"], e["function"]) for e in summary["slow"]] == [("slow", "conv2d_forward")]
    assert set(results["reference"]["timing"]) == set(Course(ROOT).week("week04").functions)
    feedback = render_result(results["slow"], "md")
    assert "Slow code" in feedback and "conv2d\\_forward took" in feedback
    assert "Slow code" not in render_result(results["reference"], "md")
    row = next(s for s in summary["students"] if s["student"] == "slow")
    assert row["slow"] == ["conv2d_forward"]


# ------------------------------------------------------------------ the command line
def _dlgrade(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "grader.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_per_student_feedback_files(graded, tmp_path):
    results, out, _ = graded
    site = tmp_path / "site"
    proc = _dlgrade("report", out, "--format", "html", "-o", site / "index.html", "--per-student", site / "students")
    assert proc.returncode == 0, proc.stderr
    pages = sorted(p.name for p in (site / "students").iterdir())
    assert pages == sorted(f"{s}.html" for s in results)
    index = (site / "index.html").read_text()
    assert 'href="students/flipped.html"' in index
    page = (site / "students" / "flipped.html").read_text()
    assert "Feedback for flipped" in page and "the kernel is flipped" in page
    proc = _dlgrade("report", out, "--format", "md", "--per-student", tmp_path / "md")
    assert proc.returncode == 0 and (tmp_path / "md" / "stub.md").read_text().startswith("# Feedback: stub")


def test_per_student_refuses_an_id_that_cannot_name_a_file(graded, tmp_path):
    _, out, _ = graded
    bad = tmp_path / "bad"
    bad.mkdir()
    r = json.loads((out / "reference.json").read_text())
    (bad / "x.json").write_text(json.dumps({**r, "student": "../escape"}))
    proc = _dlgrade("report", bad, "--format", "md", "--per-student", tmp_path / "fb")
    assert proc.returncode == 2 and "cannot name a file" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "escape.md").exists()


def test_the_class_report_never_replaces_a_students_page(graded, tmp_path):
    """`-o DIR/flipped.html --per-student DIR` would write the class report over flipped's feedback: refused."""
    _, out, _ = graded
    site = tmp_path / "site"
    proc = _dlgrade("report", out, "--format", "html", "-o", site / "flipped.html", "--per-student", site)
    assert proc.returncode == 2 and "feedback page of student flipped" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (site / "flipped.html").exists()
