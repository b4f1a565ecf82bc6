"""From reference solution to student release, and the checks that keep them true.

`make_stub` replaces each `# BEGIN SOLUTION` ... `# END SOLUTION` block by a
`raise NotImplementedError`. `release` writes the stub and the week's notebook
into `assignments/`, records the reference's answers to the public tests, and
assembles a week's bundle that holds no hidden test and no reference;
`student_bundle` puts the engine and every released week into one folder a
course publishes as its public repository. `verify` proves the
reference scores full marks, the stubs score zero and the recordings are
current.
"""

from __future__ import annotations

import ast
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .course import Week
from .errors import UserError

BEGIN = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
STUB_LINE = "{indent}# TODO: your code here\n{indent}raise NotImplementedError(\"{name}\")\n"


def make_stub(source: str, filename: str = "solution") -> str:
    """The student version of a solution file."""
    out, inside, indent = [], False, ""
    lines = source.splitlines(keepends=True)
    for lineno, line in enumerate(lines, 1):
        if BEGIN.match(line):
            if inside:
                raise UserError(f"{filename}, line {lineno}: BEGIN SOLUTION inside another solution block.")
            inside, indent = True, BEGIN.match(line).group(1)
            out.append(STUB_LINE.format(indent=indent, name=_enclosing_def(lines, lineno)))
        elif END.match(line):
            if not inside:
                raise UserError(f"{filename}, line {lineno}: END SOLUTION without BEGIN SOLUTION.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise UserError(f"{filename}: a BEGIN SOLUTION block is never closed.")
    stub = "".join(out)
    try:
        ast.parse(stub)
    except SyntaxError as e:
        raise UserError(f"{filename}: the generated stub does not parse (line {e.lineno}): {e.msg}.") from None
    return stub


def _enclosing_def(lines: list[str], lineno: int) -> str:
    for line in reversed(lines[: lineno - 1]):
        m = re.match(r"\s*(?:async\s+)?def\s+(\w+)|\s*class\s+(\w+)", line)
        if m:
            return m.group(1) or m.group(2)
    return "solution"


def write_stub(week: Week) -> Path:
    if not week.has_reference():
        raise UserError(f"{week.name} has no reference solution at {week.solution_file}.")
    stub = make_stub(week.solution_file.read_text(), str(week.solution_file))
    week.stub_file.parent.mkdir(parents=True, exist_ok=True)
    week.stub_file.write_text(stub)
    return week.stub_file


def record_public(week: Week, **run_options) -> tuple[dict, dict]:
    """Run the public suite with the reference; return every answer it gave, and its result."""
    from .plugin import Target
    from .runner import run_week

    store: dict = {}
    results = run_week(week, [Target("reference", week.solution_file.parent)], visibility="public",
                       reference="record", recorded=store, **run_options)
    return store, results[0]


def release(week: Week, out_dir: Path | None = None, **run_options) -> dict:
    """Stub, recorded public answers and a student bundle (folder and zip)."""
    import torch

    out_dir = out_dir or week.course.root / "release"
    bundle = out_dir / week.name
    _refuse_course_folder(bundle, week.course.root, week.data_dir, week.solution_file.parent, week.stub_file.parent)
    stub = write_stub(week)
    store, ref_result = record_public(week, **run_options)
    if ref_result["score"] != ref_result["max_score"]:
        raise UserError(f"The reference does not pass its own public tests ({ref_result['score']:g}/"
                        f"{ref_result['max_score']:g}); fix the solution or the suite first.")
    torch.save(store, week.expected_file)
    notebook = write_notebook(week)
    if bundle.exists():
        shutil.rmtree(bundle)
    (bundle / "assignments" / week.name).mkdir(parents=True)
    data = bundle / "autograder_data" / week.name
    data.mkdir(parents=True)
    _copy_week(week, bundle)
    archive = _zip_folder(bundle, out_dir / f"{week.name}.zip")
    return {"stub": stub, "notebook": notebook, "expected": week.expected_file, "bundle": bundle, "zip": archive,
            "recorded": len(store)}


# What students get of a week: nothing else is ever copied into a student release.
PUBLIC_DATA = ("week.toml", "test_public.py", "public_expected.pt")


def notebook_file(week: Week) -> Path:
    return week.stub_file.with_name(f"{week.name}.ipynb")


def write_notebook(week: Week) -> Path:
    """`assignments/WEEK/WEEK.ipynb`, built from the week's stub."""
    import json

    from .notebook import make_notebook

    path = notebook_file(week)
    path.write_text(json.dumps(make_notebook(week, week.stub_file.read_text()), indent=1, ensure_ascii=False) + "\n")
    return path


def _copy_week(week: Week, root: Path) -> None:
    """A week's student files (stub, notebook, public suite and recordings) into the course folder `root`."""
    assignments = root / "assignments" / week.name
    data = root / "autograder_data" / week.name
    assignments.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    for src in (week.stub_file, notebook_file(week)):
        shutil.copy(src, assignments / src.name)
    for name in PUBLIC_DATA:
        shutil.copy(week.data_dir / name, data / name)


def _zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    """Every file of `folder` into `archive`, under `prefix` (a folder name inside the zip) when given."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, Path(prefix) / p.relative_to(folder))
    return archive


def student_bundle(course, out: Path, weeks: list[str] | None = None, repo: str | None = None) -> dict:
    """The folder (and zip) a course publishes to students: the engine, installable, and every released week.

    Each week brings its stub, notebook, public suite and recorded public
    answers, exactly as `dlgrade release WEEK` left them (refused when out of
    date). Solutions, hidden suites, samples and the course's settings stay
    behind. `repo` is the URL of the course's public repository, written
    into the README and the notebooks' Colab cell.
    """
    import grader

    names = [course.week(w).name for w in weeks] if weeks else [
        w for w in course.weeks() if course.week(w).stub_file.exists()]
    if not names:
        raise UserError("No week has a stub yet; run `dlgrade release WEEK` for each week students should get.")
    chosen = [course.week(n) for n in names]
    for w in chosen:
        missing = [p.name for p in (w.stub_file, notebook_file(w), w.expected_file) if not p.exists()]
        stale = w.has_reference() and w.stub_file.exists() and w.stub_file.read_text() != make_stub(
            w.solution_file.read_text(), str(w.solution_file))
        if missing or stale:
            what = f"lacks {', '.join(missing)}" if missing else "has a stub older than its solution"
            raise UserError(f"{w.name} {what}; run `dlgrade release {w.name}` first.")
    project = course.root / "pyproject.toml"
    if not project.is_file() or 'name = "dlgrade"' not in project.read_text():
        raise UserError(f"{project} is not dlgrade's pyproject.toml; make the bundle from the course repository.")
    out = Path(out)
    _refuse_course_folder(out, course.root)
    if out.exists():
        if not (out / "pyproject.toml").exists() and any(out.iterdir()):
            raise UserError(f"{out} exists and is not a student bundle; give a new folder.")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(Path(grader.__file__).parent, out / "grader",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(project, out / "pyproject.toml")
    url = repo or "https://github.com/COURSE/REPO"
    for w in chosen:
        _copy_week(w, out)
        nb = out / "assignments" / w.name / notebook_file(w).name
        nb.write_text(nb.read_text().replace("https://github.com/COURSE/REPO", url))
    (out / "README.md").write_text(_student_readme(chosen, url))
    (out / ".gitignore").write_text("__pycache__/\n*.egg-info/\nbuild/\n*.zip\n")
    archive = _zip_folder(out, out.with_name(out.name + ".zip"), prefix=out.name)   # unzips into one folder
    return {"bundle": out, "zip": archive, "weeks": names}


def _refuse_course_folder(out: Path, *keep: Path) -> None:
    """`out` is replaced by a release: refused when it is, or holds, the course or one of its week's folders."""
    if any(Path(k).resolve().is_relative_to(Path(out).resolve()) for k in keep):
        raise UserError(f"{out} holds the course itself; give the release a new folder.")


def _student_readme(weeks: list[Week], url: str) -> str:
    rows = "\n".join(f"| {w.name} | {w.title} | `assignments/{w.name}/{w.module}.py`, "
                      f"`assignments/{w.name}/{w.name}.ipynb` |" for w in weeks)
    first = weeks[0]
    fn = first.functions[0] if first.functions else first.name
    return f"""# Course exercises

Each week you write a few PyTorch functions. `dlgrade` runs the public tests on them
and tells you what is wrong; your teachers grade them with more (hidden) tests.

| week | topic | your files |
|------|-------|------------|
{rows}

## In Colab

Open a week's notebook (File > Open notebook > GitHub, paste `{url}`), and run its first
cell, which does this:

```python
!git clone -q {url} /content/course
%pip install -q /content/course
%cd /content/course/assignments/{first.name}
import grader
grader.check("{fn}")          # after you have written {fn}
```

## On your own machine

```bash
git clone {url} course        # or unzip the course zip
cd course
python -m venv .venv && . .venv/bin/activate
pip install .                 # installs the `dlgrade` command and `import grader`
dlgrade check {first.name}         # public tests on assignments/{first.name}/{first.module}.py
```

Work in the module (`assignments/WEEK/MODULE.py`) or in the notebook (`assignments/WEEK/WEEK.ipynb`,
where `grader.check("function")` shows the result under the cell). Run `dlgrade` inside this folder:
it finds the course by looking for `autograder_data/`.

```bash
dlgrade check {first.name} assignments/{first.name}/{first.name}.ipynb   # a notebook works as well
dlgrade submit {first.name} --student YOUR_ID                # writes {first.name}-YOUR_ID.zip to hand in
dlgrade submit {first.name} assignments/{first.name}/{first.name}.ipynb --student YOUR_ID
```

Passing the public tests is necessary, not sufficient: the hidden tests try other inputs.
Your code runs in a sandbox (Linux user namespaces); where there is none (macOS, Windows),
add `--weak-sandbox` to `dlgrade check` (`grader.check` does this by itself and says so).
"""


@dataclass
class Verification:
    week: str
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(week: Week, **run_options) -> Verification:
    """Reference full marks, stubs zero, stub and recordings current, tests well formed."""
    from .plugin import Target
    from .runner import run_week

    v = Verification(week.name)
    if not week.has_reference():
        v.problems.append(f"no reference solution at {week.solution_file}")
        return v
    expected_stub = make_stub(week.solution_file.read_text(), str(week.solution_file))
    if not week.stub_file.exists() or week.stub_file.read_text() != expected_stub:
        v.problems.append(f"{week.stub_file} is missing or out of date: run `dlgrade release {week.name}`")
    nb = notebook_file(week)
    if _stale_notebook(week, expected_stub):
        v.problems.append(f"{nb} is missing or out of date: run `dlgrade release {week.name}`")
    if "BEGIN SOLUTION" in expected_stub:
        v.problems.append("the stub still holds a solution marker")
    store: dict = {}  # the public answers, recorded in the same run
    ref, stub = run_week(week, [Target("reference", week.solution_file.parent),
                                Target("stub", week.stub_file.parent)], visibility="all", reference="record",
                         recorded=store, **run_options)
    v.lines.append(f"reference: {ref['score']:g}/{ref['max_score']:g} over {len(ref['tests'])} tests")
    v.lines.append(f"stubs:     {stub['score']:g}/{stub['max_score']:g}")
    for t in ref["tests"]:
        if t["status"] != "passed":
            v.problems.append(f"the reference fails '{t['name']}': {t['message']}")
        if not t["function"]:
            v.problems.append(f"'{t['name']}' has no @pytest.mark.function(...)")
        elif t["function"] not in week.functions:
            v.problems.append(f"'{t['name']}' grades {t['function']}, which week.toml does not list")
    if stub["score"] != 0:
        passed = [t["name"] for t in stub["tests"] if t["status"] == "passed"]
        v.problems.append(f"the stubs score {stub['score']:g}, not 0 (passing: {', '.join(passed)})")
    untested = sorted(set(week.functions) - {t["function"] for t in ref["tests"]})
    if untested:
        v.problems.append(f"no test grades {', '.join(untested)}")
    if week.expected_file.exists():
        import torch

        from .testing import GradingFailure, check

        old = torch.load(week.expected_file, weights_only=True)
        stale = set(store) != set(old)
        if not stale:
            try:
                for k in store:
                    check(old[k], store[k], name="recorded answer")
            except GradingFailure:
                stale = True
        if stale:
            v.problems.append(f"{week.expected_file.name} is out of date: run `dlgrade release {week.name}`")
        else:
            v.lines.append(f"public recordings: {len(store)} answers, current")
    else:
        v.problems.append(f"{week.expected_file.name} is missing: run `dlgrade release {week.name}`")
    return v


def _stale_notebook(week: Week, stub: str) -> bool:
    import json

    from .notebook import make_notebook

    path = notebook_file(week)
    try:
        return json.loads(path.read_text()) != make_notebook(week, stub)
    except (OSError, ValueError):
        return True
