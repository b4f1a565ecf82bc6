"""Run a week's suites over submissions: the trusted process's main loop.

The warm parent is exec'd clean (`Sandbox.start`), so whatever this process
holds (the reference, the suites, other submissions, its environment) is never
in a worker's memory. A failure of the sandbox stops the run
(`SandboxFailure`, exit 2): no student is scored by a broken sandbox.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from .course import Week
from .errors import UserError
from .sandbox import Limits, Sandbox, SandboxFailure

if TYPE_CHECKING:
    from .plugin import Target

PYTEST_INI = Path(__file__).with_name("pytest_empty.ini")


def run_week(week: Week, targets: Iterable[Target], *, visibility: str = "all", device: str = "cpu",
             limits: Limits | None = None, seed: int = 0, reference: str = "auto",
             on_result: Callable[[dict], None] | None = None, sandbox: Sandbox | None = None,
             hide: tuple[str, ...] = (), recorded: dict | None = None, weak_sandbox: bool = False) -> list[dict]:
    """Grade `targets` with the week's suites and return their results.

    visibility: "public" (the public suite) or "all" (public and hidden).
    reference: "module" (the solution file), "replay" (answers recorded by
    `dlgrade release`), "record" (run the solution and keep its public answers,
    put into `recorded`), or "auto" (module when it exists).
    hide: folders the workers must not see besides the course (outputs, intake).
    weak_sandbox: grade even where the full sandbox cannot be had; each result says what was missing.
    """
    own = sandbox is None
    sandbox = sandbox or week_sandbox(week, device=device, limits=limits, hide=hide, weak_sandbox=weak_sandbox)
    if sandbox.pid is None:
        sandbox.start()
    if device == "cuda":
        _require_cuda(sandbox if own else None)
    results: list[dict] = []

    def collect(r: dict) -> None:
        if sandbox.fatal:  # graded by a broken sandbox: stop before anyone's result is kept
            raise SandboxFailure(sandbox.fatal)
        missing = sandbox.missing()
        r["sandbox"] = {"mode": "weak" if sandbox.weak else "strict", "features": list(sandbox.features or [])}
        if missing:
            r.setdefault("notes", []).append(
                "graded with a weak sandbox (--weak-sandbox): this machine lacks " + ", ".join(missing))
        results.append(r)
        if on_result:
            on_result(r)

    # torch comes in with these, while the warm parent imports its own: the two overlap
    from .plugin import GradingPlugin

    ref = load_reference(week, reference, recorded if recorded is not None else {})
    files = week.suite_files(visibility)
    if not files:
        raise UserError(f"{week.name} has no test suite in {week.data_dir}.")
    plugin = GradingPlugin(week=week, targets=targets, sandbox=sandbox, reference=ref, seed=seed,
                           device=device, on_result=collect, stage=sandbox.stage)
    try:
        code = run_pytest(week, files, [plugin, _QuietSandboxFailure()])
    finally:
        if own:
            sandbox.close()
    if sandbox.fatal:
        raise SandboxFailure(sandbox.fatal)
    if plugin.collect_errors:
        raise UserError(f"The {week.name} suite does not load: {plugin.collect_errors[0]}")
    if code not in (0, 1, 5) and not results:
        raise UserError(f"pytest could not run the {week.name} suite (exit code {int(code)}).")
    return results


def week_sandbox(week: Week, *, device: str = "cpu", limits: Limits | None = None, hide: tuple[str, ...] = (),
                 weak_sandbox: bool = False) -> Sandbox:
    """The sandbox `run_week` grades `week` in (not started): the week's warm modules and bans, the course hidden."""
    limits = replace(limits or Limits(), answer_bytes=week.answer_mb << 20)
    return Sandbox(device=device, limits=limits, warm=week.warm, hide=(str(week.course.root), *hide),
                   weak=weak_sandbox or limits.weak_sandbox,
                   banned=tuple({n for f in week.functions for n in week.banned_for(f)}))


def run_pytest(week: Week, files: list[Path], plugins: list, extra: tuple[str, ...] = ()) -> int:
    """Run the trusted pytest session over `files` with `plugins`: no plugin, conftest or cache of the host's."""
    args = [str(f) for f in files] + [
        "-c", str(PYTEST_INI), "--rootdir", str(week.data_dir), "-p", "no:cacheprovider", "-p", "no:terminal",
        "-p", "no:warnings", "-p", "no:logging", "-p", "no:stepwise", "-p", "no:faulthandler", "-p", "no:junitxml",
        "-p", "no:doctest", "-p", "no:pastebin", "-p", "no:unraisableexception", "-p", "no:threadexception",
        "-p", "no:setuponly", "-p", "no:setupplan", "-p", "no:legacypath", "--noconftest", "--import-mode=importlib",
        "--assert=plain", "-s", *extra,
    ]
    _forget_modules(files)  # suites of two weeks share file names: never reuse another run's module
    old_env = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        import pytest

        return pytest.main(args, plugins=plugins)
    finally:
        if old_env is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        _forget_modules(files)


class _QuietSandboxFailure:
    """A SandboxFailure ends pytest's session; it is reported as one sentence by the caller, not as a traceback."""

    def pytest_internalerror(self, excrepr, excinfo):
        return isinstance(excinfo.value, SandboxFailure) or None


def _forget_modules(files: list[Path]) -> None:
    paths = {str(f.resolve()) for f in files}
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "") in paths:
            del sys.modules[name]


def load_reference(week: Week, mode: str, store: dict):
    from .proxy import LocalReference, RecordingReference, ReplayReference

    if mode == "auto":
        mode = "module" if week.has_reference() else "replay"
    if mode == "replay":
        if not week.expected_file.exists():
            raise UserError(f"{week.name} has neither a reference solution nor recorded public answers "
                            f"({week.expected_file.name}); run `dlgrade release {week.name}`.")
        import torch

        return ReplayReference(torch.load(week.expected_file, weights_only=True))
    if not week.has_reference():
        raise UserError(f"{week.name} has no reference solution at {week.solution_file}.")
    name = f"_dlgrade_reference_{week.name}_{week.module}"
    spec = importlib.util.spec_from_file_location(name, week.solution_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return RecordingReference(module, store) if mode == "record" else LocalReference(module)


def _require_cuda(sandbox) -> None:
    """Ask NVML, which leaves this process fork-safe: later warm parents must not inherit CUDA."""
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    import torch

    if not torch.cuda.is_available():
        if sandbox is not None:
            sandbox.close()
        raise UserError("--device cuda needs a CUDA GPU, and torch sees none here; use --device cpu.")
