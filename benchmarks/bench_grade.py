#!/usr/bin/env python3
"""Batch grading speed and memory, and the same class through real nbgrader, in one run.

    python benchmarks/bench_grade.py [-n 100] [-j 2] [--hostile 0.1] [--nbgrader-venv /path/to/venv/bin]

Makes N week04 submissions (notebooks holding a correct conv.py; with
--hostile F, that fraction replaced by cases of tests/adversarial/ adapted to
week04), grades them with `dlgrade grade -j J`, and prints seconds per
submission and the peak memory of the whole process tree (sum of PSS, so
pages shared between the forked processes count once; RSS sum too).
With --nbgrader-venv, times `nbgrader autograde` on N notebooks of the same
week04-style exercise (../shared/bench/nbgrader_autograde.sh) and prints the
ratio. Run it by hand on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_BENCH = ROOT.parent / "shared" / "bench"


def notebook(code: str) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Week 4\n"]},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": code.splitlines(True)},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": ["x = torch.randn(1, 1, 5, 5)\n", "print(conv2d_forward(x, x, torch.zeros(1)))\n"]}]
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                       "language": "python"}}, "nbformat": 4, "nbformat_minor": 5})


HOSTILE_BODIES = {  # the first statement of conv2d_forward, in the spirit of tests/adversarial/
    "busy_loop": "    while True:\n        pass\n",
    "memory_bomb": "    hog = []\n    while True:\n        hog.append(bytearray(1 << 28))\n",
    "fork_storm": "    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
    "segfault": "    import ctypes\n    ctypes.string_at(0)\n",
    "print_flood": "    for _ in range(4096):\n        print('x' * (1 << 20))\n",
    "os_exit": "    import os\n    os._exit(0)\n",
    "reads_reference": "    import glob\n    raise ValueError(str([open(p).read()[:200] for p in glob.glob('/work/*/solutions/*/*.py')]))\n",
    "signals_parent": "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n",
    "sleeps": "    import time\n    time.sleep(3600)\n",
    "lying_subclass": "    class L(torch.Tensor):\n        def __eq__(self, o): return True\n    return x.as_subclass(L)\n",
}


def make_class(dest: Path, n: int, hostile: float) -> int:
    from grader.course import Course

    src = Course(ROOT).week("week04").solution_file.read_text()
    code = "".join(line for line in src.splitlines(True) if "SOLUTION" not in line)
    head = "def conv2d_forward(x, w, b, stride=1, padding=0):\n"
    doc_end = code.index('"""', code.index('"""', code.index(head)) + 3) + 4
    n_bad = int(round(n * hostile))
    bad = {int(i * n / n_bad): kind for i, kind in zip(range(n_bad), list(HOSTILE_BODIES) * n)} if n_bad else {}
    for i in range(n):
        body = code[:doc_end] + HOSTILE_BODIES[bad[i]] + code[doc_end:] if i in bad else code
        (dest / f"au{200000 + i}.ipynb").write_text(notebook(body))
    return n_bad


class MemorySampler(threading.Thread):
    """Peak of the summed PSS and RSS of a process and all its descendants."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_pss, self.peak_rss, self.stop = pid, 0, 0, False

    def tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for p in filter(str.isdigit, os.listdir("/proc")):
            try:
                ppid = int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p))
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo += children.get(p, [])
        return out

    def run(self) -> None:
        while not self.stop:
            pss = rss = 0
            for p in self.tree():
                try:
                    text = Path(f"/proc/{p}/smaps_rollup").read_text()
                except OSError:
                    continue
                pss += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
                rss += int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            time.sleep(0.2)


def run_dlgrade(subs: Path, out: Path, jobs: int) -> tuple[float, MemorySampler, str]:
    dlgrade = shutil.which("dlgrade") or str(Path(sys.executable).with_name("dlgrade"))
    t = time.perf_counter()
    proc = subprocess.Popen([dlgrade, "grade", "week04", str(subs), "-o", str(out), "-j", str(jobs), "--force"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    text, _ = proc.communicate()
    sampler.stop = True
    elapsed = time.perf_counter() - t
    if proc.returncode:
        sys.exit(f"dlgrade grade failed:\n{text}")
    return elapsed, sampler, text.strip().splitlines()[-3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--hostile", type=float, default=0.0, help="fraction of hostile submissions")
    ap.add_argument("--compare-hostile", action="store_true", help="also run the batch with 10%% hostile")
    ap.add_argument("--nbgrader-venv", type=Path, help="bin/ of a venv with nbgrader and torch")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for hostile in ([args.hostile, 0.1] if args.compare_hostile else [args.hostile]):
            subs, out = Path(tmp) / f"subs{hostile}", Path(tmp) / f"out{hostile}"
            subs.mkdir()
            n_bad = make_class(subs, args.n, hostile)
            elapsed, mem, line = run_dlgrade(subs, out, args.j)
            results = [json.loads(p.read_text()) for p in (out / "week04").glob("au*.json")]
            full = sum(r["score"] == r["max_score"] for r in results)
            rows.append((hostile, n_bad, elapsed, mem, full))
            print(f"dlgrade grade -j {args.j}: {args.n} submissions ({n_bad} hostile) in {elapsed:.1f} s = "
                  f"{elapsed / args.n:.3f} s/submission; peak memory {mem.peak_pss / 1024:.0f} MB PSS "
                  f"({mem.peak_rss / 1024:.0f} MB RSS summed); {full} full marks\n  {line}")
    if args.nbgrader_venv:
        script = SHARED_BENCH / "nbgrader_autograde.sh"
        t = time.perf_counter()
        proc = subprocess.run(["bash", str(script), str(args.nbgrader_venv), str(args.n)], capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        print(proc.stdout.strip() or proc.stderr.strip()[-2000:])
        m = re.search(r"in ([\d.]+) s = ([\d.]+) s/submission", proc.stdout)
        if m:
            per = float(m.group(2))
            ours = rows[0][2] / args.n
            print(f"nbgrader autograde: {per:.2f} s/submission; dlgrade: {ours:.3f} s/submission; "
                  f"dlgrade is {per / ours:.1f}x faster")


if __name__ == "__main__":
    main()
