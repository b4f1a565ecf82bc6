#!/usr/bin/env python3
"""Start-up cost of the student commands, as ratios to `import torch`, in one run.

    python benchmarks/bench_cli.py [--week week04] [--repeat 5]

Prints the median wall time of each command and its ratio to
`python -c "import torch"` (targets: `dlgrade check` on the reference ≤ 1.5×,
`dlgrade --help` ≤ 0.4×). Run it by hand on an idle machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], repeat: int, cwd: Path) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if proc.returncode not in (0,):
            sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--week", default="week04")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    dlgrade = shutil.which("dlgrade") or str(Path(sys.executable).with_name("dlgrade"))
    from grader.course import Course

    week = Course(ROOT).week(args.week)
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "sub"
        sub.mkdir()
        shutil.copy(week.solution_file, sub / week.solution_file.name)
        base = timed([sys.executable, "-c", "import torch"], args.repeat, ROOT)
        rows = [("python -c 'import torch'", base)]
        rows.append(("dlgrade --help", timed([dlgrade, "--help"], args.repeat, ROOT)))
        rows.append(("dlgrade --version", timed([dlgrade, "--version"], args.repeat, ROOT)))
        rows.append((f"dlgrade check {args.week} <reference>", timed([dlgrade, "check", args.week, str(sub)], args.repeat, ROOT)))
    print(f"median of {args.repeat} runs each")
    for name, t in rows:
        print(f"{name:40s} {t:6.3f} s   {t / base:5.2f}x import torch")


if __name__ == "__main__":
    main()
