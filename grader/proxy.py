"""What a test sees as `student` and `reference`.

`StudentModule` looks like the submission's module but every call crosses into
a sandboxed worker (`grader.sandbox`). For the functions a week declares
in place (`in_place` in week.toml), arguments the student's function changed
are written back into the caller's objects, so in-place contracts
(`adam_step`) are tested exactly as they read; for every other function a
change is only recorded (`check_unmodified`), so it cannot spoil the
reference's inputs. Objects the worker cannot send
back as plain data (a module instance, an optimizer) come back as
`RemoteObject` handles.

`LocalReference` wraps the reference module in the trusted process with the
same `run(scenario, ...)` method; `RecordingReference` and `ReplayReference`
store and replay its answers to the public tests, so a student release can
run them without the reference.
"""

from __future__ import annotations

import inspect
import re
import time
import textwrap
import types
from dataclasses import dataclass, field

import torch

from . import wire
from .errors import (BannedCall, InvalidAnswer, MissingFunction, StudentError, StudentFault, StudentImportError,
                     WorkerTimeout)


@dataclass
class CallRecord:
    """What the last call did besides returning: inputs it changed, bans it hit."""

    name: str
    mutated: list = field(default_factory=list)


class Session:
    """The link between one submission and its current worker.

    A worker is started lazily and reused across tests; after a test in which
    it died, hung or lied, the next call gets a fresh one.
    """

    def __init__(self, sandbox, submission_dir, week, *, seed: int, device: str):
        self.sandbox, self.submission_dir, self.week = sandbox, submission_dir, week
        self.seed, self.device = seed, device
        self.worker = None
        self.names: dict[str, str] | None = None
        self.import_error: str | None = None
        self.isolation: list[str] = []
        self.last_call: CallRecord | None = None
        self.function = ""  # the function the current test grades (for bans)
        self.test_started = time.monotonic()
        self.created = self.test_started  # the submission's budget runs from here
        self.made_handles = False
        self.notes: list[str] = []
        self.student_s = 0.0  # this test's time in calls into the worker (see `call`)

    def ensure(self):
        if self.worker is not None and self.worker.alive:
            return self.worker
        banned = {f: list(self.week.banned_for(f)) for f in self.week.functions}
        self.worker = self.sandbox.spawn(self.submission_dir, self.week.module, banned=banned, seed=self.seed)
        try:
            hello = self.worker.request({"op": "hello"})
        except StudentFault as e:
            self.import_error = f"importing {self.week.module}.py failed: {e}"
            self.names = {}
            return self.worker
        # the reply comes from a process the student's code ran in: read it as untrusted data
        if not isinstance(hello, dict) or hello.get("ok") not in (True, False):
            self.import_error = (f"importing {self.week.module}.py gave a malformed reply to the grader; "
                                 "the module must not change how the grader talks to it")
            self.names = {}
        elif not hello["ok"]:
            self.import_error = _import_message(self.week.module, hello)
            self.names = {}
        elif not isinstance(hello.get("value"), dict) or not all(isinstance(k, str) for k in hello["value"]):
            self.import_error = (f"importing {self.week.module}.py gave no list of the names it defines; "
                                 "the module must not change how the grader talks to it")
            self.names = {}
        else:
            self.names = hello["value"]
            isolation = hello.get("isolation", [])
            self.isolation = [str(x) for x in isolation] if isinstance(isolation, list) else []
        return self.worker

    def probe(self) -> None:
        """Import the module once; remember the import error if there is one."""
        self.ensure()

    def call(self, req: dict):
        if self.import_error:
            raise StudentImportError(self.import_error)
        worker = self.ensure()
        if self.import_error:
            raise StudentImportError(self.import_error)
        req = {**req, "function": self.function}
        limits = self.sandbox.limits
        now = time.monotonic()
        left = limits.test_timeout_s - (now - self.test_started)
        if left <= 0:
            raise WorkerTimeout(f"the test used up its {limits.test_timeout_s:g} s")
        budget = limits.submission_timeout_s - (now - self.created)
        if budget <= 0:
            raise WorkerTimeout(f"the submission used up its {limits.submission_timeout_s:g} s budget")
        t0 = time.perf_counter()
        try:
            answer = worker.request(req, timeout=min(limits.call_timeout_s, left, budget))
        finally:
            # the round trip of the call: the student's code plus sending the inputs and the answer
            self.student_s += time.perf_counter() - t0
        if answer.get("banned"):
            raise BannedCall(_banned_message(answer["banned"], self.function))
        if not answer["ok"]:
            kind = answer.get("kind")
            if kind == "missing":
                raise MissingFunction(f"{self.week.module}.py has no {answer['message']}")
            if kind == "import":
                raise StudentImportError(_import_message(self.week.module, answer))
            if kind == "invalid":
                raise InvalidAnswer(f"{req.get('name', 'the scenario')} returned {answer['message']}")
            if answer.get("type") == "OSError" and "File too large" in str(answer.get("message")):
                raise StudentError(f"{req.get('name') or 'the scenario'} printed more than the output limit of "
                                   f"{self.sandbox.limits.output_bytes // 1024} KiB; print less")
            raise StudentError(_raised_message(req.get("name") or req.get("scenario", ""), answer),
                               exc_type=str(answer.get("type") or ""), line=_raised_line(answer))
        if self.device != "cpu" and answer.get("devices") == ["cpu"] and _has_tensor(req.get("args")):
            raise InvalidAnswer(f"{req.get('name')} returned a tensor on the CPU for inputs on {self.device}; "
                                "return results on the input's device")
        self.last_call = CallRecord(req.get("name", ""), [m[0] for m in answer.get("mutated", [])])
        return answer

    def reset(self) -> None:
        """Drop the objects the test made in the worker (if it made any)."""
        if not self.made_handles:
            return
        self.made_handles = False
        if self.worker is not None and self.worker.alive:
            try:
                self.worker.request({"op": "reset"})
            except Exception:  # noqa: BLE001 - a worker that fails here is replaced next test
                self.worker.kill()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.kill(wait=False)
            self.worker = None


class StudentModule:
    """The submission's module as a test sees it."""

    def __init__(self, session: Session):
        object.__setattr__(self, "_session", session)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        s = self._session
        if not s.import_error and s.names is not None and name not in s.names:
            raise MissingFunction(f"{s.week.module}.py does not define {name}")
        return RemoteCallable(s, "module", name)

    def run(self, scenario, *args, **kwargs):
        """Run `scenario(module, *args, **kwargs)` in the worker (see docs/writing-suites.md)."""
        source, name = scenario_source(scenario)
        answer = self._session.call({"op": "run", "source": source, "name": name, "scenario": name,
                                     "args": list(args), "kwargs": kwargs})
        return _rehydrate(self._session, answer["value"])

    @property
    def last_call(self) -> CallRecord | None:
        return self._session.last_call


class RemoteCallable:
    def __init__(self, session: Session, target, name: str):
        self._session, self._target, self._name = session, target, name

    def __call__(self, *args, **kwargs):
        answer = self._session.call({"op": "call", "target": self._target, "name": self._name,
                                     "args": _handles_out(list(args)), "kwargs": _handles_out(kwargs)})
        if self._name in self._session.week.in_place or self._target != "module":
            _write_back(args, kwargs, answer.get("mutated", []))
        return _rehydrate(self._session, answer["value"])

    def __repr__(self) -> str:
        return f"<student {self._name}>"


class RemoteObject:
    """A handle to an object living in the worker (a module instance, say)."""

    def __init__(self, session: Session, hid: int, type_name: str):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_hid", hid)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _RemoteAttr(self._session, self._hid, name)

    def __call__(self, *args, **kwargs):
        return RemoteCallable(self._session, self._hid, "__call__")(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<student {self._type} object>"


class _RemoteAttr(RemoteCallable):
    """`obj.name` is a method to call or, via `.value`, an attribute to read."""

    @property
    def value(self):
        answer = self._session.call({"op": "call", "target": self._hid_target, "name": self._name,
                                     "getattr": True, "args": [], "kwargs": {}})
        return _rehydrate(self._session, answer["value"])

    @property
    def _hid_target(self):
        return self._target


# ------------------------------------------------------------------ reference side
class LocalReference:
    """The reference module, run in the trusted process."""

    def __init__(self, module: types.ModuleType):
        self._module = module

    def __getattr__(self, name: str):
        return getattr(self._module, name)

    def run(self, scenario, *args, **kwargs):
        source, name = scenario_source(scenario)
        ns = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "math": __import__("math"),
              "device": torch.device("cpu")}
        exec(compile(source, "<scenario>", "exec"), ns)
        return ns[name](self._module, *args, **kwargs)


class TimedReference:
    """A reference whose calls are timed, for comparing a student's speed with it.

    `elapsed` adds up the time of every call and scenario, except those made to
    compute a hint's alternative answer (`testing.hinting`); `reset` starts a test.
    """

    def __init__(self, inner):
        self._inner, self.elapsed = inner, 0.0

    def reset(self) -> None:
        self.elapsed = 0.0

    def _timed(self, fn):
        from .testing import hinting

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if not hinting.get():
                    self.elapsed += time.perf_counter() - t0

        return timed

    def __getattr__(self, name: str):
        value = getattr(self._inner, name)
        return self._timed(value) if callable(value) and not isinstance(value, type) else value

    def run(self, scenario, *args, **kwargs):
        return self._timed(self._inner.run)(scenario, *args, **kwargs)


class RecordingReference(LocalReference):
    """A LocalReference that remembers its answers to the public tests, keyed by the call.

    Hidden tests' answers are never kept: the recordings ship to students.
    """

    def __init__(self, module, store: dict):
        super().__init__(module)
        self._store = store

    def _keep(self, key: str, value) -> None:
        from .testing import visibility

        if visibility.get() == "public":
            self._store[key] = _detach(value)

    def __getattr__(self, name: str):
        fn = getattr(self._module, name)
        if not callable(fn) or isinstance(fn, type):
            return fn

        def recorded(*args, **kwargs):
            value = fn(*args, **kwargs)
            self._keep(call_key(name, args, kwargs), value)
            return value

        return recorded

    def run(self, scenario, *args, **kwargs):
        value = super().run(scenario, *args, **kwargs)
        self._keep(call_key("run:" + scenario_source(scenario)[0], args, kwargs), value)
        return value


class ReplayReference:
    """Answers recorded by `dlgrade release`, for a release without the reference."""

    def __init__(self, store: dict):
        self._store = store

    def _get(self, key: str, what: str):
        if key not in self._store:
            raise LookupError(f"no recorded reference answer for {what}: this public test asks something "
                              "new; the instructor must run `dlgrade release` again")
        return self._store[key]

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._get(call_key(name, args, kwargs), name)

    def run(self, scenario, *args, **kwargs):
        return self._get(call_key("run:" + scenario_source(scenario)[0], args, kwargs), scenario.__name__)


def call_key(name: str, args, kwargs) -> str:
    return wire.canonical_hash([name, list(args), dict(kwargs)])


def scenario_source(fn) -> tuple[str, str]:
    if not isinstance(fn, types.FunctionType):
        raise TypeError("a scenario is a plain function defined in the test file")
    return textwrap.dedent(inspect.getsource(fn)), fn.__name__


# ------------------------------------------------------------------ helpers
def _detach(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if type(value) in (list, tuple):
        return type(value)(_detach(v) for v in value)
    if isinstance(value, dict):
        return {k: _detach(v) for k, v in value.items()}
    return value


def _handles_out(obj):
    if isinstance(obj, RemoteObject):
        return {wire.HANDLE_KEY: obj._hid, "type": obj._type}
    if type(obj) in (list, tuple):
        return type(obj)(_handles_out(v) for v in obj)
    if type(obj) is dict:
        return {k: _handles_out(v) for k, v in obj.items()}
    return obj


def _rehydrate(session, obj):
    if type(obj) is dict:
        if set(obj) == {wire.HANDLE_KEY, "type"} and type(obj[wire.HANDLE_KEY]) is int:
            session.made_handles = True
            return RemoteObject(session, obj[wire.HANDLE_KEY], str(obj["type"]))
        return {k: _rehydrate(session, v) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_rehydrate(session, v) for v in obj)
    return obj


def _write_back(args, kwargs, mutated) -> None:
    """Copy the worker's in-place changes into the caller's own tensors."""
    roots = {"args": list(args), "kwargs": kwargs}
    for path, value in mutated:
        try:
            obj = roots[path[0]]
            for p in path[1:]:
                obj = obj[p]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(obj, torch.Tensor) and type(value) is torch.Tensor:
            with torch.no_grad():
                if obj.shape == value.shape:
                    obj.copy_(value.to(obj.dtype))
                else:
                    obj.data = value.to(obj.dtype)


def _has_tensor(obj) -> bool:
    if isinstance(obj, torch.Tensor):
        return True
    if type(obj) in (list, tuple):
        return any(_has_tensor(x) for x in obj)
    if type(obj) is dict:
        return any(_has_tensor(x) for x in obj.values())
    return False


def _import_message(module: str, answer: dict) -> str:
    where = f" at {answer['where'][-1]}" if answer.get("where") else ""
    return f"{module}.py could not be imported: {answer.get('type')}: {answer.get('message')}{where}"


def _raised_message(name: str, answer: dict) -> str:
    msg = answer.get("message") or ""
    if answer.get("type") == "NotImplementedError" and msg.strip() in ("", name):  # the stub's own raise
        return f"{name} is not implemented yet (it raises NotImplementedError)"
    where = f" ({answer['where'][-1]})" if answer.get("where") else ""
    return f"{name} raised {answer.get('type')}{': ' + msg if msg else ''}{where}"


def _raised_line(answer: dict) -> str:
    """Where the student's code raised, as "conv.py:42" (the innermost frame the worker reported)."""
    where = answer.get("where")
    last = str(where[-1]) if isinstance(where, list) and where else ""
    m = re.match(r"(.*?), line (\d+)", last)
    return f"{m.group(1)}:{m.group(2)}" if m else ""


def _banned_message(names, function: str) -> str:
    return (f"{function} calls {', '.join(names)}, which this exercise bans "
            "(the point is to write it yourself); this test scores 0")
