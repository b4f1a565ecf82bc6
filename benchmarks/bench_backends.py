#!/usr/bin/env python3
"""The same submissions through `dlgrade grade`, a simulated Gradescope and `otter run`, in one run.

    python benchmarks/bench_backends.py [-n 5]

Makes N week04 notebooks from the sample class (the first N sample folders
holding a conv.py, spread over the class: correct and wrong ones), then times, one after another:

- `dlgrade grade week04 NOTEBOOKS -j 1` (one batch);
- Gradescope: the zip of `dlgrade export gradescope`, unpacked into a fresh
  simulated root per submission (AUTOGRADER_ROOT), `run_autograder` run once each;
- otter: `otter run` (no Docker) with the autograder of `dlgrade export otter`, once each.

Prints seconds per submission for each and checks that the three agree on every
score. Needs otter-grader (dlgrade[otter]). Run it by hand on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "autograder_data" / "samples" / "week04"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def notebook(code: str) -> str:
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": code.splitlines(True)}
    return json.dumps({"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                       "language": "python"}}, "nbformat": 4, "nbformat_minor": 5})


def sh(*args, cwd: Path = ROOT, env: dict = ENV) -> None:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"{args[0]} failed: {(proc.stderr or proc.stdout)[-1500:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5, help="submissions (at most the sample folders with a conv.py)")
    n = ap.parse_args().n
    work = Path(tempfile.mkdtemp(prefix="dlgrade-bench-backends-"))
    try:
        every = sorted(p for p in SAMPLES.iterdir() if (p / "conv.py").is_file())
        folders = [every[i * len(every) // min(n, len(every))] for i in range(min(n, len(every)))]  # spread out
        books = []
        for p in folders:
            books.append(work / "class" / f"{p.name}.ipynb")
            books[-1].parent.mkdir(exist_ok=True)
            books[-1].write_text(notebook((p / "conv.py").read_text()))
        n = len(books)
        sh(sys.executable, "-m", "grader.cli", "export", "gradescope", "week04", "-o", work / "autograder.zip")
        sh(sys.executable, "-m", "grader.cli", "export", "otter", "week04", "-o", work / "otter")

        seconds, scores = {}, {}
        t = time.perf_counter()
        sh(sys.executable, "-m", "grader.cli", "grade", "week04", *books, "-o", work / "out", "-j", "1")
        seconds["dlgrade grade -j 1"] = time.perf_counter() - t
        scores["dlgrade grade -j 1"] = [json.loads((work / "out" / "week04" / f"{b.stem}.json").read_text())["score"]
                                        for b in books]

        got = []
        t = time.perf_counter()
        for i, b in enumerate(books):
            root = work / f"gradescope{i}"
            with zipfile.ZipFile(work / "autograder.zip") as z:
                z.extractall(root / "source")
            (root / "submission").mkdir()
            shutil.copy(b, root / "submission")
            sh("bash", root / "source" / "run_autograder", env={**ENV, "AUTOGRADER_ROOT": str(root)})
            got.append(json.loads((root / "results" / "results.json").read_text())["score"])
        seconds["Gradescope run_autograder"] = time.perf_counter() - t
        scores["Gradescope run_autograder"] = got

        got = []
        t = time.perf_counter()
        for i, b in enumerate(books):
            out = work / f"otter{i}"
            out.mkdir()
            sh(BIN / "otter", "run", b, "-a", work / "otter" / "autograder.zip", "-o", out, "--no-logo")
            tests = json.loads((out / "results.json").read_text())["tests"]
            got.append(sum(t["score"] for t in tests if t.get("max_score") is not None))
        seconds["otter run"] = time.perf_counter() - t
        scores["otter run"] = got

        base = seconds["dlgrade grade -j 1"] / n
        print(f"week04, {n} notebook submissions, scores {scores['dlgrade grade -j 1']}")
        for name, s in seconds.items():
            agree = "scores agree" if scores[name] == scores["dlgrade grade -j 1"] else f"SCORES DIFFER {scores[name]}"
            print(f"  {name:28s} {s / n:6.2f} s/submission  ({s / n / base:4.1f}x dlgrade grade)  {agree}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
