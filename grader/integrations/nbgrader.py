"""dlgrade weeks in nbgrader's workflow: build the source notebook, then grade collected submissions in the sandbox.

`build` turns a week's reference solution and suites into nbgrader's source
notebook: read-only cells for the code given to students, one solution cell
per function, and one locked, graded test cell per dlgrade test, worth that
test's points, so that nbgrader's maximum score is dlgrade's. A hidden test's
cell holds its call between `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS`,
so `nbgrader generate_assignment` releases neither solutions nor hidden tests.

`grade` grades every `submitted/<student>/WEEK/` through dlgrade's batch path
(sandboxed workers), then runs nbgrader's own autograde pipeline with one step
replaced: instead of executing the notebook in a kernel, each test cell gets
dlgrade's verdict as its output (a passed test a line, a failed one an error
with dlgrade's message). nbgrader's own steps then do the rest as they always
do: the student and submission rows with the timestamp, the locked cells
restored from the source, the scores (`SaveAutoGrades`), the late penalty
(`AssignLatePenalties`) and the `autograded/` notebooks that `generate_feedback`
reads. Hidden test regions are removed from those notebooks, so feedback shows
no hidden test.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..course import Course, Week
from ..errors import GRADER_FAILED, UserError

INSTALL = "install dlgrade[nbgrader] (pip install 'dlgrade[nbgrader]')"
CELL_CALL = "from grader.integrations.nbgrader_cell import run_test\nrun_test({week}, {test}, globals())"
CELL_CALL_RE = re.compile(r'run_test\(\s*"(?P<week>[^"]+)"\s*,\s*"(?P<test>[^"]+)"')
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


@dataclass(frozen=True)
class SuiteTest:
    """One test of a week's suites as collected: what a graded test cell runs."""

    nodeid: str        # "test_public.py::test_conv2d_forward", relative to the week's data folder
    name: str          # the name results give it ("conv2d_forward: stride 2, ...")
    function: str
    points: float
    public: bool


def require_nbgrader():
    """nbgrader's modules, or one sentence saying how to get them."""
    try:
        import nbformat  # noqa: F401
        import nbgrader.api  # noqa: F401
    except ImportError:
        raise UserError(f"This needs nbgrader, which is not installed; {INSTALL}.") from None
    import nbgrader

    return nbgrader


def collect_tests(week: Week) -> list[SuiteTest]:
    """Every test of the week's public and hidden suites, in the order `dlgrade grade` runs them."""
    from ..plugin import _function_of, _points, _test_name
    from ..runner import run_pytest

    class Collector:
        items: list = []
        errors: list[str] = []

        def pytest_configure(self, config):
            for marker in ("points(n)", "public", "function(name)"):
                config.addinivalue_line("markers", marker)

        def pytest_collection_modifyitems(self, session, config, items):
            Collector.items = list(items)

        def pytest_collectreport(self, report):
            if report.failed:
                Collector.errors.append(f"{report.nodeid}: {report.longreprtext.strip().splitlines()[-1]}")

    files = week.suite_files("all")
    if not files:
        raise UserError(f"{week.name} has no test suite in {week.data_dir}.")
    run_pytest(week, files, [Collector()], extra=("--collect-only",))
    if Collector.errors:
        raise UserError(f"The {week.name} suite does not load: {Collector.errors[0]}")
    return [SuiteTest(nodeid=i.nodeid, name=_test_name(i, _function_of(i)), function=_function_of(i),
                      points=_points(i), public=bool(i.get_closest_marker("public"))) for i in Collector.items]


# ------------------------------------------------------------------ build
@dataclass
class BuildInfo:
    notebook: Path
    config: Path | None           # the nbgrader_config.py written, None when the course had one
    tests: int
    hidden: int
    points: float
    solution_cells: list[str] = field(default_factory=list)


def build(*, week: str, course_dir: Path, course: Course | None = None) -> BuildInfo:
    """Write `course_dir/source/WEEK/WEEK.ipynb` (and `nbgrader_config.py` where there is none)."""
    require_nbgrader()
    import nbformat

    w = (course or Course.find()).week(week)
    if not w.has_reference():
        raise UserError(f"{w.name} has no reference solution at {w.solution_file}; the source notebook is built "
                        "from it.")
    tests = collect_tests(w)
    nb, solution_cells = source_notebook(w, tests)
    root = Path(course_dir)
    if root.exists() and not root.is_dir():
        raise UserError(f"--course {root} is a file; give the nbgrader course folder.")
    path = root / "source" / w.name / f"{w.name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    config = root / "nbgrader_config.py"
    written = None
    if not config.exists():
        config.write_text(_config_text(root, w.course.root))
        written = config
    return BuildInfo(notebook=path, config=written, tests=len(tests), hidden=sum(not t.public for t in tests),
                     points=sum(t.points for t in tests), solution_cells=solution_cells)


def source_notebook(week: Week, tests: list[SuiteTest]):
    """nbgrader's source notebook of `week`, and the ids of its solution cells."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    def meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
        m = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id, "schema_version": 3}
        if points is not None:
            m["points"] = points
        return {"nbgrader": m}

    source = week.solution_file.read_text()
    doc, chunks = _split_solution(source, week)
    cells = [new_markdown_cell(f"# {week.title} ({week.name})" + (f"\n\n{doc}" if doc else ""))]
    solution_ids, given = [], 0
    for kind, name, text in chunks:
        if kind == "solution":
            solution_ids.append(name)
            cells.append(new_code_cell(_nbgrader_markers(text), metadata=meta(name, solution=True)))
        else:
            given += 1
            cells.append(new_code_cell(text, metadata=meta(f"given_{given}", locked=True)))
    by_function: dict[str, list[SuiteTest]] = {}
    for t in tests:
        by_function.setdefault(t.function, []).append(t)
    for function, group in by_function.items():
        total = sum(t.points for t in group)
        cells.append(new_markdown_cell(f"## Tests of `{function or 'the module'}` ({_points_text(total)})\n\n"
                                       "Run the cells above first. Each cell below is one test; the hidden ones "
                                       "run only when the notebook is graded."))
        for k, t in enumerate(group, 1):
            call = CELL_CALL.format(week=json.dumps(week.name), test=json.dumps(t.nodeid))
            if t.public:
                text = f"# {t.name} ({_points_text(t.points)})\n{call}"
            else:
                text = (f"# hidden test {k} of {function or 'the module'} ({_points_text(t.points)}): it runs when "
                        f"the notebook is graded\n{BEGIN_HIDDEN}\n{call}\n{END_HIDDEN}")
            cells.append(new_code_cell(text, metadata=meta(f"{function or 'module'}_test_{k:02d}", grade=True,
                                                           locked=True, points=t.points)))
    for i, cell in enumerate(cells):
        cell["id"] = f"{week.name}-{i:02d}"     # stable ids: the same suite gives the same source notebook
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb, solution_ids


def _split_solution(source: str, week: Week) -> tuple[str, list[tuple[str, str, str]]]:
    """The module docstring, and the rest as ("given" | "solution", name, text) chunks in order.

    A top-level definition named in week.toml's `functions`, or holding a
    BEGIN SOLUTION marker, is a solution chunk of its own; the code between
    them is given, merged into one chunk per run.
    """
    from ..release import BEGIN

    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    body, doc, start = tree.body, "", 0
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        doc, start, body = ast.get_docstring(tree) or "", body[0].end_lineno, body[1:]
    chunks: list[tuple[str, str, str]] = []
    given: list[str] = []

    def flush():
        text = "".join(given).strip("\n")
        if text.strip():
            chunks.append(("given", "", text))
        given.clear()

    for node in body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
            end += 1      # indented comments after the last statement (an END SOLUTION line) belong to the body
        text = "".join(lines[start:end])
        start = end
        name = getattr(node, "name", None)
        if name in week.functions or any(BEGIN.match(ln) for ln in lines[first - 1:end]):
            flush()
            chunks.append(("solution", name or f"solution_{len(chunks) + 1}", text.strip("\n")))
        else:
            given.append(text)
    given.append("".join(lines[start:]))
    flush()
    return doc, chunks


def _nbgrader_markers(text: str) -> str:
    """dlgrade's `# BEGIN SOLUTION` / `# END SOLUTION` lines as nbgrader writes them (`### BEGIN SOLUTION`)."""
    from ..release import BEGIN, END

    out = []
    for line in text.split("\n"):
        indent = line[: len(line) - len(line.lstrip())]
        out.append(f"{indent}### BEGIN SOLUTION" if BEGIN.match(line) else
                   f"{indent}### END SOLUTION" if END.match(line) else line)
    return "\n".join(out)


def _num(x: float) -> str:
    return f"{x:g}"


def _points_text(x: float) -> str:
    return f"{x:g} point" + ("" if x == 1 else "s")


def _config_text(root: Path, course_root: Path) -> str:
    course_id = re.sub(r"[^A-Za-z0-9_-]+", "-", root.resolve().name).strip("-") or "course"
    return (
        "# nbgrader's settings for this course (written by `dlgrade nbgrader build`).\n"
        "import os\n\n"
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n\n"
        "# The test cells of dlgrade's notebooks find the course's suites (autograder_data/) here.\n"
        f"os.environ.setdefault('DLGRADE_COURSE', {str(course_root.resolve())!r})\n"
    )


# ------------------------------------------------------------------ grade
@dataclass
class NbgraderGrading:
    summary: object               # the dlgrade BatchSummary
    gradebook: str
    students: list[str]
    autograded: Path
    unread: list[str] = field(default_factory=list)   # notebooks nbgrader itself could not read: zero, with why

    def __str__(self) -> str:
        lines = [str(self.summary), f"nbgrader gradebook: {self.gradebook} ({len(self.students)} students)",
                 f"autograded:  {self.autograded} (run `nbgrader generate_feedback {self.summary.week}` next)"]
        if self.unread:
            lines.append(f"nbgrader could not read the notebook of {', '.join(self.unread)}: scored 0 with the "
                         "reason as comment, no feedback notebook")
        return "\n".join(lines)


def grade(*, week: str, nbgrader_dir: Path, out_dir: Path | None = None, course: Course | None = None,
          progress: bool = False, **options) -> NbgraderGrading:
    """Grade every collected submission of `week` in nbgrader course `nbgrader_dir` and fill its gradebook.

    `options` are `grader.api.grade`'s (jobs, timeouts, seed, device, ...).
    """
    require_nbgrader()
    from .. import api
    from ..intake.scratch import make_workdir

    course = course or Course.find()
    w = course.week(week)
    root = Path(nbgrader_dir)
    if not root.is_dir():
        raise UserError(f"--nbgrader {root} is not a folder; give the nbgrader course folder (it holds "
                        "nbgrader_config.py and submitted/).")
    coursedir, config = _coursedir(root, w.name)
    cell_tests = _cell_tests(Path(coursedir.root) / coursedir.source_directory / w.name, w)
    students = _submitted(coursedir, w.name)
    _check_gradebook(coursedir.db_url, w.name)
    out = Path(out_dir) if out_dir else root / "dlgrade"
    ids = _result_ids(students)
    scratch = make_workdir()
    try:
        for student, folder in students.items():
            _student_copy(folder, scratch / ids[student])
        summary = api.grade(week=w.name, submissions=[scratch], out_dir=out, course=course, progress=progress,
                            id_pattern=r"^(?P<student>[^/]+)$", **options)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results_dir = out / w.name
    missing = [s for s in students if not (results_dir / f"{ids[s]}.json").is_file()]
    if missing:
        raise UserError(f"dlgrade gave no result for {', '.join(missing)}; run the same command again.")
    autograded = Path(coursedir.root) / coursedir.autograded_directory
    _autograde(coursedir, config, w.name, results_dir, cell_tests, autograded, ids)
    unread = _after_autograde(coursedir.db_url, w.name, results_dir, cell_tests, ids, autograded)
    return NbgraderGrading(summary=summary, gradebook=coursedir.db_url, students=list(students),
                           autograded=autograded, unread=unread)


def _coursedir(root: Path, week: str):
    """nbgrader's CourseDirectory for `root`, with the course's nbgrader_config.py applied."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    if (root / "nbgrader_config.py").is_file():
        try:
            config = PyFileConfigLoader("nbgrader_config.py", path=str(root.resolve())).load_config()
        except Exception as e:  # noqa: BLE001 - whatever the file does wrong, say so in one sentence
            raise UserError(f"{root / 'nbgrader_config.py'} cannot be read ({type(e).__name__}: {e}); "
                            "fix the file.") from None
    config.CourseDirectory.root = str(root.resolve())
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = week
    return coursedir, config


def _cell_tests(source_dir: Path, week: Week) -> dict[str, dict]:
    """grade_id -> {"index": position in the week's tests, "name": ...} for each test cell of the source notebooks.

    Refuses a notebook whose test cells do not match the suite one to one
    (a test added or renamed since the build): the scores would not add up.
    """
    import nbformat

    notebooks = sorted(source_dir.glob("*.ipynb")) if source_dir.is_dir() else []
    if not notebooks:
        raise UserError(f"{source_dir} holds no source notebook; run `dlgrade nbgrader build {week.name}` and "
                        f"`nbgrader generate_assignment {week.name}` first.")
    tests = collect_tests(week)
    index = {t.nodeid: i for i, t in enumerate(tests)}
    cells, seen = {}, set()
    for path in notebooks:
        for cell in nbformat.read(str(path), as_version=4).cells:
            m = cell.get("metadata", {}).get("nbgrader", {})
            if not m.get("grade") or m.get("solution"):
                continue
            call = CELL_CALL_RE.search(cell.source)
            if not call or call["week"] != week.name or call["test"] not in index:
                raise UserError(f"Test cell {m.get('grade_id')} of {path.name} is not a test of {week.name}'s "
                                f"suite; rebuild it with `dlgrade nbgrader build {week.name}`.")
            i = index[call["test"]]
            cells[m["grade_id"]] = {"index": i, "name": tests[i].name, "points": tests[i].points,
                                    "function": tests[i].function}
            seen.add(call["test"])
    lost = [t.nodeid for t in tests if t.nodeid not in seen]
    if lost:
        raise UserError(f"The source notebook of {week.name} has no cell for {len(lost)} test(s) of the suite; "
                        f"rebuild it with `dlgrade nbgrader build {week.name}` and `nbgrader generate_assignment`.")
    return cells


def _submitted(coursedir, week: str) -> dict[str, Path]:
    """student -> their submitted folder of `week`."""
    base = Path(coursedir.root) / coursedir.submitted_directory
    found = {p.parent.name: p for p in sorted(base.glob(f"*/{week}")) if p.is_dir()} if base.is_dir() else {}
    if not found:
        raise UserError(f"No submissions of {week} in {base}; run `nbgrader collect {week}` (or "
                        f"`nbgrader zip_collect {week}`) first.")
    return found


def _result_ids(students) -> dict[str, str]:
    """nbgrader's student id -> the id of its dlgrade result (intake keeps letters, digits, '.', '_' and '-')."""
    from ..intake.identities import _sanitize_id

    ids = {s: _sanitize_id(s) for s in students}
    clash = sorted(s for s in ids if list(ids.values()).count(ids[s]) > 1)
    if clash:
        raise UserError(f"The nbgrader students {', '.join(clash)} would share the dlgrade id {ids[clash[0]]!r}; "
                        "rename one of their folders in submitted/ (and in the gradebook).")
    return ids


def _check_gradebook(db_url: str, week: str) -> None:
    """The gradebook opens and knows the assignment, or one sentence."""
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(db_url) as gb:
            gb.find_assignment(week)
    except MissingEntry:
        raise UserError(f"The gradebook {db_url} has no assignment {week}; run `nbgrader generate_assignment "
                        f"{week}` first.") from None
    except Exception as e:  # noqa: BLE001 - a database that cannot be opened is the machinery's failure
        raise UserError(f"The nbgrader gradebook {db_url} cannot be opened ({type(e).__name__}); check the "
                        "course folder and its nbgrader_config.py.") from None


def _student_copy(folder: Path, dest: Path) -> None:
    """The student's notebooks without the instructor's test cells (their code is nbgrader's, not the student's)."""
    dest.mkdir(parents=True)
    for nb_path in sorted(folder.glob("*.ipynb")):
        data = nb_path.read_bytes()
        try:
            nb = json.loads(data)
            nb["cells"] = [c for c in nb["cells"] if not _is_test_cell(c)]
            data = json.dumps(nb).encode()
        except (ValueError, KeyError, TypeError, AttributeError):
            pass    # intake says what is wrong with it, for this student alone
        (dest / nb_path.name).write_bytes(data)


def _is_test_cell(cell) -> bool:
    m = (cell.get("metadata") or {}).get("nbgrader") or {}
    return bool(m.get("grade")) and not m.get("solution")


def _autograde(coursedir, config, week: str, results_dir: Path, cell_tests: dict, autograded: Path,
               students: dict[str, str]) -> None:
    """nbgrader's autograde over every submission, with dlgrade's results in place of executing the notebook.

    nbgrader goes on past a notebook it cannot read and leaves no autograded
    copy of it; those students are scored afterwards (`_after_autograde`).
    Any other failure is the machinery's.
    """
    import logging

    from nbgrader.converters.base import NbGraderException

    from .nbgrader_autograde import DlgradeAutograde

    config.DlgradeResults.results_dir = str(results_dir.resolve())
    config.DlgradeResults.cell_tests = cell_tests
    config.DlgradeResults.ids = students
    log = logging.getLogger("dlgrade.nbgrader")
    log.setLevel(logging.ERROR)
    app = DlgradeAutograde(coursedir=coursedir, config=config, log=log)
    app.force = True
    try:
        app.start()
    except NbGraderException as e:
        if all((autograded / s / week).is_dir() for s in students):
            raise UserError(f"nbgrader could not record the grades of {week} ({e}).") from None


def _after_autograde(db_url: str, week: str, results_dir: Path, cell_tests: dict, students: dict[str, str],
                     autograded: Path) -> list[str]:
    """What nbgrader's steps cannot know: tests held for review, submissions the grader failed on, notebooks
    nbgrader could not read, and each function's dlgrade feedback as the comment of its solution cell.

    Returns the students whose notebook nbgrader could not read.
    """
    from nbgrader.api import Gradebook, MissingEntry

    unread = [s for s in students if not (autograded / s / week).is_dir()]
    with Gradebook(db_url) as gb:
        assignment = gb.find_assignment(week)
        for student in students:
            result = json.loads((results_dir / f"{students[student]}.json").read_text())
            failed_grader = str(result.get("error") or "").startswith(GRADER_FAILED)
            tests = result.get("tests") or []
            if student in unread:
                gb.update_or_create_submission(week, student)
            for nb in assignment.notebooks:
                for cell in nb.grade_cells:
                    info = cell_tests.get(cell.name)
                    if info is None:
                        continue
                    grade = gb.find_grade(cell.name, nb.name, week, student)
                    status = tests[info["index"]]["status"] if info["index"] < len(tests) else None
                    if student in unread:
                        grade.auto_score = 0.0 if result.get("status") != "graded" else None
                        grade.needs_manual_grade = grade.auto_score is None
                    if failed_grader or status == "review":
                        grade.auto_score = grade.auto_score if status == "review" else None
                        grade.needs_manual_grade = True     # never a zero the student did not earn
                for cell in nb.solution_cells:
                    try:
                        comment = gb.find_comment(cell.name, nb.name, week, student)
                    except MissingEntry:
                        continue
                    if comment.auto_comment == "No response." and student not in unread:
                        continue
                    comment.auto_comment = function_feedback(result, cell.name) or (
                        "nbgrader could not read this notebook" if student in unread else "")
            gb.db.commit()
    return unread


def function_feedback(result: dict, function: str) -> str:
    """dlgrade's feedback on one function of one result, as a comment: its points and each lost test's message."""
    if result.get("status") != "graded":
        return f"not graded by dlgrade: {result.get('error')}"
    tests = [t for t in result.get("tests") or [] if t.get("function") == function]
    if not tests:
        return ""
    got, total = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
    lines = [f"dlgrade: {function} scored {_num(got)} of {_num(total)} points."]
    lines += [f"- {t['name']} ({t['status']}): {t.get('message') or ''}".rstrip(": ")
              for t in tests if t["status"] != "passed"]
    return "\n".join(lines)
