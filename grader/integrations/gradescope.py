"""Gradescope: a week as an autograder zip, graded on Gradescope by dlgrade's own sandbox.

Gradescope runs each submission in a container of its own, so it is how a
course grades past one machine. `export` builds the zip Gradescope's
autograder specification asks for:

    setup.sh          installs CPU PyTorch and the dlgrade packed beside it (run once per image)
    run_autograder    grades $AUTOGRADER_ROOT/submission (default /autograder), writes results/results.json
    dlgrade/          this engine's source, installable with pip
    course/           the week: week.toml, public and hidden suites, recorded answers, reference, dlgrade.toml
    gradescope.json   the week, the visibility of hidden tests and the outline of every test

`run` is what `run_autograder` calls: the upload goes through the same intake
and sandboxed batch grading as `dlgrade grade` (the process that decides the
grade never runs student code), and the dlgrade result becomes results.json.
Whatever fails, a valid results.json is written that says what happened; a
failure of the machinery says so to the student and the staff and is never
presented as the student's zero.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from ..course import Course, Week
from ..errors import GRADER_FAILED, UserError

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
CONFIG = "gradescope.json"
WHEN_SHOWN = {"hidden": "The hidden tests' results are not shown to students.",
              "after_due_date": "The hidden tests' results are shown after the due date.",
              "after_published": "The hidden tests' results are shown once grades are published.",
              "visible": "The hidden tests' results are shown now."}
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, in /autograder/source, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install --no-cache-dir {torch} --index-url {index}
python3 -m pip install --no-cache-dir ./dlgrade
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. dlgrade writes results/results.json whatever happens;
# should Python itself not start, the lines below still write one that says so.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
python3 -m grader.integrations.gradescope run --root "$ROOT"
rc=$?
if [ ! -s "$ROOT/results/results.json" ]; then
  mkdir -p "$ROOT/results"
  printf '%s\\n' '{"score": 0, "execution_time": 0, "output_format": "md", "stdout_visibility": "hidden", "tests": [], "output": "**The autograder could not start** (dlgrade is not installed in this image, or Python failed). This is a fault of the grading set-up, not of your submission: the score is a placeholder until course staff fix the autograder and regrade."}' > "$ROOT/results/results.json"
fi
exit $rc
"""


# --------------------------------------------------------------------------- export

def export(*, week: Week, output: Path, hidden_visibility: str = "after_published",
           weak_sandbox: bool = False) -> Path:
    """Write Gradescope's autograder zip for `week` to `output`; returns the path written."""
    if hidden_visibility not in VISIBILITIES:
        raise UserError(f"--hidden-visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}.")
    tests = suite_outline(week, weak_sandbox=weak_sandbox)
    config = {"week": week.name, "title": week.title, "hidden_visibility": hidden_visibility,
              "functions": list(week.functions), "tests": tests}
    with tempfile.TemporaryDirectory(prefix="dlgrade-gradescope-") as tmp:
        src = Path(tmp)
        pack_course(week, src / "course", weak_sandbox=weak_sandbox)
        pack_engine(src / "dlgrade")
        (src / CONFIG).write_text(json.dumps(config, indent=1))
        (src / "setup.sh").write_text(SETUP_SH.format(torch=_torch_pins(), index=TORCH_INDEX))
        (src / "run_autograder").write_text(RUN_AUTOGRADER)
        return write_zip(src, Path(output), executable={"setup.sh", "run_autograder"})


def suite_outline(week: Week, *, weak_sandbox: bool = False) -> list[dict]:
    """Every test of the week (name, function, points, visibility), read by grading the reference once."""
    from ..plugin import Target
    from ..runner import run_week

    if not week.has_reference():
        raise UserError(f"Exporting {week.name} needs its reference solution ({week.solution_file}); "
                        "export from the instructor's course folder.")
    settings = week.course.settings()
    limits = settings.limits(sandbox="weak" if weak_sandbox else None)
    [result] = run_week(week, [Target("reference", week.solution_file.parent)], visibility="all", limits=limits,
                        seed=settings.seed)
    if result["status"] != "graded" or result["score"] != result["max_score"]:
        raise UserError(f"The reference solution of {week.name} does not score full marks "
                        f"({result['score']:g}/{result['max_score']:g}); run `dlgrade verify {week.name}` first.")
    return [{k: t[k] for k in ("name", "function", "max_score", "visibility")} for t in result["tests"]]


def pack_course(week: Week, dest: Path, *, weak_sandbox: bool = False) -> Path:
    """A course folder holding only `week`: its data, its reference solution and the grading settings."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(week.data_dir, dest / "autograder_data" / week.name, ignore=ignore)
    shutil.copytree(week.solution_file.parent, dest / "solutions" / week.name, ignore=ignore)
    settings = {k: v for k, v in vars(week.course.settings()).items() if v is not None}
    if weak_sandbox:
        settings["sandbox"] = "weak"
    lines = ["# The grading settings of the course this week was exported from.", "[grading]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in sorted(settings.items())]
    (dest / "dlgrade.toml").write_text("\n".join(lines) + "\n")
    return dest


def pack_engine(dest: Path) -> Path:
    """This dlgrade's source with a minimal pyproject.toml, so that `pip install dest` installs it."""
    from importlib import metadata

    import grader

    shutil.copytree(Path(grader.__file__).parent, dest / "grader",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    try:
        requires = [r for r in metadata.requires("dlgrade") or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        requires = ["torch", "torchvision", "numpy", "pytest", "click", "rich"]
    (dest / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "dlgrade"\nversion = "{grader.__version__}"\nrequires-python = ">=3.10"\n'
        f"dependencies = {json.dumps(requires)}\n\n"
        '[project.scripts]\ndlgrade = "grader.cli:main"\n\n'
        '[tool.setuptools.packages.find]\ninclude = ["grader*"]\n\n'
        '[tool.setuptools.package-data]\ngrader = ["*.ini"]\n')
    return dest


def write_zip(folder: Path, output: Path, *, executable: set[str] = frozenset()) -> Path:
    """Zip `folder`'s files (relative names, sorted) to `output` atomically; `executable` names get mode 755."""
    from ..api import _output_file

    output = _output_file(output, "-o", "autograder.zip")
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with open(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    name = p.relative_to(folder).as_posix()
                    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = (0o100755 if name in executable else 0o100644) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    z.writestr(info, p.read_bytes())
        Path(tmp).chmod(0o644)
        Path(tmp).replace(output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return output


def _torch_pins() -> str:
    """torch and torchvision pinned to the versions this course was exported with (local tags such as +cpu dropped)."""
    from importlib import metadata

    pins = []
    for name in ("torch", "torchvision"):
        try:
            pins.append(f"{name}=={metadata.version(name).split('+')[0]}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return " ".join(pins)


# --------------------------------------------------------------------------- grading on Gradescope

def run(root: Path) -> dict:
    """Grade ROOT/submission with the zip's course and write ROOT/results/results.json; returns what was written."""
    from ..gradebook import atomic_write_text

    started = time.monotonic()
    root = Path(root)
    config: dict = {}
    metadata: dict = {}
    try:
        _owner_only(root)
        config = _read_config(root / "source" / CONFIG)
        metadata = _read_metadata(root / "submission_metadata.json")
        result = grade_one(root / "source" / "course", config["week"], root / "submission")
        data = results_json(result, config, metadata)
    except Exception as e:  # noqa: BLE001 - whatever broke, Gradescope gets a results.json that says so
        why = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
        data = machinery_failure(why, config, metadata)
    data["execution_time"] = int(round(time.monotonic() - started))
    atomic_write_text(root / "results" / "results.json", json.dumps(data, indent=1))
    return data


def _owner_only(root: Path) -> None:
    """The autograder (hidden suites, reference), the upload and the metadata readable by their owner only.

    Gradescope grades as root, and a worker never runs as root (strict or weak
    sandbox: `nobody` at most), so no student code can read them, even in a weak sandbox.
    """
    for name in ("source", "submission", "submission_metadata.json"):
        path = root / name
        if path.exists():
            path.chmod(0o700 if path.is_dir() else 0o600)


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
        if not isinstance(config, dict) or not isinstance(config.get("week"), str):
            raise ValueError("no week named")
    except (OSError, ValueError) as e:
        raise UserError(f"the autograder's {CONFIG} cannot be read ({e}); export the autograder zip again") from None
    return config


def _read_metadata(path: Path) -> dict:
    """Gradescope's submission_metadata.json when present (absent when the scripts run by hand)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def grade_one(course_dir: Path, week: str, submission: Path) -> dict:
    """The dlgrade result of one student's upload (a folder of their files, or one file), as `dlgrade grade` grades it."""
    from .. import api

    if submission.is_dir():
        entries = [p for p in submission.iterdir() if not p.name.startswith(".")]
        if not entries:
            return _not_gradable(week, "the upload is empty; upload your module, notebook or the zip of "
                                       "`dlgrade submit`")
        # a lone notebook or zip is that file; anything else is a folder of the student's files
        target = entries[0] if len(entries) == 1 and entries[0].suffix in (".ipynb", ".zip") else submission
    elif submission.is_file():
        target = submission
    else:
        raise UserError(f"there is no submission at {submission}")
    with tempfile.TemporaryDirectory(prefix="dlgrade-one-") as out:
        summary = api.grade(week=week, submissions=[target], out_dir=Path(out), jobs=1, force=True,
                            course=Course(course_dir.resolve()))
        results = [json.loads(p.read_text()) for p in sorted((Path(out) / summary.week).glob("*.json"))]
    if len(results) != 1:
        if not results:
            raise UserError("grading produced no result")
        return _not_gradable(week, f"the upload holds {len(results)} submissions; upload only one "
                                   "(your module, your notebook, or the zip of `dlgrade submit`)")
    return results[0]


def _not_gradable(week: str, error: str) -> dict:
    return {"week": week, "status": "not_gradable", "error": error, "score": 0.0, "tests": []}


def results_json(result: dict, config: dict, metadata: dict, *, machinery: str | None = None) -> dict:
    """Gradescope's results.json for one dlgrade result; `machinery` says why the grading set-up itself failed.

    Intake's notes and errors quote file names the student chose: they are escaped, never read as Markdown.
    """
    from ..report.markdown import _md_text

    hidden = config.get("hidden_visibility", "after_published")
    functions = list(config.get("functions") or [])
    graded = result.get("status") == "graded"
    tests = result["tests"] if graded else [
        {**t, "score": 0.0, "status": "failed", "message": f"not graded: {result.get('error')}"}
        for t in config.get("tests", [])]
    out = []
    counts: dict[str, int] = {}
    for t in tests:
        fn = t["function"]
        if fn not in functions:
            functions.append(fn)
        counts[fn] = counts.get(fn, 0) + 1
        out.append({"name": t["name"], "number": f"{functions.index(fn) + 1}.{counts[fn]}",
                    "score": float(t["score"]), "max_score": float(t["max_score"]),
                    "status": "passed" if t["status"] == "passed" else "failed",
                    "output": _test_output(t), "output_format": "md", "tags": [fn],
                    "visibility": "visible" if t.get("visibility") == "public" else hidden})
    error = str(result.get("error") or "")
    if machinery:
        headline = (f"**The autograder could not grade this submission**: {machinery.rstrip('.')}. This is a fault of the grading "
                    "set-up, not of your submission: the score is a placeholder until course staff fix the "
                    "autograder and regrade.")
        status = "machinery_failed"
    elif graded:
        # the top-level output is always shown: while hidden tests' results are not, it counts only the others
        shown = [t for t in out if t["visibility"] == "visible"]
        points = (f"{float(result['score']):g} / {sum(t['max_score'] for t in out):g} points" if len(shown) == len(out)
                  else f"{sum(t['score'] for t in shown):g} / {sum(t['max_score'] for t in shown):g} points on the "
                       "tests shown now")
        headline = f"**{config.get('title', config['week'])}** ({config['week']}): {points}."
        status = "graded"
    elif error.startswith(GRADER_FAILED):
        headline = (f"**The autograder failed on this submission** ({error}). This is not a judgement of "
                    "your work: the score is a placeholder until course staff look at it.")
        status = "grader_failed"
    else:
        headline = (f"**Your submission could not be graded**: {_md_text(error.rstrip('.'))}. Nothing was scored; fix it and "
                    "submit again.")
        status = "not_gradable"
    lines = [headline, *[f"- {_md_text(n)}" for n in result.get("notes", [])], *_metadata_lines(metadata)]
    if any(t["visibility"] != "visible" for t in out):
        lines.append(WHEN_SHOWN[hidden])
    return {"score": float(result.get("score") or 0.0) if graded else 0.0, "execution_time": 0,
            "output": "\n\n".join(lines), "output_format": "md", "stdout_visibility": "hidden",
            "visibility": "visible", "tests": out,
            "extra_data": {"dlgrade": {"status": status, "week": config["week"],
                                       "max_score": sum(t["max_score"] for t in out),
                                       "submission_sha256": result.get("submission_sha256", ""),
                                       "dlgrade_version": result.get("dlgrade_version", ""),
                                       "sandbox": result.get("sandbox"),
                                       # points withheld for a person to look at (code that reaches into the
                                       # engine or hides a call): course staff find them here
                                       "review": [t["name"] for t in result.get("tests", [])
                                                  if t.get("status") == "review"]}}}


def machinery_failure(why: str, config: dict, metadata: dict) -> dict:
    """results.json when the grading machinery itself failed: every test at 0 with a reason, never the student's fault."""
    why = " ".join(why.split())
    result = {"status": "not_gradable", "error": "the autograder failed (see the top of this page)", "tests": []}
    try:
        return results_json(result, {**config, "week": str(config.get("week", "unknown"))}, metadata, machinery=why)
    except Exception:  # noqa: BLE001 - a damaged outline must not stop the report of the failure
        return results_json(result, {"week": str(config.get("week", "unknown"))}, metadata, machinery=why)


def _test_output(t: dict) -> str:
    """A test's feedback in Markdown: its status and dlgrade's message (hints, never a hidden test's expected values)."""
    if t["status"] == "passed":
        return "Passed."
    message = str(t.get("message") or "").strip()
    body = "\n".join(f"    {line}" for line in message.splitlines())
    return f"**{t['status']}**" + (f"\n\n{body}" if body else "")


def _metadata_lines(metadata: dict) -> list[str]:
    """Who submitted and when, from Gradescope's submission_metadata.json (missing fields are skipped)."""
    users = [u for u in metadata.get("users") or [] if isinstance(u, dict)]
    who = ", ".join(str(u.get("name") or u.get("email") or u.get("sid") or "") for u in users).strip(", ")
    assignment = metadata.get("assignment") if isinstance(metadata.get("assignment"), dict) else {}
    when = [f"submitted {metadata['created_at']}" if metadata.get("created_at") else "",
            f"due {assignment['due_date']}" if assignment.get("due_date") else ""]
    when = ", ".join(w for w in when if w)
    line = " ".join(x for x in (f"Submission of {who}" if who else "", f"({when})" if when else "") if x)
    return [line] if line else []


def main(argv: list[str] | None = None) -> int:
    """`python -m grader.integrations.gradescope run --root ROOT`: what run_autograder calls."""
    parser = argparse.ArgumentParser(prog="python -m grader.integrations.gradescope")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    args = parser.parse_args(argv)
    data = run(args.root)
    print(f"score {data['score']:g}; {data['extra_data']['dlgrade']['status']}; "
          f"wrote {args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
