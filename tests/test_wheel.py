"""The wheel is complete: built from this checkout, installed in a fresh venv outside the repository, it runs
`dlgrade check` on a released week in a folder outside the repository.

The fresh venv gets dlgrade from the wheel alone (`--no-deps`, no index); its dependencies (torch, pytest,
click, rich) are the project venv's, put on its path by a .pth file, so the test needs no network and does
not reinstall torch. The project's own editable install is not on that path (its .pth file is not read from
a folder a .pth file adds), so `grader` can only come from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from support import ROOT, run, venv_with_wheel


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The wheel and sdist of a copy of this checkout (building in place would leave build/ in the repository).

    Built offline with the venv's own setuptools (no build isolation, no index).
    """
    import importlib.util

    if not (importlib.util.find_spec("setuptools.command.bdist_wheel") or importlib.util.find_spec("wheel")):
        pytest.skip("this venv's setuptools cannot build wheels offline (setuptools >= 70.1 or wheel needed)")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "grader", src / "grader", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", tmp / "dist", f"{src}{os.sep}"])
    run([sys.executable, "-c", "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
         tmp / "dist"], cwd=src)
    [wheel] = (tmp / "dist").glob("*.whl")
    [sdist] = (tmp / "dist").glob("*.tar.gz")
    return tmp, wheel, sdist


def test_wheel_and_sdist_hold_every_file_the_engine_reads(built):
    _, wheel, sdist = built
    package = {p.relative_to(ROOT).as_posix() for p in (ROOT / "grader").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert "grader/pytest_empty.ini" in package
    with zipfile.ZipFile(wheel) as z:
        assert package <= set(z.namelist()), package - set(z.namelist())
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert package <= names, package - names


def test_installed_wheel_checks_a_released_week_outside_the_repository(built):
    tmp, wheel, _ = built
    venv = tmp / "venv"
    python = venv_with_wheel(venv, wheel)

    # a released week04, as `dlgrade release` lays it out, with the reference as the student's answer
    bundle = tmp / "student"
    data = bundle / "autograder_data" / "week04"
    data.mkdir(parents=True)
    for name in ("week.toml", "test_public.py", "public_expected.pt"):
        shutil.copy(ROOT / "autograder_data" / "week04" / name, data / name)
    (bundle / "assignments" / "week04").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "week04" / "conv.py", bundle / "assignments" / "week04" / "conv.py")
    env = {k: v for k, v in os.environ.items() if k not in ("DLGRADE_COURSE", "PYTHONPATH")}

    where = run([python, "-c", "import grader; print(grader.__file__)"], cwd=bundle, env=env).stdout.strip()
    assert where.startswith(str(venv)), where                     # the wheel's copy, not this checkout
    proc = subprocess.run([venv / "bin" / "dlgrade", "check", "week04"], cwd=bundle, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passed" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
