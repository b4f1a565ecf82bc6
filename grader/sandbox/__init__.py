"""The trusted side of the sandbox: a warm parent and the workers it forks.

`Sandbox.start()` forks the warm parent (the "zygote") from the trusted process
right after torch is imported and before any reference solution or suite is
loaded, so nothing secret is in its memory. To run student code the trusted
process hands the zygote one end of a fresh socket pair; the zygote forks a
worker that serves requests on it (`worker.serve`). A worker costs a fork, not
an `import torch`.

Workers never touch the trusted process: a call sends plain data and waits for
plain data, with a wall-clock timeout; a worker that hangs is killed with its
whole process group, one that dies is reaped and its signal reported.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import wire
from . import isolate
from ..errors import InvalidAnswer, WorkerCrashed, WorkerTimeout


@dataclass
class Limits:
    """Per-worker limits. Defaults suit the course's small exercises."""

    call_timeout_s: float = 20.0        # wall clock, one call into student code
    cpu_s: float = 120.0                # CPU seconds, one worker's whole life
    memory_bytes: int = 2 << 30         # RLIMIT_DATA (RLIMIT_AS would break torch)
    output_bytes: int = 1 << 20         # stdout + stderr kept per worker
    answer_bytes: int = 256 << 20       # largest answer read back
    gpu_memory_fraction: float = 0.5    # --device cuda only
    test_timeout_s: float = 60.0        # one test, all its calls
    submission_timeout_s: float = 600.0 # one submission, all its tests
    max_processes: int = 64             # processes and threads of one grader's workers (pids cgroup)


PR_SET_DUMPABLE = 4


def _make_pids_cgroup(limit: int) -> str | None:
    """A pids cgroup (v1 or v2) for this grader's workers, where this user may make one."""
    for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        if not os.path.exists(os.path.join(base, "pids.max" if base.endswith("pids") else "cgroup.procs")) and \
                not os.path.isdir(base):
            continue
        path = os.path.join(base, f"dlgrade-{os.getpid()}")
        try:
            os.makedirs(path, exist_ok=True)
            with open(os.path.join(path, "pids.max"), "w") as f:
                f.write(str(limit))
            return path
        except OSError:
            try:
                os.rmdir(path)
            except OSError:
                pass
    return None


def _warm_optim() -> None:
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # pulls in torch._dynamo once


def _warm_torchvision() -> None:
    import torchvision.models  # noqa: F401


# Imports a week declares in week.toml (`warm = [...]`) so that each worker
# does not pay them again: the first optimizer alone costs about a second.
WARM_UPS = {"optim": _warm_optim, "torchvision": _warm_torchvision,
            "data": lambda: __import__("torch.utils.data")}


class Sandbox:
    """Owns the zygote; forks workers for one submission at a time."""

    def __init__(self, *, device: str = "cpu", limits: Limits | None = None, warm: tuple[str, ...] = (),
                 hide: tuple[str, ...] = (), isolate: bool = True, banned: tuple[str, ...] = ()):
        self.device = device
        self.limits = limits or Limits()
        self.warm = warm
        self.hide_candidates = tuple(str(h) for h in hide)
        self.isolate = isolate
        self.banned = tuple(banned)
        self.pid: int | None = None
        self.ctrl: socket.socket | None = None
        self.run_root: Path | None = None
        self.pids_cgroup: str | None = None
        self._count = 0

    def start(self) -> "Sandbox":
        import torch  # noqa: F401 - the point of the zygote is to hold it warm

        torch.set_num_threads(1)
        for name in self.warm:
            WARM_UPS[name]()
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no reading this process's memory
        self.run_root = Path(tempfile.mkdtemp(prefix="dlgrade-run-"))
        for sub in ("stage", "work"):
            (self.run_root / sub).mkdir()
        os.chmod(self.run_root, 0o755)
        # only the Python installation stays visible (not, say, a tests folder someone put on sys.path)
        roots = [os.path.realpath(r) for r in (sys.prefix, sys.base_prefix, sys.exec_prefix)]
        keep = roots + [p for p in sys.path if p and any(os.path.realpath(p).startswith(r + os.sep) for r in roots)]
        self.hide, self.keep = isolate.hide_list((*isolate.DEFAULT_HIDE, *self.hide_candidates), keep)
        self.pids_cgroup = _make_pids_cgroup(self.limits.max_processes)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # the zygote
            parent.close()
            code = 0
            try:
                from . import worker

                worker.TRIPWIRES.install(sorted(self.banned))  # once, not in every worker
                _zygote_loop(child)
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        child.close()
        self.pid, self.ctrl = pid, parent
        return self

    def stage(self, folder: Path) -> Path:
        """Copy a submission's Python files to a folder of their own (symlinks are not followed)."""
        self._count += 1
        dest = self.run_root / "stage" / f"s{self._count}"
        dest.mkdir(mode=0o755)
        for p in sorted(Path(folder).iterdir()):
            if p.suffix == ".py" and p.is_file() and not p.is_symlink():
                shutil.copyfile(p, dest / p.name)
        return dest

    def close(self) -> None:
        if self.ctrl is not None:
            self.ctrl.close()
            self.ctrl = None
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = None
        if self.run_root is not None:
            shutil.rmtree(self.run_root, ignore_errors=True)
            self.run_root = None
        if self.pids_cgroup:
            try:
                os.rmdir(self.pids_cgroup)
            except OSError:
                pass
            self.pids_cgroup = None

    def __enter__(self) -> "Sandbox":
        return self.start() if self.pid is None else self

    def __exit__(self, *exc) -> None:
        self.close()

    def _ask(self, req: dict, fds=()) -> dict:
        data = json.dumps(req).encode()
        socket.send_fds(self.ctrl, [data], list(fds))
        return json.loads(self.ctrl.recv(65536).decode())

    def spawn(self, submission_dir: Path, module: str, *, banned: dict, seed: int) -> "Worker":
        """A fresh worker with the student's module imported (or its import error)."""
        self.wait_cgroup_empty()  # what a killed worker left (a fork bomb) must be gone first
        self._count += 1
        workdir = str(self.run_root / "work" / f"w{self._count}")
        os.mkdir(workdir, 0o700)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = {
            "workdir": workdir,
            "submission_dir": str(Path(submission_dir).resolve()),
            "module": module,
            "device": self.device,
            "banned": {k: list(v) for k, v in banned.items()},
            "seed": seed,
            "limits": asdict(self.limits),
            "run_root": str(self.run_root),
            "hide": self.hide,
            "keep": self.keep,
            "pids_cgroup": self.pids_cgroup,
            "isolate": self.isolate,
        }
        try:
            reply = self._ask({"op": "spawn", "config": config}, [theirs.fileno()])
        finally:
            theirs.close()
        return Worker(self, reply["pid"], mine, workdir)

    def wait_cgroup_empty(self, timeout: float = 5.0) -> None:
        """Wait until the last worker's processes have left the pids cgroup (a fork bomb's too)."""
        if not self.pids_cgroup:
            return
        threshold = self.limits.max_processes // 4  # a dying worker or two may linger; a fork bomb may not
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(os.path.join(self.pids_cgroup, "pids.current")) as f:
                    if int(f.read().strip() or 0) <= threshold:
                        return
            except (OSError, ValueError):
                return
            time.sleep(0.005)

    def reap(self, pid: int, wait: float = 2.0) -> str:
        """Wait for a worker to end (killing it after `wait` s) and describe how it ended."""
        return self._ask({"op": "reap", "pid": pid, "wait": wait})["how"]


class Worker:
    """The trusted process's handle on one worker."""

    def __init__(self, sandbox: Sandbox, pid: int, sock: socket.socket, workdir: str):
        self.sandbox, self.pid, self.sock, self.workdir = sandbox, pid, sock, workdir
        self.alive = True

    def request(self, req: dict, timeout: float | None = None) -> dict:
        """Send one request and return the checked answer; raise a StudentFault."""
        if not self.alive:
            raise WorkerCrashed("the worker had already stopped")
        limit = timeout or self.sandbox.limits.call_timeout_s
        self.sock.settimeout(limit)
        try:
            wire.send(self.sock, wire.dumps(req))
            data = wire.recv(self.sock, self.sandbox.limits.answer_bytes)
        except socket.timeout:
            self.kill()
            raise WorkerTimeout(f"timed out after {limit:g} s (an endless loop, or far too slow)") from None
        except (EOFError, ConnectionError, BrokenPipeError):
            how = self.kill(graceful=True)
            raise WorkerCrashed(f"the process running the submission ended abruptly ({how})") from None
        except wire.WireError as e:
            self.kill()
            raise InvalidAnswer(f"the answer was refused: {e}") from None
        try:
            answer = wire.loads(data)
        except wire.WireError as e:
            self.kill()
            raise InvalidAnswer(f"the answer was refused: it contained {e}") from None
        if type(answer) is not dict or type(answer.get("ok")) is not bool:
            self.kill()
            raise InvalidAnswer("the answer was not in the worker's format (was the grader tampered with?)")
        return answer

    def output(self, limit: int = 4000) -> tuple[str, int]:
        """The last `limit` characters the worker printed, and the total size."""
        path = os.path.join(self.workdir, "output.txt")
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                f.seek(max(0, size - limit))
                return f.read(limit).decode("utf-8", "replace"), size
        except OSError:
            return "", 0

    def kill(self, graceful: bool = False, wait: bool = True) -> str:
        """Kill the worker's whole process group and reap it; say how it ended.

        graceful: the worker is ending by itself (its socket closed), so give
        it a moment to finish and report its own cause of death first.
        wait: False when nobody needs to know how it ended (a worker done with
        its submission): the warm parent reaps it in the background.
        """
        if not self.alive:
            return "stopped"
        self.alive = False
        try:
            self.sock.close()
        except OSError:
            pass
        how = "killed"
        if not wait:
            _killpg(self.pid)
            shutil.rmtree(self.workdir, ignore_errors=True)
            return how
        if not graceful:
            _killpg(self.pid)
        try:
            how = self.sandbox.reap(self.pid, wait=0.5 if graceful else 2.0)
        except (OSError, ValueError):
            pass
        _killpg(self.pid)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return how



# ------------------------------------------------------------------ zygote
def _zygote_loop(ctrl: socket.socket) -> None:
    from . import worker

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the trusted process
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: a worker's orphans are reaped here, at once
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, lambda *_: _reap_all())
    uid, gid = os.getuid(), os.getgid()
    while True:
        msg, fds, _, _ = socket.recv_fds(ctrl, 1 << 20, 4)
        if not msg:
            return
        req = json.loads(msg.decode())
        if req["op"] == "spawn":
            config = req["config"]
            pid = isolate.clone_isolated() if config.get("isolate") else -1
            if pid == 0:
                config["cloned"] = {"uid": uid, "gid": gid}
            elif pid < 0:
                pid = os.fork()
            if pid == 0:
                ctrl.close()
                worker.serve(fds[0], config)
            for fd in fds:
                os.close(fd)
            ctrl.sendall(json.dumps({"pid": pid}).encode())
        elif req["op"] == "reap":
            ctrl.sendall(json.dumps({"how": _reap(req["pid"], req.get("wait", 2.0))}).encode())


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


_STATUSES: dict[int, int] = {}


def _reap_all() -> None:
    """Reap every ended child (workers and the orphans they leave); keep their statuses."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return
        _STATUSES[pid] = status
        if len(_STATUSES) > 10000:
            _STATUSES.pop(next(iter(_STATUSES)))


def _reap(pid: int, wait: float) -> str:
    deadline = time.monotonic() + wait
    killed = False
    while pid not in _STATUSES:
        _reap_all()
        if pid in _STATUSES:
            break
        if time.monotonic() > deadline and not killed:
            _killpg(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            killed = True
            deadline = time.monotonic() + 5.0
        elif killed and time.monotonic() > deadline:
            return "not reaped"
        time.sleep(0.001)
    status = _STATUSES.pop(pid)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return f"killed by signal {sig} ({name})"
    return f"exit code {os.WEXITSTATUS(status)}"
