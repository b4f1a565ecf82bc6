"""The sandboxed worker: the only place student code runs.

`serve()` runs in a process forked from the warm parent. It confines itself
(`confine`), imports the student's module and answers requests from the trusted
process: call a function, call a method of an object it made, run a scenario.
It answers with plain data only; objects that are not plain data stay here and
travel as handles.

Nothing in this module is trusted by the grader: the student's code can patch
it. The trusted side checks every answer on arrival.
"""

from __future__ import annotations

import ctypes
import importlib.util
import math
import os
import random
import resource
import signal
import socket
import sys
import textwrap
import traceback
import types
from pathlib import Path

import torch

from .. import wire
from . import isolate
from .bans import TRIPWIRES

MAX_REQUEST = 1 << 30
# bound now, before any student code can patch torch
_equal = torch.equal
PR_SET_PDEATHSIG = 1


def serve(fd: int, out_fd: int, report_fd: int, config: dict) -> None:
    """Entry point in the cloned child; never returns.

    The child confines itself and writes its report (the features it got, or
    why it could not) to `report_fd`, which the warm parent reads; only then,
    with that pipe closed, does any student code run.
    """
    import faulthandler
    import json

    faulthandler.disable()  # it holds a copy of the warm parent's stderr
    keep = sorted((fd, out_fd, report_fd))
    os.closerange(3, keep[0])
    os.closerange(keep[0] + 1, keep[1])
    os.closerange(keep[1] + 1, keep[2])
    os.closerange(keep[2] + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    sock = socket.socket(fileno=fd)
    try:
        confine(config, out_fd)
        report = {"features": config["isolation"]}
    except BaseException as e:  # noqa: BLE001 - the warm parent reports it as a failure of the sandbox
        report = {"error": f"{type(e).__name__}: {e}"}
    try:
        os.write(report_fd, json.dumps(report).encode())
    finally:
        os.close(report_fd)
    if "error" in report:
        os._exit(3)
    try:
        state = WorkerState(config)
        state.load_module()
        loop(sock, state)
    except BaseException:  # noqa: BLE001 - the child must end here, whatever happened
        pass
    finally:
        os._exit(0)


# ---------------------------------------------------------------- confinement
def confine(config: dict, out_fd: int) -> None:
    """Namespaces and mounts (`isolate.enter`), then limits, then no way back: no capabilities,
    no_new_privs and the system-call filter. In a strict sandbox every step is required."""
    import tempfile

    os.setsid()  # own process group: the trusted side kills it whole
    _setrlimit(resource.RLIMIT_CORE, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the output cap: write fails, process lives
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the warm parent's reaper is not the worker's

    weak = config.get("weak", False)
    isolation = isolate.enter(config) if config.get("namespaces", True) else isolate.enter_weak(config)
    work = config["workdir"]
    os.chdir(work)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(null)
    os.close(out_fd)
    # whatever the grader's own sys.stdout was (a capture, a terminal), the worker's is fd 1
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="replace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="replace")
    sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin
    os.environ.clear()
    os.environ.update({"HOME": work, "TMPDIR": work, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                       "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NO_PROXY": "*"})
    tempfile.tempdir = work  # the warm parent's cached /tmp is hidden and read-only here
    lim = config["limits"]
    _setrlimit(resource.RLIMIT_CORE, 0)
    _setrlimit(resource.RLIMIT_CPU, int(lim["cpu_s"]))
    _setrlimit(resource.RLIMIT_FSIZE, int(lim["output_bytes"]))
    if lim.get("memory_bytes") and config["device"] == "cpu":
        _setrlimit(resource.RLIMIT_DATA, int(lim["memory_bytes"]))
    # counted per user in the worker's own user namespace: its processes and threads alone
    # (not enforced for a process that is root on the host, which a strict worker never is)
    if _setrlimit(resource.RLIMIT_NPROC, int(lim["max_processes"])) and (config.get("namespaces", True)
                                                                           or os.getuid() != 0):
        isolation.append("process-limit")
    try:
        isolate.drop_privileges()
        isolation += ["no-capabilities", "no-new-privs"]
    except OSError:
        if not weak:
            raise
    from . import seccomp

    try:
        seccomp.install(cpu=config["device"] == "cpu")
        isolation.append("seccomp")
    except OSError:
        if not weak:
            raise

    # `python -I` semantics: no user site, no cwd; the submission's folder first.
    from . import install_paths

    allowed = set(install_paths())
    keep = [p for p in sys.path if p in allowed]
    sys.path[:] = [config["submission_dir"]] + keep
    sys.dont_write_bytecode = True
    config["isolation"] = isolation


def _setrlimit(which: int, value: int) -> bool:
    try:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
        return True
    except (ValueError, OSError):
        return False


# ---------------------------------------------------------------- state
class WorkerState:
    def __init__(self, config: dict):
        self.config = config
        self.device = torch.device(config["device"])
        self.module: types.ModuleType | None = None
        self.handles: dict[int, object] = {}
        self.next_handle = 1
        self.student_dir = os.path.realpath(config["submission_dir"])
        self.tripwires = TRIPWIRES
        self.tripwires.student_dir = self.student_dir
        self.banned: dict[str, list[str]] = config.get("banned", {})
        if self.device.type == "cuda":
            torch.cuda.init()
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            frac = config["limits"].get("gpu_memory_fraction")
            if frac:
                torch.cuda.set_per_process_memory_fraction(frac)

    def load_module(self) -> None:
        self.tripwires.install(sorted({n for names in self.banned.values() for n in names}))  # no-op if warm
        self.import_error = None
        name = self.config["module"]
        path = os.path.join(self.config["submission_dir"], f"{name}.py")
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            _seed(self.config["seed"])
            spec.loader.exec_module(mod)
            self.module = mod
        except BaseException as e:  # noqa: BLE001 - SystemExit at import is a student error too
            self.import_error = _describe(e, self.student_dir)

    # -------------------------------------------------------------- requests
    def handle(self, req: dict) -> dict:
        op = req["op"]
        if op == "hello":
            if self.import_error:
                return {"ok": False, "kind": "import", **self.import_error}
            names = {k: _kind(v) for k, v in vars(self.module).items() if not k.startswith("__")}
            return {"ok": True, "value": names, "isolation": self.config["isolation"]}
        if op == "reset":
            self.handles.clear()
            return {"ok": True, "value": None}
        if self.module is None:
            return {"ok": False, "kind": "import", **(self.import_error or {"type": "ImportError", "message": "not loaded"})}
        args = _to_device(self._resolve(req.get("args", [])), self.device)
        kwargs = _to_device(self._resolve(req.get("kwargs", {})), self.device)
        function = req.get("function", "")
        if op == "call":
            target = self._target(req["target"])
            if req["name"] == "__call__":
                fn = target
            else:
                fn = getattr(target, req["name"], None) if target is not None else None
                if fn is None:
                    return {"ok": False, "kind": "missing", "type": "AttributeError", "message": req["name"]}
            if req.get("getattr"):
                return self._answer(fn, args, kwargs, function, call=False)
            return self._answer(fn, args, kwargs, function)
        if op == "run":
            namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "math": math,
                         "device": self.device}
            exec(compile(textwrap.dedent(req["source"]), "<scenario>", "exec"), namespace)
            fn = namespace[req["name"]]
            return self._answer(fn, [self.module, *args], kwargs, function, scenario=True)
        return {"ok": False, "kind": "protocol", "type": "ValueError", "message": f"unknown op {op}"}

    def _target(self, target):
        if target == "module":
            return self.module
        return self.handles.get(int(target))

    def _resolve(self, obj):
        """Replace handle markers in arguments by the objects they name."""
        if type(obj) is dict:
            if set(obj) == {wire.HANDLE_KEY, "type"}:
                return self.handles.get(int(obj[wire.HANDLE_KEY]))
            return {k: self._resolve(v) for k, v in obj.items()}
        if type(obj) in (list, tuple):
            return type(obj)(self._resolve(v) for v in obj)
        return obj

    def _answer(self, fn, args, kwargs, function, call=True, scenario=False) -> dict:
        before = _tensor_leaves(args, kwargs)
        snapshots = [(p, t.detach().clone()) for p, t in before]
        self.tripwires.arm(self.banned.get(function, ()), scenario=scenario)
        _seed(self.config["seed"])
        try:
            value = fn(*args, **kwargs) if call else fn
        except BaseException as e:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are answers too
            return {"ok": False, "kind": "raised", **_describe(e, self.student_dir),
                    "banned": self.tripwires.disarm()}
        banned = self.tripwires.disarm()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        mutated = []
        if not scenario:
            for (path, t), (_, old) in zip(before, snapshots):
                if t.shape != old.shape or not _equal(t.detach(), old):
                    mutated.append([path, _plain_tensor(t)])
        devices = sorted({t.device.type for _, t in _tensor_leaves([value], {})} if isinstance(value, (torch.Tensor, list, tuple, dict)) else set())
        try:
            plain = self._plain(value)
        except TypeError as e:
            return {"ok": False, "kind": "invalid", "type": "TypeError", "message": str(e), "banned": banned}
        return {"ok": True, "value": plain, "mutated": mutated, "banned": banned, "devices": devices}

    def _plain(self, obj, depth=0):
        if depth > 40:
            raise TypeError("the answer is nested too deeply")
        t = type(obj)
        if isinstance(obj, torch.Tensor):
            if t not in (torch.Tensor, torch.nn.Parameter):
                raise TypeError(f"a Tensor subclass {t.__name__}; return a plain torch.Tensor")
            return _plain_tensor(obj)
        if t in wire.SCALARS or t is torch.dtype:
            return obj
        if t is torch.Size:
            return tuple(obj)
        if t in (list, tuple):
            return t(self._plain(x, depth + 1) for x in obj)
        if isinstance(obj, tuple):  # namedtuples such as load_state_dict's answer
            return tuple(self._plain(x, depth + 1) for x in obj)
        if isinstance(obj, dict) and t.__module__ in ("builtins", "collections"):
            return {k: self._plain(v, depth + 1) for k, v in obj.items()}
        if isinstance(obj, types.GeneratorType) or t.__name__ in ("dict_keys", "dict_values", "dict_items"):
            return [self._plain(x, depth + 1) for x in obj]
        if isinstance(obj, torch.nn.Module) and self.device.type != "cpu":
            obj.to(self.device)  # a module the student's code made lives where its inputs will
        if isinstance(obj, (torch.nn.Module, torch.optim.Optimizer)) or callable(obj) or hasattr(obj, "__dict__"):
            hid = self.next_handle
            self.next_handle += 1
            self.handles[hid] = obj
            return {wire.HANDLE_KEY: hid, "type": t.__name__}
        if t.__module__ == "numpy" or type(obj).__name__ == "ndarray":
            raise TypeError(f"a numpy {t.__name__}; return a torch.Tensor")
        raise TypeError(f"an object of type {t.__name__}, which is not plain data")


def loop(sock: socket.socket, state: WorkerState) -> None:
    while True:
        try:
            req = wire.loads(wire.recv(sock, MAX_REQUEST))
        except (EOFError, OSError):
            return
        try:
            answer = state.handle(req)
        except BaseException as e:  # noqa: BLE001
            answer = {"ok": False, "kind": "raised", **_describe(e, state.student_dir)}
        try:
            payload = wire.dumps(answer)
        except Exception as e:  # noqa: BLE001
            payload = wire.dumps({"ok": False, "kind": "invalid", "type": type(e).__name__,
                                  "message": "the answer could not be serialised"})
        wire.send(sock, payload)


# ---------------------------------------------------------------- helpers
def _seed(seed: int) -> None:
    random.seed(seed)
    # not torch.manual_seed: before CUDA is initialised it queues a CUDA seeding with a stack trace on
    # every call, which is slow and grows without end
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover
        pass


def _kind(v) -> str:
    if isinstance(v, type):
        return "class"
    if isinstance(v, types.ModuleType):
        return "module"
    return "function" if callable(v) else "value"


def _plain_tensor(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").clone(memory_format=torch.contiguous_format)


def _to_device(obj, device):
    if device.type == "cpu":
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if type(obj) in (list, tuple):
        return type(obj)(_to_device(x, device) for x in obj)
    if type(obj) is dict:
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def _tensor_leaves(args, kwargs):
    out = []

    def walk(obj, path):
        if isinstance(obj, torch.Tensor):
            out.append((path, obj))
        elif type(obj) in (list, tuple):
            for i, x in enumerate(obj):
                walk(x, path + [i])
        elif type(obj) is dict:
            for k, x in obj.items():
                walk(x, path + [k])

    walk(list(args), ["args"])
    walk(dict(kwargs), ["kwargs"])
    return out


def _describe(e: BaseException, student_dir: str) -> dict:
    """Exception type, message and the traceback frames of the student's files."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if os.path.realpath(f.filename).startswith(student_dir + os.sep)]
    where = [f"{Path(f.filename).name}, line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames[-3:]]
    msg = str(e)
    if isinstance(e, SyntaxError):
        msg = f"{e.msg} ({Path(e.filename or '?').name}, line {e.lineno})"
    return {"type": type(e).__name__, "message": msg[:2000], "where": where}
