#!/usr/bin/env python3
"""What the sandbox costs per submission, now and at an earlier revision, in one run.

    python benchmarks/bench_sandbox.py [-n 40] [--repeat 3] [--baseline REV]

Grades the fixture week (tests/fixtures/course, week99: 12 tests of six
functions, one worker per submission) on N copies of its reference with the
engine of this checkout and with the engine of git revision REV (checked out
into a temporary worktree), alternating, each in a fresh process, and prints
for each: seconds to start (warm parent ready), seconds per submission, and
seconds per worker spawn (clone, confinement and import of the submission).
The default baseline is the last revision whose workers had no user
namespace, no root of their own and no system-call filter. Run it by hand on
an otherwise idle machine; figures move by ±25 % on a busy 2-core one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "a5057d3"

PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import grader
assert grader.__file__.startswith(sys.argv[1]), grader.__file__
from pathlib import Path
from grader.course import Course
from grader.plugin import Target
from grader.proxy import Session
from grader.runner import run_week
from grader.sandbox import Limits, Sandbox

course = Course(Path(sys.argv[1]) / "tests" / "fixtures" / "course")
week = course.week("week99")
n = int(sys.argv[2])
folder = week.solution_file.parent
t0 = time.perf_counter()
sandbox = Sandbox(limits=Limits(), warm=week.warm, hide=(str(course.root),)).start()
first = Session(sandbox, sandbox.stage(folder), week, seed=0, device="cpu")
first.probe()
first.close()
ready = time.perf_counter() - t0
t1 = time.perf_counter()
for i in range(n):
    s = Session(sandbox, sandbox.stage(folder), week, seed=0, device="cpu")
    s.probe()
    s.close()
spawn = (time.perf_counter() - t1) / n
run_week(week, [Target("warm-up", folder)], visibility="all", sandbox=sandbox)  # imports, collection: once
t2 = time.perf_counter()
results = run_week(week, [Target(f"s{i}", folder) for i in range(n)], visibility="all", sandbox=sandbox)
per_sub = (time.perf_counter() - t2) / n
sandbox.close()
assert all(r["score"] == r["max_score"] for r in results), [r["score"] for r in results]
print(json.dumps({"ready_s": ready, "spawn_s": spawn, "per_submission_s": per_sub}))
"""


def measure(tree: Path, n: int) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(tree), str(n)], capture_output=True, text=True,
                         cwd=tempfile.gettempdir())
    if out.returncode:
        raise SystemExit(f"the probe failed in {tree}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=40, help="submissions per measurement")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="dlgrade-bench-")) / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.baseline], check=True)
    runs: dict[str, list[dict]] = {"this checkout": [], f"baseline {args.baseline}": []}
    try:
        for _ in range(args.repeat):
            runs["this checkout"].append(measure(ROOT, args.n))
            runs[f"baseline {args.baseline}"].append(measure(base, args.n))
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
        shutil.rmtree(base.parent, ignore_errors=True)
    print(f"fixture week99, {args.n} submissions, median of {args.repeat} (alternating runs)")
    print(f"{'engine':28s} {'start s':>8s} {'spawn ms':>9s} {'s/submission':>13s}")
    for name, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"{name:28s} {med['ready_s']:8.2f} {med['spawn_s'] * 1000:9.1f} {med['per_submission_s']:13.3f}")


if __name__ == "__main__":
    main()
