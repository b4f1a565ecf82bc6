"""The Python API behind every `dlgrade` command (keyword-only, no printing).

Each CLI command is a thin wrapper over one function here, so the command
line and scripts that import dlgrade never drift apart.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .course import Course
from .errors import UserError
from .intake.scratch import make_workdir


def check(*, week: str, path: Path | None = None, device: str = "cpu", json_path: Path | None = None,
          course: Course | None = None, weak_sandbox: bool = False, sandbox=None) -> dict:
    """Run the public tests of `week` on one submission (default: the week's assignment folder).

    `sandbox`: a started `runner.week_sandbox` of this week to reuse (a notebook checks again and again).
    """
    from .runner import run_week

    course = course or Course.find()
    w = course.week(week)
    path, note = (Path(path), None) if path else _default_path(w)
    tmp = make_workdir()
    try:
        target = _single_target(path, w.module, tmp, student="local")
        limits = course.settings().limits()
        [result] = run_week(w, [target], visibility="public", device=device, limits=limits,
                            weak_sandbox=weak_sandbox, sandbox=sandbox)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if note:
        result.setdefault("notes", []).insert(0, note)
    if json_path:
        from .gradebook import atomic_write_text

        atomic_write_text(Path(json_path), json.dumps(result, indent=2))
    return result


def _default_path(w) -> tuple[Path, str | None]:
    """What `check` and `submit` take when no PATH is given, and a note when it is not the obvious one.

    The week's folder holds the module and the notebook; a student works in one of them. The
    notebook is taken when it has a finished function and the module has none (the module is
    still the stub); otherwise the module, with a note when the notebook was edited too.
    """
    folder = w.stub_file.parent
    notebook = folder / f"{w.name}.ipynb"
    if not notebook.is_file() or not w.stub_file.is_file():
        return folder, None
    try:
        from .intake.notebooks import notebook_to_module

        nb_source, _ = notebook_to_module(notebook.read_text(errors="replace"), notebook.name)
    except (UserError, OSError):
        return folder, None
    in_module = _finished(w.stub_file.read_text(errors="replace"), w.functions)
    in_notebook = _finished(nb_source, w.functions)
    if in_notebook and not in_module:
        return notebook, (f"took {notebook.name}: {w.stub_file.name} is still the stub "
                          f"(give a path to choose: dlgrade check {w.name} {w.stub_file.name})")
    if in_notebook - in_module:
        return folder, (f"took {w.stub_file.name}; {notebook.name} has work too "
                        f"({', '.join(sorted(in_notebook - in_module))}) that this did not look at: "
                        f"give its path to take the notebook instead")
    return folder, None


def _finished(source: str, functions) -> set[str]:
    """The week's functions that `source` defines without raising NotImplementedError."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in functions
            and "NotImplementedError" not in (ast.get_source_segment(source, n) or "")}


def _single_target(path: Path, module: str, workdir: Path, student: str):
    """A folder, a module file, a notebook or a zip, as one Target."""
    from .plugin import Target

    if not path.exists():
        raise UserError(f"{path} does not exist; give the folder holding {module}.py, the file, a notebook or a zip.")
    if path.is_dir() and (path / f"{module}.py").is_file():
        return Target(student, path)
    if path.is_file() and path.suffix == ".py":
        if path.name != f"{module}.py":
            raise UserError(f"{path.name} is not this week's module: the file must be named {module}.py.")
        return Target(student, path.parent)
    from .intake import collect

    subs = collect([path], module, workdir)
    if not subs:
        raise UserError(f"No submission found in {path}; it should hold {module}.py or a notebook.")
    s = subs[0]
    if s.error:
        raise UserError(s.error)
    return Target(student if path.is_dir() else s.student, s.folder, s.sha256, None, tuple(s.notes))


def grade(*, week: str, submissions: list[Path], out_dir: Path = Path("out"), jobs: int | None = None,
          timeout: float | None = None, seed: int | None = None, force: bool = False, id_pattern: str | None = None,
          device: str = "cpu", progress: bool = False, course: Course | None = None,
          test_timeout: float | None = None, submission_timeout: float | None = None,
          memory_mb: int | None = None, output_kb: int | None = None, bulk: bool = False,
          weak_sandbox: bool = False):
    """Grade a class; settings not given come from the course's dlgrade.toml, then the defaults."""
    from .course import OPTION_NAMES, check_setting
    from .intake.identities import _compile_id_pattern

    course = course or Course.find()
    w = course.week(week)
    settings = course.settings()
    limits = settings.limits(call_timeout_s=timeout, test_timeout_s=test_timeout,
                             submission_timeout_s=submission_timeout, memory_mb=memory_mb, output_kb=output_kb,
                             sandbox="weak" if weak_sandbox else None)
    for name, value in (("jobs", jobs), ("seed", seed), ("id_pattern", id_pattern)):
        if value is not None:
            check_setting(name, value, OPTION_NAMES[name])
    if id_pattern or settings.id_pattern:
        _compile_id_pattern(id_pattern or settings.id_pattern)
    for p in submissions:
        if not Path(p).exists():
            raise UserError(f"{p} does not exist; give zips, notebooks or folders of submissions.")
    _writable_folder(Path(out_dir) / w.name, "-o")
    from .batch import grade_batch   # torch: only once every setting and path is known to be good

    on_progress = _progress_bar() if progress else None
    try:
        return grade_batch(w, list(submissions), Path(out_dir), jobs=jobs or settings.jobs, limits=limits,
                           seed=settings.seed if seed is None else seed, force=force,
                           id_pattern=id_pattern or settings.id_pattern, bulk=bulk, device=device,
                           on_progress=on_progress)
    finally:
        if on_progress:
            on_progress("stop", None, 0, 0)


def _writable_folder(folder: Path, option: str) -> None:
    """Make `folder` (and its parents) and prove a file can be written there, or say why not in one sentence."""
    for parent in [folder, *folder.parents]:
        if parent.exists() and not parent.is_dir():
            raise UserError(f"{option} {parent} is a file, not a folder; give a folder for the results.")
        if parent.exists():
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UserError(f"Cannot write to {folder} ({e.strerror or e}); "
                        f"give {option} a folder you can write to.") from None


def _output_file(path: Path, option: str, example: str) -> Path:
    """Check that `path` can name a file to write: not a folder, in a folder that exists or can be made."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give the file to write, such as {path / example}.")
    _writable_folder(path.parent, option)
    return path


def _progress_bar():
    """A rich progress bar with the running mean score."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[info]}"), transient=False)
    state = {"task": None, "scores": []}

    def on_progress(event, result, i, n):
        if event == "start":
            bar.start()
            state["task"] = bar.add_task("grading", total=n, info="")
        elif event == "result":
            if result["status"] == "graded":        # a not-gradable submission has no score to average
                state["scores"].append(result["score"])
            mean = sum(state["scores"]) / len(state["scores"]) if state["scores"] else 0.0
            bar.update(state["task"], completed=i,
                       info=f"mean {mean:.2f}/{result['max_score']:g}  last {result['student']}")
        elif event == "stop":
            bar.stop()

    return on_progress


def submit(*, week: str, path: Path | None = None, student: str, output: Path | None = None,
           course: Course | None = None) -> tuple[Path, list[str]]:
    """Validate the week's files without running them and pack them with a manifest.

    `path` is what `check` accepts: the folder holding the module (default:
    the week's assignment folder), the module file, a notebook or a zip; a
    notebook is converted as grading will convert it, and the zip holds the
    module that `check` ran (and the notebook itself, which intake reads only
    when the module is missing).
    """
    import re

    from . import __version__

    course = course or Course.find()
    w = course.week(week)
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", student):
        raise UserError(f"'{student}' is not a valid student id: use letters, digits, '.', '_' or '-'.")
    tmp = make_workdir()
    try:
        # the same inputs as `check`: a folder, the module file, a notebook or a zip
        given, note = (Path(path), None) if path else _default_path(w)
        target = _single_target(given, w.module, tmp, student=student)
        notebook = [given] if given.is_file() and given.suffix.lower() == ".ipynb" else []
        out, warnings = _pack(w, target, student, output, __version__, extra=notebook)
        return out, ([note] if note else []) + warnings
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _pack(w, target, student: str, output: Path | None, version: str, extra: list[Path] = ()
          ) -> tuple[Path, list[str]]:
    """Check the module of `target` without running it and zip its .py files (and `extra`, the notebook
    it came from) with a manifest."""
    import ast
    import hashlib
    import zipfile
    from datetime import datetime, timezone

    folder = target.folder
    module = folder / f"{w.module}.py"
    if not module.is_file():
        raise UserError(f"{module} does not exist; run submit from the course folder or give the folder holding it.")
    source = module.read_text(errors="replace")
    try:
        tree = ast.parse(source, str(module))
    except SyntaxError as e:
        raise UserError(f"{module.name} has a syntax error at line {e.lineno}: {e.msg}; fix it before submitting.") from None
    except (RecursionError, MemoryError):
        raise UserError(f"{module.name} holds an expression nested too deeply to read; "
                        "split it before submitting.") from None
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))}
    warnings = list(target.notes)
    missing = [f for f in w.functions if f not in defined]
    if missing:
        warnings.append(f"{module.name} does not define {', '.join(missing)}; those tests will score 0")
    unfinished = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in w.functions
                  and "NotImplementedError" in (ast.get_source_segment(source, n) or "")]
    if unfinished:
        warnings.append(f"still raising NotImplementedError: {', '.join(unfinished)}")
    files = sorted(p for p in folder.glob("*.py") if p.is_file()) + list(extra)
    manifest = {"student": student, "week": w.name,
                "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files},
                "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "dlgrade_version": version}
    out = _output_file(Path(output) if output else Path(f"{w.name}-{student}.zip"), "-o", f"{w.name}-{student}.zip")
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files:
                z.write(p, p.name)
            z.writestr("manifest.json", json.dumps(manifest, indent=2))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise UserError(f"Cannot write {out} ({e.strerror or e}); "
                            "give -o a file in a folder you can write to.") from None
        raise
    return out, warnings


def report_data(*, path: Path) -> tuple[str, dict]:
    """("result", result) for a result file; ("summary", class summary) for a folder."""
    from . import report as rep

    path = Path(path)
    results = rep.load_results(path)
    if path.is_file():
        return "result", results[0]
    if not results:
        raise UserError(f"{path} holds no dlgrade results.")
    return "summary", rep.summarize(results)


def report(*, path: Path, fmt: str = "text", students: bool = False, links: str | None = None) -> str:
    """One result file renders as feedback; a folder renders as a class summary.

    students, links: see `grader.report.render_summary`.
    """
    from . import report as rep

    kind, data = report_data(path=path)
    return rep.render_result(data, fmt) if kind == "result" else rep.render_summary(data, fmt, students=students,
                                                                                  links=links)


def report_per_student(*, path: Path, folder: Path, fmt: str = "html", class_report: Path | None = None) -> list[Path]:
    """Write every student's feedback in `path` (a result or a folder of them) into `folder`, one file each."""
    from . import report as rep

    results = rep.load_results(Path(path))
    if not results:
        raise UserError(f"{path} holds no dlgrade results.")
    _writable_folder(Path(folder), "--per-student")
    return rep.write_per_student(results, Path(folder), fmt, class_report=class_report)


def similarity(*, week: str, submissions: list[Path], out_dir: Path, id_pattern: str | None = None,
               bulk: bool = False, course: Course | None = None):
    """Compare the class's submissions pair by pair (no student code runs); see `grader.similarity`."""
    from . import similarity as sim

    course = course or Course.find()
    w = course.week(week)
    for p in submissions:
        if not Path(p).exists():
            raise UserError(f"{p} does not exist; give zips, notebooks or folders of submissions.")
    sim._copydetect()  # say at once when the extra is missing
    _writable_folder(Path(out_dir), "-o")
    tmp = make_workdir()
    try:
        return sim.compare(week=w, submissions=[Path(p) for p in submissions], out_dir=Path(out_dir), workdir=tmp,
                           id_pattern=id_pattern or course.settings().id_pattern, bulk=bulk)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export(*, path: Path, fmt: str, output: Path, item: str | None = None) -> int:
    """Brightspace grade import or a plain CSV from a folder of results; returns the count."""
    from . import gradebook
    from . import report as rep

    results = rep.load_results(Path(path))
    if not results:
        raise UserError(f"{path} holds no dlgrade results.")
    output = _output_file(Path(output), "-o", "grades.csv")
    try:
        if fmt == "brightspace":
            gradebook.write_brightspace_csv(output, results, item or results[0].get("week", "grade"))
        else:
            gradebook.write_plain_csv(output, results)
    except OSError as e:
        raise UserError(f"Cannot write {output} ({e.strerror or e}); "
                        "give -o a file in a folder you can write to.") from None
    return len(results)


def export_gradescope(*, week: str, output: Path, hidden_visibility: str = "after_published",
                      weak_sandbox: bool = False, course: Course | None = None) -> Path:
    """Gradescope's autograder zip for `week` (see `grader.integrations.gradescope`)."""
    from .integrations import gradescope

    w = (course or Course.find()).week(week)
    return gradescope.export(week=w, output=Path(output), hidden_visibility=hidden_visibility,
                             weak_sandbox=weak_sandbox)


def export_otter(*, week: str, out_dir: Path, weak_sandbox: bool = False, course: Course | None = None) -> Path:
    """otter-grader test files and autograder zip for `week` in `out_dir` (see `grader.integrations.otter`)."""
    from .integrations import otter

    return otter.export(week=(course or Course.find()).week(week), out_dir=Path(out_dir), weak_sandbox=weak_sandbox)


def release(*, week: str, out_dir: Path | None = None, course: Course | None = None) -> dict:
    from .release import release as do_release

    return do_release((course or Course.find()).week(week), out_dir)


def student_bundle(*, out: Path, weeks: list[str] | None = None, repo: str | None = None,
                   course: Course | None = None) -> dict:
    from .release import student_bundle as do_bundle

    return do_bundle(course or Course.find(), Path(out), weeks, repo)


def verify(*, week: str, device: str = "cpu", course: Course | None = None):
    from .release import verify as do_verify

    return do_verify((course or Course.find()).week(week), device=device)


ISOLATION_FEATURES = {
    "user-namespace": "own user namespace: root inside is an unprivileged user outside",
    "unprivileged": "runs as an unprivileged host user (nobody when grading as root), no groups",
    "pid-namespace": "cannot see or signal other processes; leftovers die with the worker",
    "network": "no network (own network namespace)",
    "ipc-namespace": "own System V IPC: segments die with the worker",
    "filesystem": "a root of its own: system folders, Python and its submission, read-only; nothing else",
    "scratch-tmpfs": "a size-capped scratch folder in memory (not the host disk)",
    "private-proc": "its own /proc, with the kernel's knobs (/proc/sys) read-only",
    "no-capabilities": "every capability dropped and no_new_privs: none of the above can be undone",
    "seccomp": "a system-call filter: no ptrace, mount, namespaces, keyrings, bpf, perf, modules, io_uring",
    "process-limit": "a cap on its processes and threads (fork bombs)",
    "memory-limit": "a memory limit that counts shared memory (a memory cgroup, or shared maps refused)",
}


def doctor() -> dict:
    """Which isolation features a worker gets on this machine, found by starting one.

    The probe runs in a weak sandbox, so that it can report what is missing
    instead of stopping at the first missing feature.
    """
    import os

    from .course import Week
    from .proxy import Session
    from .sandbox import REQUIRED, Sandbox

    with tempfile.TemporaryDirectory(prefix="dlgrade-doctor-") as tmp:
        Path(tmp, "probe.py").write_text("X = 1\n")
        week = Week(name="doctor", title="doctor", module="probe", functions=())
        with Sandbox(weak=True) as sandbox:
            session = Session(sandbox, sandbox.stage(Path(tmp)), week, seed=0, device="cpu")
            try:
                session.probe()
            finally:
                session.close()
            got = set(sandbox.features or [])
            cgroups = sorted(sandbox.cgroups)
    features = {name: name in got for name in ISOLATION_FEATURES}
    missing = [f for f in REQUIRED if f not in got]
    advice = ("grading as a normal user needs user namespaces (sysctl kernel.unprivileged_userns_clone=1, or "
              "user.max_user_namespaces > 0); seccomp needs libseccomp.so.2; or grade with --weak-sandbox "
              "and every result will say what was missing")
    return {"user": "root" if os.geteuid() == 0 else f"uid {os.geteuid()}", "features": features,
            "descriptions": ISOLATION_FEATURES, "missing": missing, "advice": advice, "cgroups": cgroups}
