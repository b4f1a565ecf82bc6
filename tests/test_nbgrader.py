"""dlgrade in nbgrader's workflow, with real nbgrader: build, release, fetch, submit, collect, grade, feedback.

One course is built and run through the whole workflow once (module fixture):
three students submit week04 through a temporary exchange (correct, one
function wrong and late, the released notebook untouched);
`nbgrader autograde` grades a copy of the course and `dlgrade grade
--nbgrader` the original, so the two can be compared student by student.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

MISSING = "the nbgrader extra is not installed (pip install 'dlgrade[nbgrader]')"
nbformat = pytest.importorskip("nbformat", reason=MISSING)
pytest.importorskip("nbgrader.api", reason=MISSING)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WEEK = "week04"
STUDENTS = {"ada": "correct", "bob": "wrong", "cyd": "empty"}   # bob also hands in late
TS = "%Y-%m-%d %H:%M:%S.%f %Z"


def _env() -> dict:
    # nbgrader runs `alembic` from PATH; the kernels it starts must find this course's suites
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DLGRADE_COURSE": str(ROOT)}


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({p.returncode}):\n"
                             f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def nbg(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(BIN / "nbgrader"), *args, "--log-level=WARN"], cwd, check)


def dlgrade(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "grader.cli", *args], cwd, check)


def solution_bodies() -> dict[str, str]:
    """function -> its solution cell's source with nbgrader's markers dropped (what a student would write)."""
    from grader.course import Course
    from grader.integrations.nbgrader import collect_tests, source_notebook

    w = Course(ROOT).week(WEEK)
    nb, _ = source_notebook(w, collect_tests(w))
    return {c.metadata.nbgrader["grade_id"]: "\n".join(ln for ln in c.source.split("\n") if "### " not in ln)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def fill(path: Path, kind: str, bodies: dict[str, str]) -> None:
    nb = nbformat.read(str(path), as_version=4)
    if kind != "empty":
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("solution") and gid in bodies:
                cell.source = bodies[gid]
                if kind == "wrong" and gid == "gradient_magnitude":
                    cell.source = cell.source.replace("return torch.sqrt(gx ** 2 + gy ** 2)",
                                                      "return gx.abs() + gy.abs()")
                    assert cell.source != bodies[gid]
    nbformat.write(nb, str(path))


def scores(course: Path) -> dict[str, tuple[float, float, float]]:
    """student -> (raw score, late penalty, max score) from the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        out = {}
        for s in STUDENTS:
            sub = gb.find_submission(WEEK, s)
            out[s] = (round(sub.score, 6), round(sub.late_submission_penalty or 0.0, 6), sub.max_score)
        return out


def collected_course(tmp: Path, students: dict[str, str], due: datetime | None = None) -> tuple[Path, list[str]]:
    """A course in `tmp/course` with its exchange in `tmp`: week04 built, released, fetched and submitted by
    `students` (name -> kind for `fill`), and collected. Returns the course and the exchange flags."""
    course, exchange, cache = tmp / "course", tmp / "exchange", tmp / "cache"
    exchange.mkdir()
    cache.mkdir()
    dlgrade("nbgrader", "build", WEEK, "--course", str(course), cwd=ROOT)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"c.CourseDirectory.course_id = 'dl101'\nc.Exchange.root = {str(exchange)!r}\n"
                f"c.Exchange.cache = {str(cache)!r}\nc.LateSubmissionPlugin.penalty_method = 'zero'\n")
    if due is not None:
        nbg("db", "assignment", "add", WEEK, f"--duedate={due.strftime('%Y-%m-%d %H:%M:%S')} UTC", cwd=course)
    nbg("generate_assignment", WEEK, "--force", cwd=course)
    nbg("release_assignment", WEEK, cwd=course)
    bodies = solution_bodies()
    exchange_flags = ["--CourseDirectory.course_id=dl101", f"--Exchange.root={exchange}", f"--Exchange.cache={cache}"]
    for student, kind in students.items():
        home = tmp / "home" / student
        home.mkdir(parents=True)
        nbg("fetch_assignment", WEEK, f"--student={student}", *exchange_flags, cwd=home)
        fill(home / WEEK / f"{WEEK}.ipynb", kind, bodies)
        nbg("submit", WEEK, f"--student={student}", *exchange_flags, cwd=home)
    nbg("collect", WEEK, cwd=course)
    return course, exchange_flags


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nbgrader")
    due = datetime.now(timezone.utc) + timedelta(hours=1)
    course, exchange_flags = collected_course(tmp, STUDENTS, due)
    late = course / "submitted" / "bob" / WEEK / "timestamp.txt"
    late.write_text((due + timedelta(days=1)).strftime(TS))
    anchor = tmp / "anchor"
    shutil.copytree(course, anchor)
    nbg("autograde", WEEK, cwd=anchor)
    broken = course / "submitted" / "eve" / WEEK     # only dlgrade's course: nbgrader autograde stops on it
    broken.mkdir(parents=True)
    (broken / f"{WEEK}.ipynb").write_text('{"cells": [')
    (broken / "timestamp.txt").write_text(datetime.now(timezone.utc).strftime(TS))
    graded = dlgrade("grade", WEEK, "--nbgrader", str(course), "-j", "1", cwd=ROOT)
    return {"course": course, "anchor": anchor, "tmp": tmp, "exchange_flags": exchange_flags, "graded": graded}


def test_release_holds_no_solution_and_no_hidden_test(workflow):
    from grader.course import Course
    from grader.integrations.nbgrader import collect_tests

    release = (workflow["course"] / "release" / WEEK / f"{WEEK}.ipynb").read_text()
    source = (ROOT / "solutions" / WEEK / "conv.py").read_text()
    inside = re.findall(r"# BEGIN SOLUTION\n(.*?)\n\s*# END SOLUTION", source, re.S)
    stub = (ROOT / "assignments" / WEEK / "conv.py").read_text()   # the docstrings' formulas are the students' too
    solution_lines = {ln.strip() for block in inside for ln in block.split("\n")
                      if len(ln.strip()) > 12 and ln.strip() not in stub}
    assert len(solution_lines) > 20
    leaked = [ln for ln in solution_lines if json.dumps(ln)[1:-1] in release]
    assert not leaked, f"solution lines in the release: {leaked[:3]}"
    hidden = [t for t in collect_tests(Course(ROOT).week(WEEK)) if not t.public]
    assert len(hidden) > 20
    public = {t.nodeid.split("::")[1] for t in collect_tests(Course(ROOT).week(WEEK)) if t.public}
    for t in hidden:
        name = t.nodeid.split("::")[1]
        assert name in public or name not in release, name
    assert "test_hidden" not in release and "HIDDEN TESTS" not in release
    # the public tests are there, as calls a student can run
    assert "test_public.py::test_conv2d_forward" in release


def test_same_scores_as_nbgrader_autograde(workflow):
    ours, anchor = scores(workflow["course"]), scores(workflow["anchor"])
    assert ours == anchor
    full = ours["ada"][2]
    assert full == 30.0
    assert ours["ada"][:2] == (full, 0.0)
    raw = ours["bob"][0]
    assert 0 < raw < full                           # one function wrong: its tests lost, the others kept
    assert ours["bob"][1] == raw                    # and late: nbgrader's "zero" penalty takes it all
    assert ours["cyd"] == (0.0, 0.0, full)
    # and dlgrade's own results say the same
    for s in ("ada", "bob", "cyd"):
        result = json.loads((workflow["course"] / "dlgrade" / WEEK / f"{s}.json").read_text())
        assert result["score"] == ours[s][0]


def test_gradebook_rows_and_export(workflow):
    from nbgrader.api import Gradebook

    course = workflow["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(WEEK, WEEK, "bob")
        grades = {g.name: g for g in nb.grades}
        assert len(grades) == 40 and all(not g.needs_manual_grade for g in grades.values())
        lost = [n for n, g in grades.items() if g.auto_score < g.max_score]
        assert lost and all(n.startswith("gradient_magnitude_test") for n in lost)
        comment = gb.find_comment("gradient_magnitude", WEEK, WEEK, "bob").auto_comment
        assert comment.startswith("dlgrade: gradient_magnitude scored")
        assert gb.find_comment("conv2d_forward", WEEK, WEEK, "cyd").auto_comment == "No response."
    nbg("export", "--to=grades.csv", cwd=course)
    rows = {r["student_id"]: r for r in csv.DictReader(open(course / "grades.csv"))}
    ours = scores(course)
    assert set(rows) == set(STUDENTS) | {"eve"}
    assert float(rows["eve"]["score"]) == 0.0
    for s, (raw, penalty, full) in ours.items():
        assert float(rows[s]["raw_score"]) == pytest.approx(raw)
        assert float(rows[s]["score"]) == pytest.approx(raw - penalty)
        assert float(rows[s]["max_score"]) == pytest.approx(full)


def test_feedback_has_dlgrade_hints_and_no_hidden_test(workflow):
    course = workflow["course"]
    nbg("generate_feedback", WEEK, cwd=course)
    nbg("release_feedback", WEEK, cwd=course)
    home = workflow["tmp"] / "home" / "bob"
    nbg("fetch_feedback", WEEK, "--student=bob", *workflow["exchange_flags"], cwd=home)
    pages = list((home / WEEK / "feedback").rglob("*.html"))
    assert pages
    html = "".join(p.read_text() for p in pages)
    result = json.loads((course / "dlgrade" / WEEK / "bob.json").read_text())
    failed = [t for t in result["tests"] if t["status"] != "passed"]
    hidden_failed = [t for t in failed if t["visibility"] == "hidden"]
    assert hidden_failed
    import html as html_mod

    text = html_mod.unescape(html)
    assert hidden_failed[0]["message"].split(";")[0][:60] in text    # dlgrade's own explanation
    assert "test_hidden" not in text and "BEGIN HIDDEN TESTS" not in text
    hidden_names = re.findall(r"^def (test_\w+)", (ROOT / "autograder_data" / WEEK / "test_hidden.py").read_text(),
                              re.M)
    public_names = re.findall(r"^def (test_\w+)", (ROOT / "autograder_data" / WEEK / "test_public.py").read_text(),
                              re.M)
    hidden_only = set(hidden_names) - set(public_names)
    assert len(hidden_only) > 20 and not [n for n in hidden_only if n in text]
    for s in STUDENTS:
        assert list((course / "feedback" / s / WEEK).glob("*.html"))


def test_nbgrader_autograde_leaks_what_dlgrade_keeps(workflow):
    """The anchor's own feedback shows the hidden test calls; ours (above) does not."""
    anchor = workflow["anchor"]
    nbg("generate_feedback", WEEK, cwd=anchor)
    text = (anchor / "feedback" / "bob" / WEEK / f"{WEEK}.html").read_text()
    assert "test_hidden.py::" in text


def test_machinery_failures_are_one_sentence(workflow, tmp_path):
    p = dlgrade("grade", WEEK, "--nbgrader", str(tmp_path), cwd=ROOT, check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "run `dlgrade nbgrader build" in p.stderr
    p = dlgrade("grade", WEEK, "some.zip", "--nbgrader", str(tmp_path), cwd=ROOT, check=False)
    assert p.returncode == 2 and "exactly one" in p.stderr
    # a gradebook that cannot be opened stops the run before anyone is graded
    broken = tmp_path / "broken"
    shutil.copytree(workflow["course"] / "source", broken / "source")
    shutil.copytree(workflow["course"] / "submitted" / "ada", broken / "submitted" / "ada")
    (broken / "gradebook.db").write_text("not a database")
    p = dlgrade("grade", WEEK, "--nbgrader", str(broken), cwd=ROOT, check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "cannot be opened" in p.stderr, p.stderr
    assert not (broken / "dlgrade").exists()


def test_missing_nbgrader_is_one_sentence(monkeypatch):
    from grader.errors import UserError
    from grader.integrations.nbgrader import require_nbgrader

    monkeypatch.setitem(sys.modules, "nbgrader.api", None)     # as if the extra were not installed
    with pytest.raises(UserError, match=r"install dlgrade\[nbgrader\]"):
        require_nbgrader()


def test_build_week02_goes_through_generate_assignment(tmp_path):
    course = tmp_path / "c"
    out = dlgrade("nbgrader", "build", "week02", "--course", str(course), cwd=ROOT).stdout
    assert "solution cells" in out
    nbg("generate_assignment", "week02", cwd=course)
    release = nbformat.read(str(course / "release" / "week02" / "week02.ipynb"), as_version=4)
    graded = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")]
    from grader.course import Course
    from grader.integrations.nbgrader import collect_tests

    tests = collect_tests(Course(ROOT).week("week02"))
    assert len(graded) == len(tests)
    assert sum(c.metadata.nbgrader["points"] for c in graded) == pytest.approx(sum(t.points for t in tests))
    assert "raise NotImplementedError()" in "".join(c.source for c in release.cells)


def test_build_twice_gives_the_same_notebook(tmp_path):
    """A rebuilt source notebook (and so nbgrader's release) differs only where the week changed."""
    built = []
    for name in ("first", "second"):
        dlgrade("nbgrader", "build", WEEK, "--course", str(tmp_path / name), cwd=ROOT)
        built.append((tmp_path / name / "source" / WEEK / f"{WEEK}.ipynb").read_bytes())
    assert built[0] == built[1]
    nb = nbformat.reads(built[0].decode(), as_version=4)
    nbformat.validate(nb)
    assert len({c.id for c in nb.cells}) == len(nb.cells)


def test_a_broken_notebook_scores_zero_with_its_reason(workflow):
    from nbgrader.api import Gradebook

    assert "nbgrader could not read the notebook of eve" in workflow["graded"].stdout
    with Gradebook(f"sqlite:///{workflow['course'] / 'gradebook.db'}") as gb:
        sub = gb.find_submission(WEEK, "eve")
        assert sub.score == 0.0 and not sub.needs_manual_grade
        assert "not a valid Jupyter notebook" in gb.find_comment("sobel", WEEK, WEEK, "eve").auto_comment


def test_zip_collect_layout(workflow):
    """An LMS download through `nbgrader zip_collect` lands in submitted/ and is graded like a collected one."""
    course = workflow["course"]
    archive = course / "downloaded" / WEEK / "archive"
    archive.mkdir(parents=True)
    shutil.copy(course / "submitted" / "ada" / WEEK / f"{WEEK}.ipynb", archive / f"fay_{WEEK}.ipynb")
    nbg("zip_collect", WEEK, "--FileNameCollectorPlugin.named_regexp=.*/(?P<student_id>[a-z]+)_(?P<file_id>[^/]+)",
        cwd=course)
    assert (course / "submitted" / "fay" / WEEK / f"{WEEK}.ipynb").is_file()
    dlgrade("grade", WEEK, "--nbgrader", str(course), "-j", "1", cwd=ROOT)
    assert scores_of(course, "fay")[0] == scores(course)["ada"][0] == 30.0


def scores_of(course: Path, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(WEEK, student)
        return sub.score, sub.late_submission_penalty or 0.0


def test_a_student_id_intake_would_rename(workflow):
    """nbgrader ids such as e-mail addresses are graded under intake's id, and recorded under nbgrader's."""
    course = workflow["course"]
    shutil.copytree(course / "submitted" / "ada" / WEEK, course / "submitted" / "dee@uni.dk" / WEEK)
    graded = dlgrade("grade", WEEK, "--nbgrader", str(course), "-j", "1", cwd=ROOT, check=False)
    assert graded.returncode == 0, graded.stderr
    assert scores_of(course, "dee@uni.dk")[0] == scores(course)["ada"][0] == 30.0
    assert (course / "autograded" / "dee@uni.dk" / WEEK / f"{WEEK}.ipynb").is_file()


def test_two_students_with_one_result_id_are_refused():
    from grader.errors import UserError
    from grader.integrations.nbgrader import _result_ids

    assert _result_ids(["ada", "dee@uni.dk"]) == {"ada": "ada", "dee@uni.dk": "dee_uni.dk"}
    with pytest.raises(UserError, match="would share the dlgrade id 'dee_uni.dk'"):
        _result_ids(["dee@uni.dk", "dee_uni.dk"])
