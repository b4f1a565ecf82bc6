"""The student bundle (`dlgrade release --student-bundle OUT`) holds nothing secret, and works on its own.

Secret means (a) a line of a reference solution's body: every line between `# BEGIN SOLUTION` and
`# END SOLUTION` of 12 characters or more (shorter ones, such as `return out` or `else:`, are in any
code), comments left out, and left out too when the same line is public anyway (in the solution's
docstrings and signatures, which the stub keeps, in a public suite or a week.toml); (b) the name of a hidden test
that no public test shares; (c) a string literal of the hidden suites of 24 characters or more that no
public file holds (their hints and descriptions of hidden inputs; hidden inputs themselves are drawn
from a seed at grading time, so no literal holds them). Every file is read as bytes, every zip inside
the bundle (its zip, the `.pt` recordings) member by member, and the recordings also as the objects
`torch.load(weights_only=True)` returns.

Working on its own: installed from the bundle into a fresh venv (dependencies from this venv through a
.pth file, as in test_wheel.py), `dlgrade check week04` runs outside the repository with
DLGRADE_COURSE unset: exit 1 and zero points on the stub, exit 0 on the reference.
"""

from __future__ import annotations

import ast
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support import ROOT, run, venv_with_wheel

MIN_LINE = 12
MIN_LITERAL = 24
BEGIN = re.compile(r"^\s*#+\s*BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*#+\s*END SOLUTION\s*$")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from grader import api
    from grader.course import Course

    out = tmp_path_factory.mktemp("bundle") / "course"
    info = api.student_bundle(out=out, repo="https://example.org/course.git", course=Course(ROOT))
    return info


def _public_text() -> str:
    """What students may read anyway: the solutions outside their solution blocks, the public suites and
    the weeks' week.toml."""
    parts = [f.read_text() for pattern in ("test_public.py", "week.toml")
             for f in sorted(ROOT.glob(f"autograder_data/week*/{pattern}"))]
    for f in sorted(ROOT.glob("solutions/week*/*.py")):
        parts += [line.strip() for line, inside in _solution_lines(f) if not inside]
    return "\n".join(parts)


def _solution_lines(path: Path):
    inside = False
    for line in path.read_text().splitlines():
        if BEGIN.match(line) or END.match(line):
            inside = bool(BEGIN.match(line))
            continue
        yield line, inside


def secrets() -> dict[str, str]:
    """{secret text: where it comes from}."""
    public = _public_text()
    out = {}
    for f in sorted(ROOT.glob("solutions/week*/*.py")):
        for line, inside in _solution_lines(f):
            s = line.strip()
            if inside and len(s) >= MIN_LINE and not s.startswith("#") and s not in public:
                out[s] = f"solution line of {f.relative_to(ROOT)}"
    for f in sorted(ROOT.glob("autograder_data/week*/test_hidden.py")):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                if not re.search(rf"\bdef {node.name}\b", public):
                    out[node.name] = f"hidden test name in {f.relative_to(ROOT)}"
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                for piece in node.value.splitlines():
                    piece = piece.strip()
                    if len(piece) >= MIN_LITERAL and piece not in public:
                        out[piece] = f"hidden suite literal in {f.relative_to(ROOT)}"
    return out


def readable(path: Path) -> dict[str, str]:
    """{where: text} for a file, and for every member of a zip, recursively (a .pt file is a zip)."""
    return _readable(path.name, path.read_bytes())


def _readable(name: str, data: bytes) -> dict[str, str]:
    out = {name: data.decode("utf-8", errors="replace")}
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                out.update(_readable(f"{name}!{member}", z.read(member)))
    if name.endswith(".pt"):
        import torch

        out[f"{name} (loaded)"] = repr(torch.load(io.BytesIO(data), weights_only=True))
    return out


def find_leaks(folder: Path, archive: Path) -> list[str]:
    texts = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            texts.update({f"{p.relative_to(folder)}{k[len(p.name):]}": v for k, v in readable(p).items()})
    texts.update(readable(archive))
    everything = "\0".join(texts.values())          # one search per secret; where, only for those found
    names = set(re.findall(r"\btest_\w+", everything))
    found = []
    for secret, origin in secrets().items():
        if secret in names if secret.startswith("test_") and secret.isidentifier() else secret in everything:
            found += [f"{origin}: {secret!r} in {where}" for where, text in texts.items() if secret in text]
    return found


def test_the_bundle_holds_every_week_and_the_engine(bundle):
    out = bundle["bundle"]
    assert bundle["weeks"] == sorted(p.name for p in (ROOT / "autograder_data").glob("week*") if p.is_dir())
    for week in bundle["weeks"]:
        assert sorted(p.name for p in (out / "autograder_data" / week).iterdir()) == [
            "public_expected.pt", "test_public.py", "week.toml"]
        assert (out / "assignments" / week / f"{week}.ipynb").is_file()
    assert (out / "grader" / "cli.py").is_file() and (out / "pyproject.toml").is_file()
    readme = (out / "README.md").read_text()
    assert "https://example.org/course.git" in readme and "grader.check(" in readme
    with zipfile.ZipFile(bundle["zip"]) as z:
        names = set(z.namelist())
    assert names == {f"course/{p.relative_to(out).as_posix()}" for p in out.rglob("*") if p.is_file()}


def test_no_solution_line_or_hidden_test_anywhere_in_the_bundle(bundle):
    assert len(secrets()) > 300          # the scan has something to look for: every week's secrets
    # and it reads what it must: a public test is found inside the zip
    texts = readable(bundle["zip"])
    assert any("def test_conv2d_forward" in t for w, t in texts.items() if w.endswith("week04/test_public.py"))
    assert find_leaks(bundle["bundle"], bundle["zip"]) == []


def test_installed_from_the_bundle_alone_dlgrade_checks_outside_the_repository(bundle, tmp_path):
    import importlib.util

    if not (importlib.util.find_spec("setuptools.command.bdist_wheel") or importlib.util.find_spec("wheel")):
        pytest.skip("this venv's setuptools cannot build wheels offline (setuptools >= 70.1 or wheel needed)")
    course = tmp_path / "course"
    shutil.copytree(bundle["bundle"], course)   # what a student clones
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", tmp_path / "dist", f"{course}{os.sep}"])
    [wheel] = (tmp_path / "dist").glob("*.whl")
    venv = tmp_path / "venv"
    python = venv_with_wheel(venv, wheel)
    shutil.rmtree(course / "build", ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DLGRADE_COURSE", "PYTHONPATH")}
    dlgrade = venv / "bin" / "dlgrade"

    where = run([python, "-c", "import grader; print(grader.__file__)"], cwd=tmp_path, env=env).stdout.strip()
    assert where.startswith(str(venv)), where
    assert not str(course).startswith(str(ROOT))

    stub = subprocess.run([dlgrade, "check", "week04", "--json", tmp_path / "stub.json"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)
    assert stub.returncode == 1, stub.stdout + stub.stderr
    import json

    result = json.loads((tmp_path / "stub.json").read_text())
    assert result["status"] == "graded" and result["score"] == 0 and result["max_score"] > 0

    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(ROOT / "solutions" / "week04" / "conv.py", mine / "conv.py")
    good = subprocess.run([dlgrade, "check", "week04", mine / "conv.py"], cwd=course / "assignments", env=env,
                          capture_output=True, text=True, timeout=300)
    assert good.returncode == 0, good.stdout + good.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    lost = subprocess.run([dlgrade, "check", "week04"], cwd=empty, env=env, capture_output=True, text=True,
                          timeout=60)
    assert lost.returncode == 2 and "public repository" in lost.stderr and "Traceback" not in lost.stderr


@pytest.mark.parametrize("where", [".", ".."])
def test_the_bundle_never_replaces_the_course_itself(tmp_path, where):
    """OUT naming the course folder (or a folder holding it) is refused, not emptied."""
    from grader.course import Course
    from grader.errors import UserError
    from grader.release import student_bundle

    course = tmp_path / "course"
    for part in ("autograder_data/week04", "solutions/week04", "assignments/week04"):
        shutil.copytree(ROOT / part, course / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", course / "pyproject.toml")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "dlgrade"\n')      # so ".." looks like a bundle too
    with pytest.raises(UserError, match="holds the course"):
        student_bundle(Course(course), course / where, ["week04"])
    assert (course / "solutions" / "week04" / "conv.py").is_file()


@pytest.mark.parametrize("where", ["solutions", "autograder_data", "assignments"])
def test_a_week_release_never_replaces_the_weeks_own_folders(tmp_path, where):
    """`dlgrade release week04 -o solutions` would replace solutions/week04 by the student bundle."""
    from grader.course import Course
    from grader.errors import UserError
    from grader.release import release

    course = tmp_path / "course"
    for part in ("autograder_data/week04", "solutions/week04", "assignments/week04"):
        shutil.copytree(ROOT / part, course / part, ignore=shutil.ignore_patterns("__pycache__"))
    with pytest.raises(UserError, match="holds the course"):
        release(Course(course).week("week04"), course / where)
    assert (course / where / "week04").is_dir()
