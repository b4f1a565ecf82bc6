"""Reports and gradebooks, rendered from result dicts built here (no grading, no torch)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.errors import UserError
from grader.gradebook import (atomic_write_text, gradebook_rows, write_brightspace_csv, write_gradebook_csv,
                              write_plain_csv)
from grader.report import (ReportError, load_results, print_result, render_result, render_summary,
                           summarize)

ROOT = Path(__file__).resolve().parents[1]
EVIL = "values differ at shape [batch, out]: <script>alert(1)</script> a|b"
NOT_GRADABLE_ERROR = "the zip holds no conv.py <or anything else>; hand in the file itself."


def _test(name, function, max_score, status, visibility="public", message=""):
    return {"name": f"{function}: {name}", "function": function, "score": max_score if status == "passed" else 0.0,
            "max_score": max_score, "status": status, "visibility": visibility, "message": message,
            "duration_s": 0.01}


def _result(student, tests, *, error=None, score=None, **extra):
    return {"schema": "dlgrade.result/1", "student": student, "week": "week04",
            "score": sum(t["score"] for t in tests) if score is None else score, "max_score": 10.0,
            "status": "not_gradable" if error else "graded", "error": error, "tests": tests,
            "submission_sha256": "0123456789abcdef" * 4, "graded_at": "2026-11-24T10:00:00Z",
            "dlgrade_version": "0.1.0", "duration_s": 0.4, **extra}


@pytest.fixture
def results() -> list[dict]:
    """Four students: full marks, partial with an escaped hidden message, low, not gradable."""
    return [
        _result("au100003", [_test("basic", "conv2d_forward", 4.0, "failed", message="shape (2, 3) != (3, 2)"),
                             _test("stride 2, padding 1", "conv2d_forward", 4.0, "timeout", "hidden",
                                   "the call took longer than 5 s"),
                             _test("values", "relu", 2.0, "passed")]),
        _result("au100001", [_test("basic", "conv2d_forward", 4.0, "passed"),
                             _test("stride 2, padding 1", "conv2d_forward", 4.0, "passed", "hidden"),
                             _test("values", "relu", 2.0, "passed")]),
        _result("au100002", [_test("basic", "conv2d_forward", 4.0, "passed"),
                             _test("stride 2, padding 1", "conv2d_forward", 4.0, "failed", "hidden", EVIL),
                             _test("values", "relu", 2.0, "passed")], unknown_key={"ignored": True}),
        _result("au100004", [], error=NOT_GRADABLE_ERROR),
    ]


def by_student(results, student):
    return next(r for r in results if r["student"] == student)


def gfm_cells(row: str) -> list[str]:
    """Split a Markdown table row the way GFM does: a backslash escapes the next character."""
    cells, cur, i = [], "", 0
    while i < len(row):
        if row[i] == "\\" and i + 1 < len(row):
            cur += row[i:i + 2]
            i += 2
            continue
        if row[i] == "|":
            cells.append(cur)
            cur = ""
        else:
            cur += row[i]
        i += 1
    cells.append(cur)
    return [c.strip() for c in cells[1:-1]]


# --------------------------------------------------------------------------- one result

def test_text_report_has_header_points_statuses_and_reasons(results):
    text = render_result(by_student(results, "au100002"), "text", width=160)
    first = text.splitlines()[0]
    assert "au100002" in first and "week04" in first and "6.0/10.0" in first and "60%" in first
    assert "4.0/4.0" in text and "0.0/4.0" in text and "2.0/2.0" in text
    assert "passed" in text and "failed" in text and "(hidden)" in text
    # the reason is the message, not read as rich markup
    assert "[batch, out]" in text and "<script>alert(1)</script> a|b" in text
    assert "\x1b[" not in text


def test_text_report_in_colour_and_printed_to_a_console(results):
    r = by_student(results, "au100003")
    assert "\x1b[31mfailed" in render_result(r, "text", color=True)
    out = io.StringIO()
    from rich.console import Console

    print_result(r, Console(file=out, force_terminal=True, color_system="standard", width=120))
    printed = out.getvalue()
    assert "\x1b[33mtimeout" in printed and "\x1b[32mpassed" in printed and "2.0/10.0" in printed


def test_not_gradable_report_says_why(results):
    r = by_student(results, "au100004")
    text = render_result(r, "text", width=200)
    assert "not gradable" in text and NOT_GRADABLE_ERROR in text and "0.0/10.0" in text
    assert "Not gradable:" in render_result(r, "md")
    assert "&lt;or anything else&gt;" in render_result(r, "html")


def test_markdown_escapes_messages_and_groups_by_function(results):
    md = render_result(by_student(results, "au100002"), "md")
    assert "**Score: 6.0 / 10.0 (60%)**" in md
    assert "## conv2d\\_forward (4.0/8.0)" in md and "## relu (2.0/2.0)" in md
    [row] = [line for line in md.splitlines() if "alert(1)" in line]
    cells = gfm_cells(row)
    assert len(cells) == 4, cells
    assert cells[:3] == ["stride 2, padding 1 *(hidden)*", "0.0/4.0", "failed"]
    assert cells[3] == "`values differ at shape [batch, out]: <script>alert(1)</script> a\\|b`"
    assert "| conv2d\\_forward | 4.0/8.0 | 1/2 |" in md


def test_markdown_code_spans_survive_backslashes_and_backticks():
    r = _result("au1", [_test("t", "f", 1.0, "failed", message="a\\|<img src=x onerror=alert(1)> use `x.T`"),
                        _test("u", "f", 1.0, "failed", message="`edge`")])
    rows = [line for line in render_result(r, "md").splitlines() if line.startswith("| t ") or line.startswith("| u ")]
    first, second = (gfm_cells(row) for row in rows)
    assert len(first) == 4 and first[3].startswith("``") and first[3].endswith("``") and "<img" in first[3]
    assert second[3] == "`` `edge` ``"


def test_markdown_keeps_multi_line_messages_in_a_fence():
    msg = "values differ: max abs error 0.53\nhint: the output looks transposed\n```"
    md = render_result(_result("au1", [_test("t", "f", 1.0, "failed", message=msg)]), "md")
    assert "````text\n" + msg + "\n````" in md


def test_html_is_one_self_contained_escaped_page(results):
    page = render_result(by_student(results, "au100002"), "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; a|b" in page
    assert "<script" not in page.lower()
    for external in ("<link", "src=", "@import", "url(", "http://", "https://"):
        assert external not in page
    assert "<style>" in page and "Content-Security-Policy" in page
    assert "6.0 / 10.0" in page and ">hidden<" in page and "st-failed" in page


def test_html_escapes_every_field():
    r = _result('au"><b>', [_test("x & y", "f<", 1.0, "passed")])
    page = render_result(r, "html")
    assert '<b>' not in page and "au&quot;&gt;&lt;b&gt;" in page
    assert "f&lt;" in page and "x &amp; y" in page


def test_json_report_is_the_result(results):
    r = by_student(results, "au100002")
    assert json.loads(render_result(r, "json")) == r


def test_unknown_format_is_a_user_error(results):
    with pytest.raises(ReportError, match="unknown report format 'pdf'"):
        render_result(results[0], "pdf")
    with pytest.raises(UserError):
        render_summary(summarize(results), "pdf")


# --------------------------------------------------------------------------- class summary

def test_summary_statistics(results):
    s = summarize(results)
    assert (s["n"], s["n_graded"], s["n_not_gradable"]) == (4, 3, 1)
    assert s["not_gradable"] == [("au100004", NOT_GRADABLE_ERROR)]
    assert s["max_score"] == 10.0
    assert (s["mean"], s["median"], s["min"], s["max"]) == (4.5, 4.0, 0.0, 10.0)  # scores 10, 6, 2, 0
    assert s["weeks"] == ["week04"]


def test_summary_histogram(results):
    h = summarize(results)["histogram"]
    assert h["edges"] == [float(i) for i in range(11)]
    assert h["counts"] == [1, 0, 1, 0, 0, 0, 1, 0, 0, 1]  # full marks land in the last bin


def test_histogram_bins_do_not_lose_a_score_to_rounding():
    # with bins of 1.1 / 10, 0.33 / 0.11 is 2.9999999999999996; 0.33 belongs to the bin [0.33, 0.44)
    rs = [dict(_result(f"s{i}", []), max_score=1.1, score=x) for i, x in enumerate([0.33, 1.1, 0.0])]
    assert summarize(rs)["histogram"]["counts"] == [1, 0, 0, 1, 0, 0, 0, 0, 0, 1]


def test_summary_lists_tests_lowest_pass_rate_first(results):
    tests = summarize(results)["tests"]
    assert [t["name"] for t in tests] == ["conv2d_forward: stride 2, padding 1", "conv2d_forward: basic",
                                          "relu: values"]
    assert [round(t["pass_rate"], 3) for t in tests] == [0.333, 0.667, 1.0]
    assert [t["n"] for t in tests] == [3, 3, 3]  # not gradable submissions ran no tests
    assert tests[0]["statuses"] == {"passed": 1, "failed": 1, "timeout": 1}


def test_summary_function_means(results):
    fns = {f["function"]: (f["mean"], f["max_score"]) for f in summarize(results)["functions"]}
    assert fns == {"conv2d_forward": (4.0, 8.0), "relu": (2.0, 2.0)}  # (8 + 4 + 0) / 3 and (2 + 2 + 2) / 3


def test_summary_of_nothing_renders():
    s = summarize([])
    assert (s["n"], s["mean"], s["histogram"]["counts"]) == (0, None, [0] * 10)
    for fmt in ("text", "md", "html"):
        assert "0 students" in render_summary(s, fmt)
    data = json.loads(render_summary(s, "json"))
    assert (data["schema"], data["n"], data["mean"], data["tests"]) == ("dlgrade.summary/1", 0, None, [])


def test_summary_text_draws_the_histogram(results):
    text = render_summary(summarize(results), "text", width=120)
    assert "mean 4.5, median 4.0, min 0.0, max 10.0" in text
    bars = [line for line in text.splitlines() if "│" in line]
    assert len(bars) == 10
    assert bars[0].split("│")[1].strip().startswith("█") and bars[0].rstrip().endswith(" 1")
    assert "█" not in bars[1] and bars[1].rstrip().endswith(" 0")
    assert text.index("stride 2, padding 1") < text.index("conv2d_forward: basic") < text.index("relu: values")
    assert "au100004" in text and "\x1b[" not in text


def test_summary_markdown_and_html(results):
    s = summarize(results)
    md = render_summary(s, "md")
    assert "| 9–10 | 1 |" in md and "| 1–2 | 0 |" in md
    assert "| conv2d\\_forward: stride 2, padding 1 | conv2d\\_forward | 1/3 | 33% |" in md
    assert "\\<or anything else\\>" in md
    page = render_summary(s, "html")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1 and page.count("<rect") == 10
    assert "&lt;or anything else&gt;" in page and "<or anything" not in page
    for external in ("<link", "src=", "<script", "https://"):
        assert external not in page


def test_summary_json_holds_the_statistics(results):
    data = json.loads(render_summary(summarize(results), "json"))
    assert data["schema"] == "dlgrade.summary/1" and data["weeks"] == ["week04"]
    assert (data["n"], data["n_graded"], data["mean"], data["median"]) == (4, 3, 4.5, 4.0)
    assert data["histogram"]["counts"] == [1, 0, 1, 0, 0, 0, 1, 0, 0, 1]
    assert data["not_gradable"] == [["au100004", NOT_GRADABLE_ERROR]]
    assert [t["name"] for t in data["tests"]][0] == "conv2d_forward: stride 2, padding 1"
    assert {f["function"]: f["mean"] for f in data["functions"]} == {"conv2d_forward": 4.0, "relu": 2.0}


# --------------------------------------------------------------------------- gradebooks

def test_gradebook_rows_have_one_column_per_function(results):
    header, rows = gradebook_rows(results, ["conv2d_forward", "relu", "maxpool"])
    assert header == ["student", "score", "max_score", "status", "conv2d_forward", "relu", "maxpool", "review"]
    assert [r[0] for r in rows] == ["au100001", "au100002", "au100003", "au100004"]
    assert rows[0] == ["au100001", 10.0, 10.0, "graded", 8.0, 2.0, 0.0, ""]
    assert rows[1] == ["au100002", 6.0, 10.0, "graded", 4.0, 2.0, 0.0, ""]
    assert rows[3] == ["au100004", "", 10.0, "not_gradable", "", "", "", ""]   # no grade, not 0
    for row in rows[:3]:
        assert sum(row[4:-1]) == row[1]


def test_gradebook_names_functions_held_for_review(results):
    held = json.loads(json.dumps(results[0]))
    held["tests"][0]["status"], held["tests"][0]["score"] = "review", 0.0
    header, rows = gradebook_rows([held, *results[1:]], ["conv2d_forward", "relu"])
    assert header[-1] == "review"
    by_student = {row[0]: row for row in rows}
    assert by_student[held["student"]][-1] == held["tests"][0]["function"]
    assert all(row[-1] == "" for name, row in by_student.items() if name != held["student"])


def test_gradebook_columns_default_to_the_functions_met(results):
    header, _ = gradebook_rows(results)
    assert header[4:] == ["conv2d_forward", "relu", "review"]


def test_gradebook_csv_is_written_atomically(results, tmp_path):
    path = write_gradebook_csv(tmp_path / "gradebook.csv", results, ["conv2d_forward", "relu"])
    rows = list(csv.DictReader(path.open(newline="")))
    assert [r["student"] for r in rows] == ["au100001", "au100002", "au100003", "au100004"]
    assert (rows[2]["conv2d_forward"], rows[2]["relu"], rows[2]["score"]) == ("0.0", "2.0", "2.0")
    assert os.listdir(tmp_path) == ["gradebook.csv"]


def test_brightspace_import(results, tmp_path):
    results = [*results, _result("au100005", [], error="broken", score=3.0)]  # a stray score is not a grade
    path = write_brightspace_csv(tmp_path / "bs.csv", results, "Week 4, convolutions")
    lines = path.read_text().splitlines()
    assert lines[0] == 'OrgDefinedId,"Week 4, convolutions Points Grade",End-of-Line Indicator'
    assert lines[1:] == ["au100001,10.0,#", "au100002,6.0,#", "au100003,2.0,#", "au100004,,#", "au100005,,#"]
    assert list(csv.reader(lines))[0][1] == "Week 4, convolutions Points Grade"


def test_plain_csv(results, tmp_path):
    results = [*results, dict(_result("au100009", [], error="empty"), max_score=0.0)]
    path = write_plain_csv(tmp_path / "p.csv", results)
    rows = list(csv.reader(path.open(newline="")))
    assert rows[0] == ["student", "score", "max_score", "percent", "status"]
    assert rows[2] == ["au100002", "6.0", "10.0", "60.0", "graded"]
    assert rows[-1] == ["au100009", "", "0.0", "", "not_gradable"]


def test_atomic_write_replaces_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "new" / "folder" / "out.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert os.listdir(target.parent) == ["out.json"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_atomic_write_that_fails_keeps_the_old_file(tmp_path):
    target = tmp_path / "gradebook.csv"
    atomic_write_text(target, "old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "new é", encoding="ascii")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["gradebook.csv"]


# --------------------------------------------------------------------------- loading

def test_load_results_from_a_folder_skips_what_is_not_a_result(results, tmp_path):
    for r in results:
        (tmp_path / f"{r['student']}.json").write_text(json.dumps(r))
    write_gradebook_csv(tmp_path / "gradebook.csv", results, ["relu"])
    (tmp_path / "results.json").write_text(json.dumps({"score": 3, "tests": []}))  # e.g. Gradescope's
    (tmp_path / ".au100005.json").write_text('{"schema": "dlgrade.result/1", "stud')  # a partial write
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "other.json").write_text(json.dumps({"schema": "dlgrade.result/2", "student": "x"}))
    loaded = load_results(tmp_path)
    assert [r["student"] for r in loaded] == ["au100001", "au100002", "au100003", "au100004"]
    assert loaded[1] == by_student(results, "au100002")
    assert summarize(loaded)["mean"] == 4.5


def test_load_results_from_one_file(results, tmp_path):
    f = tmp_path / "au100002.json"
    f.write_text(json.dumps(by_student(results, "au100002")))
    assert load_results(f) == [by_student(results, "au100002")]


def test_load_results_errors_are_one_sentence(tmp_path):
    with pytest.raises(ReportError, match="does not exist") as e:
        load_results(tmp_path / "nope")
    assert isinstance(e.value, UserError) and str(tmp_path / "nope") in str(e.value)
    bad = tmp_path / "au1.json"
    bad.write_text('{"schema": "dlgrade.result/1", "student": ')
    with pytest.raises(ReportError, match=r"au1\.json is not valid JSON"):
        load_results(bad)
    with pytest.raises(ReportError, match=r"au1\.json is not valid JSON"):
        load_results(tmp_path)
    other = tmp_path / "other.json"
    other.write_text('{"schema": "something/1"}')
    with pytest.raises(ReportError, match="is not a dlgrade result"):
        load_results(other)
    bad.write_text('{"schema": "dlgrade.result/1", "student": "au1"}')
    with pytest.raises(ReportError, match="damaged result.*score"):
        load_results(bad)


def test_reports_import_no_torch():
    code = ("import sys, grader.report, grader.gradebook; r = grader.report; "
            "r.render_summary(r.summarize([]), 'text'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- what a student sees

LONG = ("dx values differ in 106 of 288 entries: max abs error 1.13 at [1, 2, 2, 4] (relative 0.75; tolerance "
        "rtol=1e-07, atol=2.4e-09); hint: the gradient of a window was split among its tied maxima (what autograd "
        "does for amax); the first maximum in row-major order gets all of it ENDOFHINT")


def test_whole_reason_and_hint_in_every_format():
    r = _result("au1", [_test("ties", "maxpool2d_backward", 1.0, "failed", message=LONG)])
    text = render_result(r, "text", width=100)
    assert "ENDOFHINT" in text and "split among" in text and "row-major" in text
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "ENDOFHINT" in render_result(r, "md") and "ENDOFHINT" in render_result(r, "html")
    out = io.StringIO()
    from rich.console import Console

    print_result(r, Console(file=out, width=80))  # what `dlgrade check` prints
    assert "ENDOFHINT" in out.getvalue()


def test_intake_notes_in_every_format():
    notes = ["dropped cell 2: it does not parse", "used 'my_conv.py' as conv.py"]
    r = _result("au1", [_test("t", "f", 1.0, "passed")], notes=notes)
    s = summarize([r, _result("au2", [_test("t", "f", 1.0, "passed")])])
    assert s["notes"] == [["au1", notes[0]], ["au1", notes[1]]]
    for fmt in ("text", "md", "html", "json"):
        for out in (render_result(r, fmt, width=160), render_summary(s, fmt, width=160)):
            assert "dropped cell 2: it does not parse" in out, fmt
            assert "my_conv.py" in out, fmt


HOSTILE = "ok\x1b[2J\x1b[H\x1b]52;c;ZXZpbA==\x07\rdlgrade check: 30/30 passed\u202e\x9b31m\udcff"


def test_control_characters_never_reach_the_terminal_raw():
    r = _result("au1\x1b[2J", [_test("t", "f", 1.0, "failed", message=HOSTILE)], notes=["note\x1b]52;c;eA==\x07"])
    for fmt in ("text", "md", "html"):
        out = render_result(r, fmt, width=200)
        for raw in ("\x1b[2J", "\x1b]52", "\x07", "\r", "\u202e", "\x9b", "\udcff"):
            assert raw not in out, (fmt, raw)
        assert "\\x1b[2J" in out and "\\x1b]52" in out and "\\r" in out, fmt
        out.encode("utf-8")
    coloured = render_result(r, "text", color=True, width=200)
    assert "\x1b[2J" not in coloured and "\x1b]52" not in coloured and "\x1b[31m" in coloured
    out = io.StringIO()
    from rich.console import Console

    print_result(r, Console(file=out, force_terminal=True, color_system="standard", width=200))
    assert "\x1b[2J" not in out.getvalue() and "\x1b]52" not in out.getvalue()
    summary = render_summary(summarize([r]), "text", width=200)
    assert "\x1b[2J" not in summary


def test_a_lone_surrogate_is_written_to_a_file(tmp_path):
    r = _result("au1", [_test("t", "f", 1.0, "failed", message="bad byte \udcff here")])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "au1.json").write_text(json.dumps(r))
    for fmt in ("html", "md", "json", "text"):
        target = tmp_path / f"out.{fmt}"
        run = subprocess.run([sys.executable, "-m", "grader.cli", "report", str(tmp_path / "in" / "au1.json"),
                              "--format", fmt, "-o", str(target)], cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert "\\udcff" in target.read_text(encoding="utf-8")
    assert json.loads((tmp_path / "out.json").read_text())["tests"][0]["message"] == "bad byte \udcff here"


def test_review_is_listed_for_the_instructor():
    why = "held for review: conv2d_forward reaches for sys.modules, which can switch off the grader's checks"
    rs = [_result("au1", [_test("t", "conv2d_forward", 2.0, "review", message=why),
                          _test("u", "conv2d_forward", 2.0, "review", message=why),
                          _test("v", "relu", 1.0, "passed")]),
          _result("au2", [_test("t", "conv2d_forward", 2.0, "passed")])]
    s = summarize(rs)
    assert s["review"] == [{"student": "au1", "function": "conv2d_forward", "message": why}]
    text = render_summary(s, "text", width=200)
    assert "held for review" in text and "au1" in text and "sys.modules" in text
    assert "## Held for review" in render_summary(s, "md") and "sys.modules" in render_summary(s, "md")
    assert "<h2>Held for review</h2>" in render_summary(s, "html")
    page = render_result(rs[0], "html")
    assert "st-review" in page and "sys.modules" in page
    assert "\x1b[33mreview" in render_result(rs[0], "text", color=True, width=200)
