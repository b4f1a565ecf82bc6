"""Grade a whole class: intake, parallel graders, resumable results, gradebook.

The parent process imports torch once and forks `jobs` graders; each grader
forks its own warm parent and pulls submissions from a shared queue, so one
slow submission never holds up the others. A grader writes each student's
JSON atomically the moment it is done and tells the parent, which only draws
the progress bar. Each result records what it was graded under (`graded_under`:
seed, suites, reference or recordings, limits, device, dlgrade version). A
rerun skips every student whose JSON already holds the same submission sha256
graded under the same conditions, so a batch killed at any point loses nothing
and grades nobody twice, and a changed suite, seed, limit or version regrades.
The gradebook is rebuilt from the JSON files at the end.

One submission can cost only itself: an exception it causes in a grader
becomes its not-gradable result and that grader goes on; a grader process
that dies is replaced and the submission it held is recorded as not gradable.
At the end the results are counted against the submissions, and any missing
one is named (`BatchSummary.missing`), never silently dropped.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .course import Week
from .intake.scratch import make_workdir
from .plugin import Target
from .sandbox import Limits

DONE = None


@dataclass
class BatchSummary:
    week: str
    out_dir: Path
    graded: int = 0
    skipped: int = 0
    not_gradable: int = 0
    scores: list[float] = field(default_factory=list)
    max_score: float = 0.0
    seconds: float = 0.0
    gradebook: Path | None = None
    submissions: int = 0
    not_gradable_students: list[tuple[str, str]] = field(default_factory=list)  # (student, one sentence)
    missing: list[str] = field(default_factory=list)   # submissions of this run that got no result

    @property
    def complete(self) -> bool:
        """Whether every submission of this run has a result (graded or not gradable)."""
        return not self.missing

    def __str__(self) -> str:
        mean = sum(self.scores) / len(self.scores) if self.scores else 0.0
        lines = [f"{self.week}: graded {self.graded}, already graded {self.skipped}, not gradable "
                 f"{self.not_gradable}; mean {mean:.2f}/{self.max_score:g} in {self.seconds:.1f} s"]
        if self.not_gradable_students:
            lines.append(f"not gradable ({len(self.not_gradable_students)}, blank in the gradebook):")
            lines += [f"  {student}: {_one_line(error, 160)}" for student, error in self.not_gradable_students]
        if self.missing:
            lines.append(f"no result ({len(self.missing)}): {', '.join(self.missing)}")
        lines += [f"results:   {self.out_dir}", f"gradebook: {self.gradebook}"]
        return "\n".join(lines)


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def result_path(out_dir: Path, student: str) -> Path:
    return out_dir / f"{student}.json"


def already_graded(out_dir: Path, target: Target, graded_under: dict | None = None) -> bool:
    """True when this student's JSON holds a finished grade of these very files, graded under the same conditions."""
    try:
        old = json.loads(result_path(out_dir, target.student).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(old, dict):
        return False
    return (bool(target.sha256) and old.get("submission_sha256") == target.sha256
            and old.get("status") in ("graded", "not_gradable")
            and (graded_under is None or old.get("graded_under") == graded_under))


def graded_under(week: Week, *, seed: int, limits: Limits | None, device: str) -> dict:
    """What a grade depends on besides the submission; a rerun regrades when any of it changed.

    suites_sha256 covers every file of the week's data folder but the recorded
    public answers (suites, week.toml, fixed inputs); reference_sha256 is the
    reference solution's, or the recordings' where there is no solution.
    """
    import dataclasses

    import grader

    reference = week.solution_file if week.has_reference() else week.expected_file
    return {"seed": seed,
            "suites_sha256": _tree_sha256(week.data_dir, skip={week.expected_file.name}),
            "reference_sha256": _tree_sha256(reference) if reference.exists() else "",
            "limits": dataclasses.asdict(limits or Limits()),
            "device": device,
            "dlgrade_version": grader.__version__}


def _tree_sha256(path: Path, skip: set[str] = frozenset()) -> str:
    """sha256 over a file, or over a folder's files (sorted relative names, each with its length and bytes)."""
    import hashlib

    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.name not in skip)
    for p in files:
        data = p.read_bytes()
        name = p.name if p == path else p.relative_to(path).as_posix()
        h.update(name.encode("utf-8", "surrogateescape") + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def grade_batch(week: Week, submissions: list[Path], out_dir: Path, *, jobs: int | None = None,
                limits: Limits | None = None, seed: int = 0, force: bool = False, id_pattern: str | None = None,
                bulk: bool = False, device: str = "cpu",
                on_progress: Callable[[str, dict | None, int, int], None] | None = None) -> BatchSummary:
    """Grade every submission; write `<student>.json` and `gradebook.csv` under out_dir/week."""
    import torch  # noqa: F401 - once, here, before the graders fork

    from .gradebook import write_gradebook_csv
    from .intake import DEFAULT_ID_PATTERN, collect
    from .report import load_results

    started = time.monotonic()
    week_out = Path(out_dir) / week.name
    week_out.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary(week.name, week_out)
    workdir = make_workdir()
    try:
        subs = collect([Path(p) for p in submissions], week.module, workdir,
                       id_pattern=id_pattern or DEFAULT_ID_PATTERN, bulk=bulk)
        targets = [Target(s.student, s.folder, s.sha256, s.error, tuple(s.notes)) for s in subs]
        under = graded_under(week, seed=seed, limits=limits, device=device)
        todo = []
        for t in targets:
            if not force and already_graded(week_out, t, under):
                summary.skipped += 1
            else:
                todo.append(t)
        if on_progress:
            on_progress("start", None, 0, len(todo))
        jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
        if device == "cuda":
            jobs = 1  # one worker per GPU: a process can lift its own memory fraction
        # the workers see none of it: outputs, the extracted class, what was handed in
        hide = (str(week_out), str(workdir), *(str(Path(p).resolve()) if Path(p).is_dir()
                                              else str(Path(p).resolve().parent) for p in submissions))
        got: set[str] = set()
        for i, result in enumerate(_run_jobs(week, todo, week_out, jobs=jobs, limits=limits, seed=seed,
                                             device=device, hide=hide, under=under), 1):
            got.add(result["student"])
            if result["status"] == "graded":
                summary.graded += 1
            else:
                summary.not_gradable += 1
            if on_progress:
                on_progress("result", result, i, len(todo))
        summary.submissions = len(targets)
        summary.missing = [t.student for t in todo if t.student not in got]
        results = [r for r in load_results(week_out) if r.get("week") == week.name]
        graded = [r for r in results if r.get("status") == "graded"]
        summary.scores = [r["score"] for r in graded]
        summary.max_score = max((r["max_score"] for r in results), default=0.0)
        summary.not_gradable_students = [(r["student"], r.get("error") or "") for r in results
                                         if r.get("status") != "graded"]
        summary.gradebook = week_out / "gradebook.csv"
        write_gradebook_csv(summary.gradebook, results, list(week.functions))
        _refuse_broken_machinery(todo, results)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary.seconds = time.monotonic() - started
    return summary


def _refuse_broken_machinery(todo, results: list[dict]) -> None:
    """Stop with one sentence when the grader failed on every submission of this run alike.

    One submission that breaks the grader is that student's problem; all of
    them failing the same way is the machinery's, and must not read as a class
    of not-gradable students.
    """
    from .errors import GRADER_FAILED, UserError

    mine = {t.student for t in todo}
    failed = [r["error"] for r in results     # code nested too deeply is the submission's fault, whoever has it
              if r["student"] in mine and str(r.get("error") or "").startswith(GRADER_FAILED + " (")]
    kinds = {re.sub(r"\d+", "#", e) for e in failed}      # the same failure, up to numbers (pids, exit codes)
    if len(todo) >= 2 and len(failed) == len(todo) and len(kinds) == 1:
        why = failed[0][len(GRADER_FAILED):].split("; ")[0].strip(" :")
        why = why[1:-1] if why.startswith("(") and why.endswith(")") else why
        raise UserError(f"The grader failed on every submission the same way ({_one_line(why, 160)}); this is a "
                        "fault of the grading machinery, not of the submissions: run `dlgrade doctor`.")


def _failed_result(week, target: Target, error: str, max_score: float, seed: int, device: str) -> dict:
    from .result import make_result

    return make_result(student=target.student, week=week.name, tests=[], sha256="", started=time.monotonic(),
                       error=error, notes=list(target.notes), seed=seed, device=device, max_score=max_score)


def _run_jobs(week, todo, week_out, *, jobs, limits, seed, device, hide, under=None):
    """Yield each result as a grader finishes it.

    Graders say which submission they start; when a grader process dies, the
    one it held gets a not-gradable result here and a fresh grader takes over
    the rest of the queue.
    """
    from .errors import UserError, grader_failed
    from .gradebook import atomic_write_text

    if not todo:
        return
    ctx = mp.get_context("fork")
    # `done` is written synchronously (no feeder thread), so what a grader said before it died is never lost
    tasks, done = ctx.Queue(), ctx.SimpleQueue()
    for t in todo:
        tasks.put(t)
    for _ in range(jobs):
        tasks.put(DONE)
    by_student = {t.student: t for t in todo}

    def spawn():
        p = ctx.Process(target=_grader, args=(week, tasks, done, week_out, limits, seed, device, hide, under),
                        daemon=True)
        p.start()
        return p

    procs = [spawn() for _ in range(jobs)]
    in_flight: dict[int, str] = {}     # grader pid -> the student it is grading
    max_score, received, fatal = 0.0, 0, None
    try:
        while received < len(todo):
            if done.empty():
                mp_connection.wait([p.sentinel for p in procs], timeout=0.2)   # wakes early when a grader exits
                if not done.empty():
                    continue
                for p in list(procs):
                    if p.is_alive():
                        continue
                    procs.remove(p)
                    student = in_flight.pop(p.pid, None)
                    if student is None:
                        continue
                    # it died holding a submission: record that one and let a fresh grader take the rest
                    why = f"the grader process died (exit code {p.exitcode})"
                    result = _failed_result(week, by_student[student], grader_failed(why), max_score, seed, device)
                    atomic_write_text(result_path(week_out, student), json.dumps(result, indent=1))
                    received += 1
                    yield {k: result[k] for k in ("student", "score", "max_score", "status", "error")}
                    if received < len(todo) and fatal is None:
                        procs.append(spawn())
                if not procs:
                    break
                continue
            msg = done.get()
            if msg.get("event") == "start":
                in_flight[msg["pid"]] = msg["student"]
                continue
            if msg.get("event") == "fatal":
                fatal = msg["error"]
                break
            in_flight.pop(msg.pop("pid", None), None)
            max_score = max(max_score, msg.get("max_score") or 0.0)
            received += 1
            yield msg
    finally:
        for p in procs:
            p.join(timeout=5 if fatal is None else 0.5)
            if p.is_alive():
                p.kill()
    if fatal is not None:
        raise UserError(fatal)


def _grader(week, tasks, done, week_out, limits, seed, device, hide, under=None) -> None:
    """One grader process: its own warm parent, one pytest session, many submissions."""
    from .errors import UserError, grader_failed
    from .gradebook import atomic_write_text
    from .runner import run_week
    from .sandbox import SandboxFailure

    pid = os.getpid()
    current: dict[str, Target] = {}
    max_score = [0.0]

    def pull():
        while True:
            t = tasks.get()
            if t is DONE:
                return
            current["target"] = t
            done.put({"event": "start", "student": t.student, "pid": pid})
            yield t

    def save(result: dict) -> None:
        if under is not None:
            result["graded_under"] = under
        atomic_write_text(result_path(week_out, result["student"]), json.dumps(result, indent=1))
        if current.get("target") is not None and current["target"].student == result["student"]:
            del current["target"]
        max_score[0] = max(max_score[0], result.get("max_score") or 0.0)
        done.put({"event": "result", "pid": pid,
                  **{k: result[k] for k in ("student", "score", "max_score", "status", "error")}})

    while True:
        try:
            run_week(week, pull(), visibility="all", device=device, limits=limits, seed=seed, on_result=save,
                     hide=hide)
            failure: BaseException | str = "grading stopped without a result"
        except Exception as e:  # noqa: BLE001 - whatever one submission caused, the others are graded
            failure = e
        target = current.pop("target", None)
        if isinstance(failure, SandboxFailure):  # the machinery, not the submission it held: nobody is scored
            done.put({"event": "fatal", "error": str(failure)})
            return
        if target is None:
            if isinstance(failure, BaseException):   # the suite, the sandbox or the settings: nobody's submission
                done.put({"event": "fatal", "error": str(failure) if isinstance(failure, UserError) else
                          f"The grader could not run ({type(failure).__name__}: {failure}); run `dlgrade doctor`."})
            return
        save(_failed_result(week, target, grader_failed(failure), max_score[0], seed, device))
