"""Gradescope: the exported autograder zip, unpacked into a simulated /autograder, grades like `dlgrade grade`.

Gradescope unzips the autograder into ROOT/source, puts the student's upload in
ROOT/submission and runs ROOT/source/run_autograder; here ROOT is a temporary
folder named by AUTOGRADER_ROOT, and setup.sh (which downloads) is only checked
for syntax.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from support import ROOT, by_function

SAMPLES = ROOT / "autograder_data" / "samples" / "week04"
VENV_BIN = str(Path(sys.executable).parent)
ENV = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "CI": "true"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
METADATA = {"users": [{"name": "Ada Lovelace", "email": "ada@example.org", "sid": "au100001"}],
            "assignment": {"title": "Week 4", "due_date": "2026-11-30T23:59:00+00:00"},
            "created_at": "2026-11-29T12:00:00+00:00"}

# A submission that tries to write its own results.json, to edit the autograder and to read its reference
# solution; it answers gradient_magnitude wrongly (no square root) unless it read the reference, so it must
# lose exactly that function's points.
HOSTILE = '''

def gradient_magnitude(gx, gy):
    import glob, json, os
    fake = json.dumps({{"score": 999.0, "tests": []}})
    for d in [os.path.join({root!r}, "results"), os.getcwd(), "/autograder/results"]:
        try:
            with open(os.path.join(d, "results.json"), "w") as f:
                f.write(fake)
        except OSError:
            pass
    for p in glob.glob(os.path.join({root!r}, "source", "**", "*"), recursive=True):
        try:
            with open(p, "a") as f:
                f.write("\\n# edited by a submission\\n")
        except OSError:
            pass
    print(fake)
    try:
        reference = {{}}
        with open(os.path.join({root!r}, "source", "course", "solutions", "week04", "conv.py")) as f:
            exec(f.read(), reference)
        return reference["gradient_magnitude"](gx, gy)
    except Exception:
        return gx * gx + gy * gy
'''


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=600)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gradescope")


@pytest.fixture(scope="module")
def autograder(work) -> Path:
    out = work / "autograder.zip"
    proc = cli("export", "gradescope", "week04", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def unpack(zip_path: Path, root: Path) -> Path:
    """What Gradescope does with the zip: its files in ROOT/source, with their modes."""
    source = root / "source"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(source)
        for info in z.infolist():
            mode = info.external_attr >> 16
            if mode:
                (source / info.filename).chmod(mode & 0o777)
    return source


def run_autograder(zip_path: Path, root: Path, upload: list[Path] | None, *, metadata: bool = True,
                   env: dict | None = None, damage=None) -> dict:
    """Unpack into ROOT, copy the upload into ROOT/submission, run run_autograder; results.json as parsed."""
    source = unpack(zip_path, root)
    if upload is not None:
        (root / "submission").mkdir()
        for p in upload:
            (shutil.copytree if p.is_dir() else shutil.copy)(p, root / "submission" / p.name)
    if metadata:
        (root / "submission_metadata.json").write_text(json.dumps(METADATA))
    if damage:
        damage(source)
    proc = subprocess.run(["bash", str(source / "run_autograder")], cwd=source,
                          env={**(env or ENV), "AUTOGRADER_ROOT": str(root)}, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=600)
    results = root / "results" / "results.json"
    assert results.is_file(), proc.stdout + proc.stderr
    data = json.loads(results.read_text())
    check_spec(data)
    return data


def check_spec(data: dict) -> None:
    """results.json as Gradescope's autograder specification describes it."""
    assert isinstance(data["score"], (int, float))
    assert isinstance(data["execution_time"], (int, float)) and data["execution_time"] >= 0
    assert isinstance(data["output"], str) and data["output"]
    assert data["output_format"] == "md"
    assert data["stdout_visibility"] == "hidden"
    assert data.get("visibility", "visible") in VISIBILITIES
    assert isinstance(data["tests"], list)
    numbers = set()
    for t in data["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output", "output_format", "tags",
                "visibility"} <= set(t), t
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["number"], str) and t["number"] not in numbers
        numbers.add(t["number"])
        assert isinstance(t["score"], float) and isinstance(t["max_score"], float)
        assert 0.0 <= t["score"] <= t["max_score"]
        assert t["status"] in ("passed", "failed")
        assert (t["status"] == "passed") == (t["score"] == t["max_score"] > 0)
        assert t["output_format"] == "md" and isinstance(t["output"], str)
        assert t["visibility"] in VISIBILITIES
        assert isinstance(t["tags"], list) and all(isinstance(x, str) for x in t["tags"])
    if data["tests"]:
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    json.dumps(data, allow_nan=False)  # strict JSON: no NaN or Infinity


def hostile_submission(work: Path, root: Path) -> Path:
    folder = work / "hostile" / root.name
    folder.mkdir(parents=True)
    source = (ROOT / "solutions" / "week04" / "conv.py").read_text()
    (folder / "conv.py").write_text(source + HOSTILE.format(root=str(root)))
    return folder


@pytest.fixture(scope="module")
def graded(work, autograder):
    """The same submissions through `dlgrade grade` and through the simulated Gradescope, in one module."""
    hostile_root = work / "root-hostile"
    uploads = {"correct": [SAMPLES / "au100001" / "conv.py"],        # a module
               "wrong": [SAMPLES / "au100009" / "conv.py"],          # conv2d_forward flips the kernel
               "notebook": [SAMPLES / "au100014.ipynb"],             # a notebook; conv2d_backward wrong
               "hostile": [hostile_submission(work, hostile_root) / "conv.py"]}
    # dlgrade grade takes each as a folder of one student's files, or the notebook itself
    given = {}
    for name, files in uploads.items():
        if files[0].suffix == ".ipynb":
            given[name] = files[0]
        else:
            given[name] = work / "class" / name
            given[name].mkdir(parents=True)
            shutil.copy(files[0], given[name])
    proc = cli("grade", "week04", *map(str, given.values()), "-o", str(work / "out"), "-j", "1")
    assert proc.returncode == 0, proc.stderr
    dlgrade = {name: json.loads((work / "out" / "week04" / f"{Path(p).stem}.json").read_text())
               for name, p in given.items()}
    roots = {name: (hostile_root if name == "hostile" else work / f"root-{name}") for name in uploads}
    before = _tree(unpack(autograder, work / "pristine"))
    gradescope = {name: run_autograder(autograder, roots[name], files) for name, files in uploads.items()}
    return {"dlgrade": dlgrade, "gradescope": gradescope, "roots": roots, "pristine": before}


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _functions(data: dict) -> dict[str, tuple[float, float]]:
    return by_function({"tests": [{**t, "function": t["tags"][0]} for t in data["tests"]]})


def test_zip_follows_the_specification(autograder):
    with zipfile.ZipFile(autograder) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        setup = z.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "gradescope.json", "dlgrade/pyproject.toml", "dlgrade/grader/cli.py",
            "course/autograder_data/week04/week.toml", "course/autograder_data/week04/test_hidden.py",
            "course/autograder_data/week04/public_expected.pt", "course/solutions/week04/conv.py"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "download.pytorch.org/whl/cpu" in setup and "./dlgrade" in setup
    for script in ("setup.sh", "run_autograder"):
        with zipfile.ZipFile(autograder) as z:
            text = z.read(script).decode()
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0, script


def test_correct_submission_full_marks(graded):
    data, ours = graded["gradescope"]["correct"], graded["dlgrade"]["correct"]
    assert data["score"] == ours["score"] == ours["max_score"] == 30.0
    assert all(t["status"] == "passed" for t in data["tests"])
    assert data["extra_data"]["dlgrade"]["status"] == "graded"
    assert "Ada Lovelace" in data["output"] and "2026-11-30" in data["output"]   # from submission_metadata.json
    visibility = {t["name"]: t["visibility"] for t in data["tests"]}
    for t in ours["tests"]:
        assert visibility[t["name"]] == ("visible" if t["visibility"] == "public" else "after_published")
    assert [t["tags"] for t in data["tests"]] == [[t["function"]] for t in ours["tests"]]


@pytest.mark.parametrize("name, broken", [("wrong", "conv2d_forward"), ("notebook", "conv2d_backward")])
def test_wrong_submission_loses_that_function(graded, name, broken):
    data, ours = graded["gradescope"][name], graded["dlgrade"][name]
    assert data["score"] == ours["score"] < 30.0
    functions = _functions(data)
    assert functions == by_function(ours)
    assert {f for f, (s, m) in functions.items() if s < m} == {broken}
    assert functions[broken][0] == 0.0
    failed = [t for t in data["tests"] if t["status"] == "failed"]
    assert failed and all(t["tags"] == [broken] for t in failed)
    for t in failed:   # dlgrade's message in the output; a hidden test's never shows the expected values
        message = next(o["message"] for o in ours["tests"] if o["name"] == t["name"])
        assert message.splitlines()[0] in t["output"]
        if t["visibility"] != "visible":
            assert "expected" not in t["output"].lower()
    if name == "wrong":
        assert any("Hint: the kernel is flipped" in t["output"] for t in failed)


def test_hostile_submission_cannot_raise_its_score(graded):
    data, ours = graded["gradescope"]["hostile"], graded["dlgrade"]["hostile"]
    root = graded["roots"]["hostile"]
    assert data["score"] == ours["score"] == 27.0                       # gradient_magnitude lost, nothing gained
    assert {f for f, (s, m) in _functions(data).items() if s < m} == {"gradient_magnitude"}
    assert json.loads((root / "results" / "results.json").read_text()) == data
    assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]
    assert _tree(root / "source") == graded["pristine"]                  # the autograder was not edited
    assert "999" not in data["output"]


def test_weak_sandbox_export_keeps_the_autograder_out_of_reach(work, graded):
    """--weak-sandbox (for containers that refuse user namespaces): same score, and still no reading the reference.

    Where the machine grants every isolation feature, a weak sandbox has them all and this shows the packed
    setting at work; on one without user namespaces it also shows that the worker (nobody) cannot read
    the autograder's files.
    """
    out = work / "weak.zip"
    proc = cli("export", "gradescope", "week04", "--weak-sandbox", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out) as z:
        assert 'sandbox = "weak"' in z.read("course/dlgrade.toml").decode()
    # a root that others may pass through, as /autograder is (pytest's own temporary folders are private)
    root = Path(tempfile.mkdtemp(prefix="dlgrade-gradescope-weak-"))
    root.chmod(0o755)
    try:
        data = run_autograder(out, root, [hostile_submission(work, root) / "conv.py"])
        assert data["extra_data"]["dlgrade"]["sandbox"]["mode"] == "weak"
        assert data["score"] == graded["dlgrade"]["hostile"]["score"] == 27.0
        assert json.loads((root / "results" / "results.json").read_text()) == data
    finally:
        shutil.rmtree(root)


def test_gradescope_and_dlgrade_grade_agree(graded):
    for name, ours in graded["dlgrade"].items():
        data = graded["gradescope"][name]
        assert data["score"] == ours["score"], name
        assert [(t["name"], t["score"]) for t in data["tests"]] == [(t["name"], t["score"]) for t in ours["tests"]]


def test_hidden_visibility_is_configurable(work, autograder, graded):
    from grader.integrations.gradescope import results_json

    with zipfile.ZipFile(autograder) as z:
        config = json.loads(z.read("gradescope.json"))
    data = results_json(graded["dlgrade"]["wrong"], {**config, "hidden_visibility": "after_due_date"}, {})
    check_spec(data)
    assert {t["visibility"] for t in data["tests"]} == {"visible", "after_due_date"}
    assert "after the due date" in data["output"]
    out = work / "hidden.zip"
    assert cli("export", "gradescope", "week04", "--hidden-visibility", "hidden", "-o", str(out)).returncode == 0
    with zipfile.ZipFile(out) as z:
        assert json.loads(z.read("gradescope.json"))["hidden_visibility"] == "hidden"


def _machinery_failure(data: dict, words: str) -> None:
    assert data["score"] == 0
    assert data["extra_data"]["dlgrade"]["status"] == "machinery_failed"
    assert "not of your submission" in data["output"] and words in data["output"]


def test_corrupted_course_still_writes_results(work, autograder):
    def damage(source: Path) -> None:
        (source / "course" / "autograder_data" / "week04" / "week.toml").write_text("module = [unclosed\n")

    data = run_autograder(autograder, work / "root-damaged", [SAMPLES / "au100001" / "conv.py"], damage=damage)
    _machinery_failure(data, "week.toml is not valid TOML")
    assert sum(t["max_score"] for t in data["tests"]) == 30.0           # every test listed, none scored
    assert all(t["status"] == "failed" and "autograder failed" in t["output"] for t in data["tests"])


def test_missing_submission_still_writes_results(work, autograder):
    data = run_autograder(autograder, work / "root-missing", None, metadata=False)
    _machinery_failure(data, "there is no submission at")


def test_empty_upload_is_the_students_to_fix(work, autograder):
    data = run_autograder(autograder, work / "root-empty", [])
    assert data["score"] == 0 and data["extra_data"]["dlgrade"]["status"] == "not_gradable"
    assert "upload is empty" in data["output"]


def test_python_without_dlgrade_still_writes_results(work, autograder):
    """The shell fallback: should `python3 -m grader...` not run at all, results.json still says why."""
    empty_bin = work / "bin-without-dlgrade"
    empty_bin.mkdir()
    (empty_bin / "python3").write_text("#!/bin/sh\nexit 1\n")
    (empty_bin / "python3").chmod(0o755)
    env = {**ENV, "PATH": f"{empty_bin}:/usr/bin:/bin"}
    data = run_autograder(autograder, work / "root-nopython", [SAMPLES / "au100001" / "conv.py"], env=env)
    assert data["score"] == 0 and "could not start" in data["output"] and "not of your submission" in data["output"]


def test_export_refuses_bad_arguments(work):
    proc = cli("export", "gradescope", "-o", str(work / "x.zip"))
    assert proc.returncode == 2 and "needs the week" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("export", "gradescope", "week04", "--hidden-visibility", "sometimes", "-o", str(work / "x.zip"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = cli("export", "gradescope", "week77", "-o", str(work / "x.zip"))
    assert proc.returncode == 2 and "Unknown week" in proc.stderr
    assert not (work / "x.zip").exists()


@pytest.mark.parametrize("hidden", ["hidden", "after_due_date", "after_published"])
def test_the_top_output_tells_no_hidden_result_before_its_time(hidden):
    """A hidden test's points are not in the top-level output (always visible) while its result is not shown."""
    from grader.integrations.gradescope import results_json

    def test(name, visibility, status):
        return {"name": name, "function": "f", "score": 2.0 if status == "passed" else 0.0, "max_score": 2.0,
                "status": status, "visibility": visibility, "message": ""}

    result = {"status": "graded", "score": 4.0, "max_score": 6.0,
              "tests": [test("f: public", "public", "passed"), test("f: a", "hidden", "passed"),
                        test("f: b", "hidden", "failed")]}
    config = {"week": "week04", "title": "Convolution", "hidden_visibility": hidden, "functions": ["f"]}
    data = results_json(result, config, {})
    assert data["score"] == 4.0
    assert "4 / 6" not in data["output"] and "2 / 2 points on the tests shown now" in data["output"]
    data = results_json(result, {**config, "hidden_visibility": "visible"}, {})
    assert "4 / 6 points" in data["output"]


def test_student_named_text_in_the_top_output_is_not_markdown():
    """File names a student chose reach intake's notes and errors; on Gradescope they must not render as links or images."""
    from grader.integrations.gradescope import results_json

    trap = "![x](https://example.invalid/t.png)[regrade](https://example.invalid)"
    config = {"week": "week04", "title": "Convolution", "functions": ["f"], "tests": []}
    graded = {"status": "graded", "score": 0.0, "tests": [], "notes": [f"used '{trap}.py' as conv.py"]}
    failed = {"status": "not_gradable", "error": f"'{trap}.zip' is not a readable zip file; ask for it again.",
              "tests": []}
    for result in (graded, failed):
        output = results_json(result, config, {})["output"]
        assert "](" not in output and "![" not in output, output
        assert ".." not in output


def test_tests_held_for_review_are_listed_for_the_staff():
    """A test whose points are withheld for a person to look at is named in extra_data, where staff see it."""
    from grader.integrations.gradescope import results_json

    def test(name, status):
        return {"name": name, "function": "f", "score": 0.0, "max_score": 2.0, "status": status,
                "visibility": "public", "message": "points held for review"}

    result = {"status": "graded", "score": 0.0, "max_score": 4.0,
              "tests": [test("f: values", "review"), test("f: shape", "failed")]}
    config = {"week": "week04", "title": "Convolution", "hidden_visibility": "visible", "functions": ["f"]}
    assert results_json(result, config, {})["extra_data"]["dlgrade"]["review"] == ["f: values"]
