#!/usr/bin/env python3
"""`dlgrade grade --nbgrader` against `nbgrader autograde` on the same collected submissions, in one run.

    python benchmarks/bench_nbgrader.py [-n 30] [-j JOBS]

Builds an nbgrader course of week04 with `dlgrade nbgrader build` and
`nbgrader generate_assignment`, puts N correct submissions into submitted/ as
`nbgrader collect` leaves them (the released notebook with its solution cells
filled in, and timestamp.txt), copies the course, and times `nbgrader
autograde week04` on one copy and `dlgrade grade week04 --nbgrader` on the
other. Prints seconds per submission of each, their ratio, and whether the
two gradebooks agree. Needs the nbgrader extra; run it by hand on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WEEK = "week04"


def run(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DLGRADE_COURSE": str(ROOT)}
    started = time.perf_counter()
    p = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return time.perf_counter() - started


def course_with_submissions(tmp: Path, n: int) -> Path:
    import nbformat

    course = tmp / "course"
    run([sys.executable, "-m", "grader.cli", "nbgrader", "build", WEEK, "--course", str(course)], ROOT)
    run([str(BIN / "nbgrader"), "generate_assignment", WEEK, "--log-level=ERROR"], course)
    source = nbformat.read(str(course / "source" / WEEK / f"{WEEK}.ipynb"), as_version=4)
    answers = {c.metadata.nbgrader["grade_id"]: "\n".join(ln for ln in c.source.split("\n") if "### " not in ln)
               for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    released = nbformat.read(str(course / "release" / WEEK / f"{WEEK}.ipynb"), as_version=4)
    for cell in released.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    for i in range(n):
        folder = course / "submitted" / f"s{i:03d}" / WEEK
        folder.mkdir(parents=True)
        nbformat.write(released, str(folder / f"{WEEK}.ipynb"))
        (folder / "timestamp.txt").write_text("2026-11-24 10:00:00.000000 UTC")
    return course


def scores(course: Path, n: int) -> list[float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return [gb.find_submission(WEEK, f"s{i:03d}").score for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=30, help="submissions")
    ap.add_argument("-j", "--jobs", type=int, default=None, help="dlgrade's parallel graders (default: CPU cores)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-nbgrader-") as t:
        tmp = Path(t)
        course = course_with_submissions(tmp, args.n)
        anchor = tmp / "anchor"
        shutil.copytree(course, anchor)
        t_nbgrader = run([str(BIN / "nbgrader"), "autograde", WEEK, "--log-level=ERROR"], anchor)
        jobs = ["-j", str(args.jobs)] if args.jobs else []
        t_dlgrade = run([sys.executable, "-m", "grader.cli", "grade", WEEK, "--nbgrader", str(course), *jobs], ROOT)
        ours, theirs = scores(course, args.n), scores(anchor, args.n)
    n = args.n
    print(f"{n} collected submissions of {WEEK} (correct), {os.cpu_count()} CPU cores")
    print(f"nbgrader autograde:        {t_nbgrader:7.1f} s = {t_nbgrader / n:.2f} s/submission")
    print(f"dlgrade grade --nbgrader:  {t_dlgrade:7.1f} s = {t_dlgrade / n:.2f} s/submission "
          f"(-j {args.jobs or 'cores'}, sandboxed, gradebook written)")
    print(f"ratio (nbgrader / dlgrade): {t_nbgrader / t_dlgrade:.1f}x")
    print(f"scores: dlgrade {sorted(set(ours))}, nbgrader {sorted(set(theirs))}, "
          f"{'the same for every student' if ours == theirs else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
