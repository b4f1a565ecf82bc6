"""`grader.check` in Jupyter and Colab: the public tests on the functions of the running notebook.

The code graded is the notebook's own: the cells the kernel has run (IPython
keeps them in `In`), converted to a module the way a submitted notebook is
(imports, definitions and constants kept; magics, shell lines and top-level
work dropped). That module is graded by `api.check`, so the student's code
runs in a sandboxed worker, never in the kernel's grading loop.

Where the strict sandbox cannot be had (a Colab VM or container without user
namespaces), `check` falls back to the weak sandbox and says so above the
table: it runs the student's own code, on the student's own machine, against
the public tests only. Instructor grading never falls back.
"""

from __future__ import annotations

import atexit
import html
import shutil
from pathlib import Path

from .course import WEEK_RE, Course
from .errors import UserError

WEAK_NOTE = ("the full sandbox is not available here, so your code ran in a weak sandbox "
             "(fine for your own code and the public tests; `dlgrade doctor` says what is missing)")


class CheckError(UserError):
    """A mistake `grader.check` can name in one sentence; IPython shows that sentence, not a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31merror:\x1b[0m {self}"]


class CheckReport:
    """The result of `grader.check`: an HTML table in Jupyter and Colab, a text table elsewhere."""

    def __init__(self, result: dict, function: str | None, notes: list[str]):
        self.result = result
        self.function = function
        self.notes = notes

    @property
    def tests(self) -> list[dict]:
        return [t for t in self.result.get("tests", []) if self.function is None or t.get("function") == self.function]

    @property
    def score(self) -> float:
        return sum(t.get("score", 0) for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.get("max_score", 0) for t in self.tests)

    @property
    def passed(self) -> bool:
        return self.result.get("status") == "graded" and bool(self.tests) and all(
            t.get("status") == "passed" for t in self.tests)

    def _title(self) -> str:
        from .report.common import _pts

        what = self.function or self.result.get("week", "")
        return f"{what}: {_pts(self.score, self.max_score)} points on the public tests"

    def _all_notes(self) -> list[str]:
        from .report.common import _notes

        return list(dict.fromkeys(self.notes + _notes(self.result)))

    def __str__(self) -> str:
        from .report import render_result

        shown = dict(self.result, tests=self.tests, score=self.score, max_score=self.max_score,
                     notes=self._all_notes())
        return render_result(shown, "text", width=100)

    def __repr__(self) -> str:
        return f"<grader.check {self._title()}>"

    def _repr_pretty_(self, p, cycle) -> None:   # IPython in a terminal: the text table
        p.text(str(self))

    def _repr_html_(self) -> str:
        from .report.common import STATUS_STYLE, _pts, _short_name, cleaned

        def h(s) -> str:
            return html.escape(str(s if s is not None else ""), quote=True)

        colour = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#cf222e", "timeout": "#9a6700",
                  "review": "#9a6700"}
        ok = self.passed
        cell = "text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid #d0d7de"
        pre = '<pre style="margin:0;white-space:pre-wrap">{}</pre>'
        rows = []
        for t in cleaned(self.tests):
            st = str(t.get("status", ""))
            msg = "" if st == "passed" else str(t.get("message") or "").strip()
            rows.append(f'<tr><td style="{cell}">{h(_short_name(t))}</td>'
                        f'<td style="{cell};text-align:right">{h(_pts(t.get("score", 0), t.get("max_score", 0)))}</td>'
                        f'<td style="{cell};font-weight:600;color:{colour.get(st, "#8250df")}">'
                        f'{h(st if st in STATUS_STYLE else "other")}</td>'
                        f'<td style="{cell}">{pre.format(h(msg)) if msg else ""}</td></tr>')
        parts = [f'<div class="dlgrade-check"><p style="font-weight:600;color:{"#1a7f37" if ok else "#cf222e"}">'
                 f"{h(self._title())}{' - all passed' if ok else ''}</p>"]
        if self.result.get("error"):
            parts.append(f'<p style="color:#cf222e">Not gradable: {h(self.result["error"])}</p>')
        parts += [f'<p style="color:#9a6700">note: {h(n)}</p>' for n in cleaned(self._all_notes())]
        if rows:
            head = "".join(f'<th style="{cell}">{c}</th>' for c in ("Test", "Points", "Status", "Feedback"))
            parts.append(f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
                         f"<tbody>{''.join(rows)}</tbody></table>")
        parts.append("</div>")
        return "".join(parts)


def check(name: str | None = None, *, week: str | None = None, course: Course | None = None,
          source: str | None = None) -> CheckReport:
    """Grade the notebook's `name` (a function, or a week for all its functions) with the public tests.

    `week` is found from the function's name when not given. `source` is the
    module to grade (default: the cells run so far in this kernel). Outside
    IPython the text table is also printed.
    """
    from .intake import IntakeError, notebook_to_module

    try:
        course = course or Course.find()
        function, w = _resolve(name, week, course)
        notes = []
        if source is None:
            source, notes = notebook_to_module(_kernel_notebook(), "this notebook")
        notes = [n for n in notes if not n.startswith("converted")]
        report = _run(course, w, source, function, notes)
    except (UserError, IntakeError) as e:
        raise CheckError(str(e)) from None
    if not _in_ipython():
        print(report)
    return report


# The kernel keeps one started sandbox per week: its warm parent has imported torch once, so a later
# check costs the tests, not another `import torch`. It is the student's own code each time.
_SANDBOXES: dict[tuple[str, str, bool], object] = {}


def _sandbox(course: Course, week, weak: bool):
    key = (str(course.root), week.name, weak)
    box = _SANDBOXES.get(key)
    if box is None or box.fatal or box.pid is None:
        from .runner import week_sandbox

        if not _SANDBOXES:
            atexit.register(close_sandboxes)
        box = week_sandbox(week, limits=course.settings().limits(), weak_sandbox=weak).start()
        _SANDBOXES[key] = box
    return box


def close_sandboxes() -> None:
    """Stop the warm parents this kernel started (also done when the kernel exits)."""
    while _SANDBOXES:
        _SANDBOXES.popitem()[1].close()


def _run(course: Course, week, source: str, function: str | None, notes: list[str]) -> CheckReport:
    import torch

    from .intake.scratch import make_workdir
    from .sandbox import SandboxFailure

    threads = torch.get_num_threads()   # grading sets one thread; the student's own work keeps its own
    tmp = make_workdir()
    try:
        folder = tmp / "notebook"
        folder.mkdir()
        (folder / f"{week.module}.py").write_text(source)
        try:
            result = _check_in(course, week, folder, weak=False)
        except SandboxFailure:
            result = _check_in(course, week, folder, weak=True)
            notes = [WEAK_NOTE, *notes]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        torch.set_num_threads(threads)
    if function and not any(t.get("function") == function for t in result.get("tests", [])):
        raise UserError(f"{week.name} has no public test of {function}; check the whole week with "
                        f"grader.check(\"{week.name}\").")
    return CheckReport(result, function, notes)


def _check_in(course: Course, week, folder: Path, weak: bool) -> dict:
    from . import api

    box = _sandbox(course, week, weak)
    try:
        return api.check(week=week.name, path=folder, course=course, weak_sandbox=weak, sandbox=box)
    except BaseException:
        _SANDBOXES.pop((str(course.root), week.name, weak), None)   # never reuse one that failed
        box.close()
        raise


def _resolve(name: str | None, week: str | None, course: Course):
    """(function or None, Week) from what the student wrote."""
    if name is None and week is None:
        raise UserError('Say what to check: grader.check("conv2d_forward") for one function, or '
                        'grader.check("week04") for a whole week.')
    if name is not None and WEEK_RE.match(name.strip().lower()):
        return None, course.week(name)
    if week is not None:
        w = course.week(week)
        if name is not None and name not in w.functions:
            raise UserError(f"{w.name} has no function {name}; its functions are {', '.join(w.functions)}.")
        return name, w
    owners = [course.week(n) for n in course.weeks() if name in course.week(n).functions]
    if not owners:
        raise UserError(f"No week of this course has a function {name}; check the spelling, or give the week: "
                        f'grader.check("{name}", week="week04").')
    if len(owners) > 1:
        raise UserError(f"{name} is a function of {', '.join(w.name for w in owners)}; say which: "
                        f'grader.check("{name}", week="{owners[-1].name}").')
    return name, owners[0]


def _in_ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _kernel_notebook() -> str:
    """The cells this kernel has run, in order, as a notebook's JSON (the converter's input)."""
    import json

    ip = _in_ipython()
    if ip is None:
        raise UserError("grader.check grades the notebook it runs in; from a terminal, run "
                        "`dlgrade check WEEK` on your module or notebook instead.")
    # In[n] is what ran as [n]: a note about "cell n" names the execution count the student sees
    cells = [c if isinstance(c, str) else "" for c in ip.user_ns.get("In", [])[1:]]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                                  "execution_count": None} for c in cells]})


def make_notebook(week, stub: str) -> dict:
    """The student notebook of a week (nbformat 4): an introduction, a cell per function, a check after each."""
    import ast

    tree = ast.parse(stub)
    lines = stub.splitlines(keepends=True)
    doc = ast.get_docstring(tree) or ""
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    starts = [min([n.lineno] + [d.lineno for d in n.decorator_list]) for n in defs]
    body_start = tree.body[0].end_lineno + 1 if doc else 1   # the docstring goes to the introduction
    first_def = starts[0] if starts else len(lines) + 1
    setup = "".join(lines[body_start - 1:first_def - 1]).strip("\n")
    fns = ", ".join(f"`{f}`" for f in week.functions)
    intro = (f"# {week.name}: {week.title}\n\n{doc}\n\n## How to work\n\n"
             f"Write {fns} in the cells below; keep the names and signatures as they are. "
             "Run a function's cell, then the check cell under it: it runs the public tests on the function "
             "as this notebook defines it and shows a table (points, status, and why a test failed).\n\n"
             f"When every check passes, save the notebook and hand it in:\n\n"
             f"    dlgrade submit {week.name} {week.name}.ipynb --student YOUR_ID\n\n"
             "The public tests are a sample: the hidden tests try other inputs, so passing them is necessary, "
             "not sufficient.")
    colab = ("# In Colab, run this cell first: it fetches the course and installs dlgrade.\n"
             "# On your own machine (the course folder, dlgrade installed) it does nothing.\n"
             "if \"google.colab\" in str(get_ipython()):\n"
             "    !git clone -q https://github.com/COURSE/REPO /content/course || true\n"
             "    %pip install -q /content/course\n"
             f"    %cd /content/course/assignments/{week.name}\n")
    cells = [_cell("markdown", intro), _cell("code", colab), _cell("code", f"import grader\n\n{setup}".rstrip())]
    for i, node in enumerate(defs):
        end = starts[i + 1] - 1 if i + 1 < len(defs) else len(lines)
        cells.append(_cell("code", "".join(lines[starts[i] - 1:end]).strip("\n")))
        if node.name in week.functions:
            cells.append(_cell("code", f'grader.check("{node.name}")'))
    cells += [_cell("markdown", f"## All of {week.name}\n\nThe public tests of every function of the week:"),
              _cell("code", f'grader.check("{week.name}")')]
    for i, cell in enumerate(cells):
        cell["id"] = f"{week.name}-{i:02d}"     # stable ids: the same stub gives the same notebook
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}, "dlgrade": {"week": week.name}}}


def _cell(kind: str, text: str) -> dict:
    source = text.splitlines(keepends=True)
    cell = {"cell_type": kind, "id": "", "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell
