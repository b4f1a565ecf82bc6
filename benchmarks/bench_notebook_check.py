"""How long `grader.check` takes inside a running Jupyter kernel, beside `dlgrade check` and `import torch`.

Run by hand from the course root (needs the dev extra: nbclient and ipykernel):

    python benchmarks/bench_notebook_check.py [--week week04] [--function conv2d_forward] [--repeat 5]

A kernel is started in `assignments/WEEK` (as a student's Jupyter would), the notebook's imports and the
reference's definitions are run in it, and `grader.check(FUNCTION)` is timed: the first call (it imports
the engine, torch's grading side and pytest, and starts the sandbox's warm parent) and the later ones. Then
`dlgrade check WEEK` on the reference from the shell, and `python -c "import torch"`, each timed the same
number of times. Prints medians in seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start


def kernel_checks(week: str, function: str, module: str, repeat: int) -> list[float]:
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if k != "DLGRADE_COURSE"}
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "assignments" / week), env=env)
    try:
        def run(code: str) -> float:
            start = time.perf_counter()
            reply = kc.execute_interactive(code, timeout=600, output_hook=lambda msg: None)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"the kernel failed on {code[:60]!r}: {reply['content'].get('evalue')}")
            return time.perf_counter() - start

        run("import grader\n" + (ROOT / "solutions" / week / f"{module}.py").read_text())
        return [run(f'grader.check("{function}")') for _ in range(repeat)]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--week", default="week04")
    ap.add_argument("--function", default="conv2d_forward")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from grader.course import Course

    module = Course(ROOT).week(args.week).module
    calls = kernel_checks(args.week, args.function, module, args.repeat)
    dlgrade = str(Path(sys.executable).with_name("dlgrade"))
    with tempfile.TemporaryDirectory() as tmp:
        solution = ROOT / "solutions" / args.week / f"{module}.py"
        shell = [timed([dlgrade, "check", args.week, str(solution)], ROOT) for _ in range(args.repeat)]
        torch = [timed([sys.executable, "-c", "import torch"], Path(tmp)) for _ in range(args.repeat)]
    print(f"grader.check({args.function!r}) in a kernel: first call {calls[0]:.2f} s, "
          f"later calls median {statistics.median(calls[1:] or calls):.2f} s (n={len(calls) - 1})")
    print(f"dlgrade check {args.week} from the shell: median {statistics.median(shell):.2f} s (n={len(shell)})")
    print(f"python -c 'import torch': median {statistics.median(torch):.2f} s (n={len(torch)})")


if __name__ == "__main__":
    main()
