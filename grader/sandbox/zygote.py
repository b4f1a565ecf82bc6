"""The warm parent ("zygote"): a clean process that forks the workers.

The trusted process starts it with exec (`Sandbox.start`), with an empty
environment apart from what grading needs and no descriptor but its control
socket, before any submission is read. So nothing of the grader's (an LMS
token in its environment, another student's file it read during intake, the
reference solution) is in its memory or in any worker's. It imports torch and
the week's warm-ups once, installs the ban tripwires, and then serves two
requests on its control socket:

- `spawn`: clone a worker into its namespaces (`isolate.clone_isolated`), map
  its user, put it in the grader's cgroups, let it confine itself, and wait for
  its confinement report (over a pipe the student's code never sees);
- `reap`: wait for a worker to end and say how.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import sys
import time

PR_SET_PDEATHSIG = 1
CONFINE_TIMEOUT_S = 30.0


def main(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the trusted process
    ctrl = socket.socket(fileno=fd)
    if os.getppid() == 1:  # the trusted process is already gone
        os._exit(1)
    setup = json.loads(ctrl.recv(1 << 20).decode())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _warm(setup)
    except BaseException as e:  # noqa: BLE001 - reported to the trusted process as one sentence
        ctrl.send(json.dumps({"ready": False, "error": f"{type(e).__name__}: {e}"}).encode())
        os._exit(1)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: a worker's orphans are reaped here, at once
    signal.signal(signal.SIGCHLD, lambda *_: _reap_all())
    ctrl.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    _loop(ctrl, setup)


def _warm(setup: dict) -> None:
    import torch

    torch.set_num_threads(1)
    from . import WARM_UPS, isolate, seccomp, worker  # noqa: F401 - imported now, before workers hide the course

    for name in setup.get("warm", ()):
        WARM_UPS[name]()
    seccomp.available()  # load libseccomp before any worker hides the folders it lives in
    worker.TRIPWIRES.install(sorted(setup.get("banned", ())))


def _loop(ctrl: socket.socket, setup: dict) -> None:
    while True:
        msg, fds, _, _ = socket.recv_fds(ctrl, 1 << 20, 4)
        if not msg:
            return
        req = json.loads(msg.decode())
        if req["op"] == "spawn":
            reply = _spawn(ctrl, req["config"], fds[0])
        elif req["op"] == "reap":
            reply = {"how": _reap(req["pid"], req.get("wait", 2.0))}
        else:
            reply = {"error": f"unknown request {req['op']!r}"}
        ctrl.send(json.dumps(reply).encode())


def _spawn(ctrl: socket.socket, config: dict, sock_fd: int) -> dict:
    from . import isolate, worker

    weak = config.get("weak", False)
    out_fd = os.open(config["output_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    sync_r, sync_w = os.pipe()
    report_r, report_w = os.pipe()
    config["outside_uid"] = os.geteuid()
    pid = isolate.clone_isolated()
    config["namespaces"] = pid >= 0
    if pid < 0:
        if not weak:
            err = ctypes.get_errno()
            for fd in (out_fd, sync_r, sync_w, report_r, report_w, sock_fd):
                os.close(fd)
            return {"pid": None, "error": f"the kernel refused new user namespaces ({os.strerror(err)})"}
        pid = os.fork()
    if pid == 0:  # the worker
        ctrl.close()
        os.close(sync_w)
        os.close(report_r)
        go = os.read(sync_r, 1)
        os.close(sync_r)
        if go != b"1":
            os._exit(3)
        worker.serve(sock_fd, out_fd, report_w, config)  # never returns
    for fd in (sync_r, report_w, sock_fd, out_fd):
        os.close(fd)
    try:
        if config["namespaces"]:
            isolate.map_user(pid)
        for cgroup in config.get("cgroups", ()):
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        os.write(sync_w, b"1")
    except OSError as e:
        os.write(sync_w, b"0")
        os.close(sync_w)
        os.close(report_r)
        _kill(pid)
        return {"pid": pid, "error": f"the worker could not be set up: {e}"}
    os.close(sync_w)
    report = _read_report(report_r)
    if "error" in report:
        _kill(pid)
    return {"pid": pid, **report}


def _read_report(fd: int) -> dict:
    """The worker's own word on its confinement, written before any student code runs."""
    data, deadline = b"", time.monotonic() + CONFINE_TIMEOUT_S
    try:
        while len(data) < 65536:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return {"error": "the worker did not confine itself in time"}
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    try:
        report = json.loads(data.decode())
    except ValueError:
        return {"error": "the worker ended before it could confine itself"}
    return report if type(report) is dict else {"error": "the worker's confinement report was malformed"}


def _kill(pid: int) -> None:
    for fn in (os.killpg, os.kill):
        try:
            fn(pid, signal.SIGKILL)
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
            _kill(pid)
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


if __name__ == "__main__":  # pragma: no cover - started by Sandbox.start
    main(int(sys.argv[1]))
