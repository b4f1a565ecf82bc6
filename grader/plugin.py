"""The pytest plugin: one trusted pytest session grades many submissions.

The week's suites are collected once. For each submission the plugin runs
every collected test with `runtestprotocol`, the `student` fixture pointing at
that submission's sandboxed worker, and turns the reports into the result
contract. Student code never runs here: only the suites, the reference and the
comparisons do.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
from _pytest.reports import TestReport
from _pytest.runner import runtestprotocol

from . import banned as banned_mod
from . import testing
from .errors import (BannedCall, InvalidAnswer, MissingFunction, StudentError, StudentFault, StudentImportError,
                     UserError, WorkerCrashed, WorkerTimeout, grader_failed)
from .proxy import LocalReference, Session, StudentModule, TimedReference
from .result import make_result, test_entry


@dataclass
class Target:
    """One submission to grade: a folder holding the module, or an intake error."""

    student: str
    folder: Path | None
    sha256: str = ""
    error: str | None = None
    notes: tuple[str, ...] = ()


class GradingPlugin:
    def __init__(self, *, week, targets: list[Target], sandbox, reference, seed: int, device: str,
                 on_result: Callable[[dict], None], stage: Callable[[Path], Path]):
        self.week, self.targets, self.sandbox = week, targets, sandbox
        # a reference run here is timed, to set students' speed beside it; replayed answers take no time
        self.timed = TimedReference(reference) if isinstance(reference, LocalReference) else None
        self.reference_obj, self.seed, self.device_name = self.timed or reference, seed, device
        self.on_result, self.stage = on_result, stage
        self.items: list[pytest.Item] = []
        self.session: Session | None = None
        self.excinfo: dict[str, BaseException] = {}
        self.collect_errors: list[str] = []

    # ------------------------------------------------------------ pytest hooks
    def pytest_configure(self, config):
        config.addinivalue_line("markers", "points(n): points the test is worth")
        config.addinivalue_line("markers", "public: a public test (students see and run it)")
        config.addinivalue_line("markers", "function(name): the student function the test grades")

    def pytest_collection_modifyitems(self, session, config, items):
        self.items = list(items)

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {report.longreprtext.strip().splitlines()[-1]}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        """A lean report: the grade needs the exception, not pytest's formatted traceback
        (building that costs more than most tests take)."""
        exc = call.excinfo.value if call.excinfo is not None else None
        if exc is not None and item.nodeid not in self.excinfo:
            self.excinfo[item.nodeid] = exc
        if exc is None:
            outcome, longrepr = "passed", None
        elif isinstance(exc, pytest.skip.Exception):
            outcome, longrepr = "skipped", (str(item.path), 0, str(exc))
        else:
            outcome, longrepr = "failed", f"{type(exc).__name__}: {exc}"
        return TestReport(item.nodeid, item.location, {}, outcome, longrepr, call.when,
                          duration=call.duration, start=call.start, stop=call.stop)

    def pytest_runtestloop(self, session):
        if self.collect_errors:
            raise pytest.UsageError("the week's suite does not load: " + "; ".join(self.collect_errors))
        for target in self.targets:
            try:
                result = self.grade(target)
            except UserError:
                raise
            except Exception as e:  # noqa: BLE001 - one submission broke the trusted side: it alone is not gradable
                result = make_result(tests=[], error=grader_failed(e), student=target.student, week=self.week.name,
                                     sha256="", started=time.monotonic(), notes=list(target.notes), seed=self.seed,
                                     device=self.device_name, max_score=sum(_points(i) for i in self.items))
            self.on_result(result)
        return True

    # ------------------------------------------------------------ fixtures
    @pytest.fixture
    def student(self, request):
        self.session.function = _function_of(request.node)
        self.session.test_started = time.monotonic()
        yield StudentModule(self.session)
        self.session.reset()

    @pytest.fixture
    def reference(self):
        return self.reference_obj

    @pytest.fixture
    def rng(self, request):
        gen = torch.Generator()
        gen.manual_seed(item_seed(request.node, self.seed))
        return gen

    @pytest.fixture
    def device(self):
        return self.device_name

    # ------------------------------------------------------------ grading
    def grade(self, target: Target) -> dict:
        started = time.monotonic()
        total = sum(_points(i) for i in self.items)
        common = dict(student=target.student, week=self.week.name, sha256=target.sha256, started=started,
                      notes=list(target.notes), seed=self.seed, device=self.device_name)
        if target.error:
            return make_result(tests=[], error=target.error, max_score=total, **common)
        module_file = target.folder / f"{self.week.module}.py"
        if not module_file.is_file():
            return make_result(tests=[], max_score=total, error=f"the submission has no {self.week.module}.py "
                               f"(files found: {', '.join(sorted(p.name for p in target.folder.iterdir())) or 'none'})",
                               **common)
        source = module_file.read_text(errors="replace")
        helpers = [p.read_text(errors="replace") for p in sorted(target.folder.glob("*.py"))
                   if p.is_file() and not p.is_symlink() and p != module_file]
        scan = banned_mod.scan(source, {f: self.week.banned_for(f) for f in self.week.functions}, helpers)
        static_bans, review = scan.banned, scan.review
        staged = self.stage(target.folder)
        self.session = Session(self.sandbox, staged, self.week, seed=self.seed, device=self.device_name)
        tests = []
        self.timed_out: dict[str, str] = {}  # function -> the test in which it timed out
        try:
            self.session.probe()
            budget = self.sandbox.limits.submission_timeout_s
            for i, item in enumerate(self.items):
                nextitem = self.items[i + 1] if i + 1 < len(self.items) else None
                tests.append(self._run_item(item, nextitem, static_bans, review, started, budget))
                if tests[-1]["status"] == "timeout":
                    self.timed_out.setdefault(tests[-1]["function"], tests[-1]["name"])
        finally:
            if self.items:
                self.items[0].session._setupstate.teardown_exact(None)
            self.session.close()
            self.session = None
        return make_result(tests=tests, **common)

    def _run_item(self, item, nextitem, static_bans, review, started, budget) -> dict:
        function = _function_of(item)
        vis = "public" if item.get_closest_marker("public") else "hidden"
        name = _test_name(item, function)
        entry = dict(name=name, function=function, max_score=_points(item), visibility=vis)
        if function in static_bans:
            return test_entry(status="banned", duration_s=0.0, kind="banned", message=(
                f"{function} uses {', '.join(static_bans[function])}, which this exercise bans "
                "(the point is to write it yourself); its tests score 0"), **entry)
        if function in self.timed_out:
            return test_entry(status="timeout", duration_s=0.0, kind="timeout", message=(
                f"not run: {function} already timed out in '{self.timed_out[function]}'"), **entry)
        if time.monotonic() - started > budget:
            return test_entry(status="timeout", duration_s=0.0, kind="timeout",
                              message=f"not run: the submission used up its {budget:g} s budget", **entry)
        # a test not run (banned, timed out) leaves the set-up stack prepared for it: trim it to this one
        item.session._setupstate.teardown_exact(item)
        token = testing.visibility.set(vis)
        self.session.student_s = 0.0
        if self.timed:
            self.timed.reset()
        t0 = time.perf_counter()
        try:
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
        finally:
            testing.visibility.reset(token)
        status, message, why = self._classify(item, reports)
        if status == "passed" and self.timed:
            # both sides ran the whole test on the same inputs (a failed test may stop before the reference runs)
            why.update(student_s=self.session.student_s, reference_s=self.timed.elapsed)
        if function in review:
            # points it would have earned are withheld; a test it lost anyway keeps its own status
            if status == "passed":
                status, message, why["kind"] = "review", _review_message(function, review[function]), "review"
            else:
                message = _one_line(f"{message} (also held for review: {_why(function, review[function])})", 800)
        return test_entry(status=status, message=message, duration_s=time.perf_counter() - t0, **entry, **why)

    def _classify(self, item, reports) -> tuple[str, str, dict]:
        """The test's status, its message, and what went wrong as data (`failure_data`)."""
        exc = self.excinfo.pop(item.nodeid, None)
        if not any(r.failed for r in reports):
            if any(r.skipped for r in reports):
                return "error", "the test was skipped: " + _skip_reason(reports), {"kind": "error"}
            return "passed", "", {}
        if isinstance(exc, StudentFault):
            return exc.status, _one_line(str(exc), 400), failure_data(exc)
        if isinstance(exc, AssertionError):
            msg = str(exc).strip()
            return ("failed", _one_line(msg, 600) if msg else "the answer is wrong (assertion failed)",
                    failure_data(exc))
        if exc is None:
            return "error", "the test did not complete", {"kind": "error"}
        return "error", _one_line(f"the test failed with {type(exc).__name__}: {exc}", 400), {"kind": "error"}


# ------------------------------------------------------------------ helpers
# The kind of failure each fault of the student's code is (see `failure_data`).
_FAULT_KINDS = ((WorkerTimeout, "timeout"), (WorkerCrashed, "crashed"), (BannedCall, "banned"),
                (StudentError, "exception"), (StudentImportError, "import"), (MissingFunction, "missing"),
                (InvalidAnswer, "invalid"))


def failure_data(exc: BaseException) -> dict:
    """What went wrong, as the result's optional keys of a failed test.

    kind: type, shape, dtype, values, mutated, check (a suite's own check),
    exception, not_implemented, timeout, crashed, banned, import, missing,
    invalid, error or review;
    mistake: {"key", "text"} when a named mistake was recognised;
    exception: {"type", "line"} when the student's code raised.
    """
    if isinstance(exc, testing.GradingFailure):
        return {"kind": exc.kind, "mistake": exc.mistake}
    if isinstance(exc, AssertionError):  # a plain assert in a suite
        return {"kind": "check"}
    kind = next((k for cls, k in _FAULT_KINDS if isinstance(exc, cls)), "error")
    if isinstance(exc, StudentError):
        # a stub's own raise is work not done, wherever the line: one group, not one per file
        kind = "not_implemented" if exc.exc_type == "NotImplementedError" else kind
        return {"kind": kind, "exception": {"type": exc.exc_type, "line": exc.line}}
    return {"kind": kind}


def item_seed(item, run_seed: int) -> int:
    """Public tests: fixed per test. Hidden tests: also depend on the run's seed."""
    return seed_of_test(Path(str(item.path)).name, item.name, bool(item.get_closest_marker("public")), run_seed)


def seed_of_test(file_name: str, test_name: str, public: bool, run_seed: int) -> int:
    """The seed of a test's `rng`, from its suite file's name and its own name (see `item_seed`)."""
    key = f"{file_name}::{test_name}"
    if not public:
        key += f"::{run_seed}"
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16)


def _function_of(item) -> str:
    m = item.get_closest_marker("function")
    return str(m.args[0]) if m and m.args else ""


def _points(item) -> float:
    m = item.get_closest_marker("points")
    return float(m.args[0]) if m and m.args else 1.0


def _test_name(item, function: str) -> str:
    doc = (getattr(item, "obj", None).__doc__ or "").strip().splitlines()
    label = doc[0].strip() if doc else item.name.removeprefix("test_").replace("_", " ")
    if "[" in item.name and doc:
        label += " " + item.name[item.name.index("["):]
    return f"{function}: {label}" if function else label


def _review_message(function: str, reasons: list[str]) -> str:
    """Why a function's points are held for a person to look at."""
    return _one_line(f"held for review: {_why(function, reasons)}; the test itself passed, but its points are "
                     "withheld until a teacher has looked", 800)


def _why(function: str, reasons: list[str]) -> str:
    if all(r.startswith("the source") for r in reasons):
        return f"{function} could not be checked for banned calls ({'; '.join(reasons)})"
    return (f"{function} reaches for {'; '.join(reasons)}, which can switch off or hide from the grader's "
            "checks")


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _skip_reason(reports) -> str:
    for r in reports:
        if r.skipped and isinstance(r.longrepr, tuple):
            return str(r.longrepr[2])
    return ""
