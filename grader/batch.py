"""Grade a whole class: intake, parallel graders, resumable results, gradebook.

The parent process imports torch once and forks `jobs` graders; each grader
forks its own warm parent and pulls submissions from a shared queue, so one
slow submission never holds up the others. A grader writes each student's
JSON atomically the moment it is done and tells the parent, which only draws
the progress bar. A rerun skips every student whose JSON already holds the
same submission sha256, so a batch killed at any point loses nothing and
grades nobody twice. The gradebook is rebuilt from the JSON files at the end.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .course import Week
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

    def __str__(self) -> str:
        mean = sum(self.scores) / len(self.scores) if self.scores else 0.0
        return (f"{self.week}: graded {self.graded}, already graded {self.skipped}, not gradable "
                f"{self.not_gradable}; mean {mean:.2f}/{self.max_score:g} in {self.seconds:.1f} s\n"
                f"results:   {self.out_dir}\ngradebook: {self.gradebook}")


def result_path(out_dir: Path, student: str) -> Path:
    return out_dir / f"{student}.json"


def already_graded(out_dir: Path, target: Target) -> bool:
    """True when this student's JSON holds a finished grade of these very files."""
    try:
        old = json.loads(result_path(out_dir, target.student).read_text())
    except (OSError, ValueError):
        return False
    return bool(target.sha256) and old.get("submission_sha256") == target.sha256 and old.get("status") in (
        "graded", "not_gradable")


def grade_batch(week: Week, submissions: list[Path], out_dir: Path, *, jobs: int | None = None,
                limits: Limits | None = None, seed: int = 0, force: bool = False, id_pattern: str | None = None,
                device: str = "cpu", on_progress: Callable[[str, dict | None, int, int], None] | None = None
                ) -> BatchSummary:
    """Grade every submission; write `<student>.json` and `gradebook.csv` under out_dir/week."""
    import torch  # noqa: F401 - once, here, before the graders fork

    from .gradebook import write_gradebook_csv
    from .intake import DEFAULT_ID_PATTERN, collect
    from .report import load_results

    started = time.monotonic()
    week_out = Path(out_dir) / week.name
    week_out.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary(week.name, week_out)
    workdir = Path(tempfile.mkdtemp(prefix="dlgrade-intake-"))
    try:
        subs = collect([Path(p) for p in submissions], week.module, workdir,
                       id_pattern=id_pattern or DEFAULT_ID_PATTERN)
        targets = [Target(s.student, s.folder, s.sha256, s.error, tuple(s.notes)) for s in subs]
        todo = []
        for t in targets:
            if not force and already_graded(week_out, t):
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
        for i, result in enumerate(_run_jobs(week, todo, week_out, jobs=jobs, limits=limits, seed=seed,
                                             device=device, hide=hide), 1):
            if result["status"] == "graded":
                summary.graded += 1
            else:
                summary.not_gradable += 1
            if on_progress:
                on_progress("result", result, i, len(todo))
        results = [r for r in load_results(week_out) if r.get("week") == week.name]
        summary.scores = [r["score"] for r in results]
        summary.max_score = max((r["max_score"] for r in results), default=0.0)
        summary.gradebook = week_out / "gradebook.csv"
        write_gradebook_csv(summary.gradebook, results, list(week.functions))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary.seconds = time.monotonic() - started
    return summary


def _run_jobs(week, todo, week_out, *, jobs, limits, seed, device, hide):
    """Yield each result as a grader finishes it."""
    if not todo:
        return
    ctx = mp.get_context("fork")
    tasks, done = ctx.Queue(), ctx.Queue()
    for t in todo:
        tasks.put(t)
    for _ in range(jobs):
        tasks.put(DONE)
    procs = [ctx.Process(target=_grader, args=(week, tasks, done, week_out, limits, seed, device, hide), daemon=True)
             for _ in range(jobs)]
    for p in procs:
        p.start()
    received = 0
    try:
        while received < len(todo):
            try:
                msg = done.get(timeout=1.0)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    break
                continue
            received += 1
            yield msg
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


def _grader(week, tasks, done, week_out, limits, seed, device, hide) -> None:
    """One grader process: its own warm parent, one pytest session, many submissions."""
    from .gradebook import atomic_write_text
    from .runner import run_week

    def pull():
        while True:
            t = tasks.get()
            if t is DONE:
                return
            yield t

    def save(result: dict) -> None:
        atomic_write_text(result_path(week_out, result["student"]), json.dumps(result, indent=1))
        done.put({k: result[k] for k in ("student", "score", "max_score", "status", "error")})

    run_week(week, pull(), visibility="all", device=device, limits=limits, seed=seed, on_result=save, hide=hide)
