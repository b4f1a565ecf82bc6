"""The week's student notebook, run in a real Jupyter kernel: `grader.check` grades the functions the
notebook defines and shows the result as an HTML table, hints included.

The generated week04 notebook is cut after conv2d_forward's check cell; its stub cell is replaced by the
reference's conv2d_forward, and a second definition with the kernel flipped follows, with its own check cell.
One kernel runs it all (nbclient, ipykernel's `python3` kernel on this venv's Python).
"""

from __future__ import annotations

import ast
import json
import os
import sys
import zipfile

import pytest

from support import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

WEEK = ROOT / "assignments" / "week04"


def _reference_function(name: str) -> str:
    source = (ROOT / "solutions" / "week04" / "conv.py").read_text()
    [node] = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name]
    return ast.get_source_segment(source, node)


def _outputs(cell) -> tuple[str, str]:
    """(HTML, text) of a cell's outputs."""
    html, text = [], []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        html.append(data.get("text/html", ""))
        text.append(data.get("text/plain", "") + out.get("text", "") + "".join(out.get("traceback", [])))
    return "".join(html), "".join(text)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(WEEK / "week04.ipynb", as_version=4)
    nbformat.validate(nb)
    cells = nb.cells
    stub_at = next(i for i, c in enumerate(cells) if c.source.startswith("def conv2d_forward"))
    assert cells[stub_at + 1].source == 'grader.check("conv2d_forward")'
    right = _reference_function("conv2d_forward")
    wrong = right.replace("w[:, :, i, j]", "w[:, :, KH - 1 - i, KW - 1 - j]")
    assert wrong != right
    cells[stub_at].source = right
    nb.cells = cells[:stub_at + 2] + [nbformat.v4.new_code_cell(wrong),
                                      nbformat.v4.new_code_cell('grader.check("conv2d_forward")')]
    env = {k: v for k, v in os.environ.items() if k != "DLGRADE_COURSE"}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=240, allow_errors=False,
                                     resources={"metadata": {"path": str(WEEK)}})
    client.execute(env=env)   # passed on to the kernel: no DLGRADE_COURSE, the course is found from the cwd
    return nb, stub_at


def test_a_correct_function_passes_in_an_html_table(executed):
    nb, stub_at = executed
    html, text = _outputs(nb.cells[stub_at + 1])
    assert "<table" in html and "conv2d_forward: 1.0/1.0 points" in html and "all passed" in html, html or text
    assert ">passed<" in html and ">failed<" not in html
    assert html.startswith('<div class="dlgrade-check">') and html.count("<table") == 1  # nothing printed beside it
    assert "stride 2, padding 1" in text and "passed" in text  # text/plain, for frontends without HTML


def test_a_wrong_function_fails_with_the_hint(executed):
    nb, stub_at = executed
    html, text = _outputs(nb.cells[-1])
    assert "conv2d_forward: 0.0/1.0 points" in html and ">failed<" in html, html or text
    assert "the kernel is flipped" in html


def test_the_notebook_converts_without_its_check_cells(tmp_path):
    """`import grader` cells are the checking tool, not the student's code: they never reach the module."""
    from grader.intake import notebook_to_module

    source, _ = notebook_to_module((WEEK / "week04.ipynb").read_text())
    assert "grader" not in source and "def conv2d_forward" in source and "import torch" in source


def test_submit_packs_the_notebook_and_its_module(tmp_path):
    from grader import api

    out, _ = api.submit(week="week04", path=WEEK / "week04.ipynb", student="au123456", output=tmp_path / "s.zip")
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        module = z.read("conv.py").decode()
    assert names == {"conv.py", "week04.ipynb", "manifest.json"}
    assert set(manifest["files"]) == {"conv.py", "week04.ipynb"}
    assert "def conv2d_forward" in module and "import grader" not in module


def test_without_the_strict_sandbox_check_falls_back_to_the_weak_one_and_says_so(monkeypatch):
    """A student's own code against the public tests may run weakly confined; it is said above the table."""
    from grader import api, notebook
    from grader.course import Course
    from grader.sandbox import SandboxFailure

    real, calls = api.check, []

    def strict_unavailable(**kw):
        calls.append(kw.get("weak_sandbox", False))
        if not kw.get("weak_sandbox"):
            raise SandboxFailure("the sandbox lacks user-namespace here")
        return real(**kw)

    import torch

    monkeypatch.setattr(api, "check", strict_unavailable)
    source = (ROOT / "solutions" / "week04" / "conv.py").read_text()
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        report = notebook.check("gradient_magnitude", course=Course(ROOT), source=source)
        assert torch.get_num_threads() == 3          # the student's own torch work keeps its threads
    finally:
        torch.set_num_threads(threads)
        notebook.close_sandboxes()
    assert calls == [False, True]
    assert report.passed and report.notes[0] == notebook.WEAK_NOTE and "weak sandbox" in report._repr_html_()


def test_a_name_no_week_has_is_one_sentence():
    from grader import notebook
    from grader.course import Course
    from grader.errors import UserError

    with pytest.raises(UserError, match="No week of this course has a function conv3d_forward") as e:
        notebook.check("conv3d_forward", course=Course(ROOT), source="")
    [line] = e.value._render_traceback_()      # what IPython shows instead of a traceback
    assert "conv3d_forward" in line
    with pytest.raises(UserError, match="week04 has no function softmax"):
        notebook.check("softmax", week="week04", course=Course(ROOT), source="")


def test_verify_notices_a_missing_or_edited_notebook(tmp_path):
    import shutil

    from grader.course import Course
    from grader.release import _stale_notebook, notebook_file
    from support import FIXTURE_COURSE

    shutil.copytree(FIXTURE_COURSE, tmp_path / "course")
    week = Course(tmp_path / "course").week("week99")
    stub = week.stub_file.read_text()
    assert not _stale_notebook(week, stub)
    nb = notebook_file(week)
    nb.write_text(nb.read_text().replace('grader.check(\\"add\\")', "pass"))
    assert _stale_notebook(week, stub)
    nb.unlink()
    assert _stale_notebook(week, stub)


@pytest.mark.parametrize("week", sorted(p.parent.name for p in ROOT.glob("assignments/week*/week*.ipynb")))
def test_every_week_notebook_is_valid_and_grades_as_its_stub(week):
    """The notebook, converted as intake converts it, defines what the stub defines, with the same imports."""
    import ast as _ast

    from grader.course import Course
    from grader.intake import notebook_to_module

    w = Course(ROOT).week(week)
    path = w.stub_file.with_name(f"{week}.ipynb")
    nbformat.validate(nbformat.read(path, as_version=4))
    source, _ = notebook_to_module(path.read_text())

    def shape(code: str):
        tree = _ast.parse(code)
        return ([n.name for n in tree.body if isinstance(n, (_ast.FunctionDef, _ast.ClassDef))],
                sorted(_ast.unparse(n) for n in tree.body if isinstance(n, (_ast.Import, _ast.ImportFrom))))

    assert shape(source) == shape(w.stub_file.read_text())
    assert set(w.functions) <= set(shape(source)[0])


def test_without_a_path_the_edited_notebook_is_taken_when_the_module_is_still_the_stub(tmp_path):
    """A student who worked only in the notebook checks and submits the notebook, and is told so."""
    import shutil

    from grader import api
    from grader.course import Course
    from support import FIXTURE_COURSE

    shutil.copytree(FIXTURE_COURSE, tmp_path / "course")
    course = Course(tmp_path / "course")
    week = course.week("week99")
    nb = week.stub_file.parent / "week99.ipynb"
    nb.write_text(nb.read_text().replace('raise NotImplementedError(\\"add\\")', "return a + b"))

    result = api.check(week="week99", course=course)
    add = [t for t in result["tests"] if t["function"] == "add"]
    assert add and all(t["status"] == "passed" for t in add)
    assert result["notes"][0].startswith("took week99.ipynb: toy.py is still the stub")
    out, warnings = api.submit(week="week99", student="au1", course=course, output=tmp_path / "s.zip")
    with zipfile.ZipFile(out) as z:
        assert "return a + b" in z.read("toy.py").decode() and "week99.ipynb" in z.namelist()
    assert warnings[0].startswith("took week99.ipynb")

    # work in both: the module is taken, and the note says the notebook was not looked at
    stub = week.stub_file.read_text()
    week.stub_file.write_text(stub.replace('raise NotImplementedError("softplus")',
                                           "return torch.log1p(torch.exp(x))"))
    result = api.check(week="week99", course=course)
    assert all(t["status"] != "passed" for t in result["tests"] if t["function"] == "add")
    assert "week99.ipynb has work too (add)" in result["notes"][0]
