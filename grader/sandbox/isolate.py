"""Operating-system isolation of a worker, as far as this machine allows.

`enter(config)` runs in a freshly forked worker before any student code:

1. joins the sandbox's pids cgroup (a cap on processes and threads: fork bombs);
2. unshares mount, network and PID namespaces (with a user namespace when not
   root): no network, no view of other processes, no signal to the grader;
3. makes the whole filesystem read-only, mounts an empty tmpfs over the run
   folder (every student's staged files and scratch folders) and over each
   path to hide (the course's solutions and suites, the output and intake
   folders), then binds back only this worker's own submission (read-only)
   and scratch folder;
4. forks once more: the child is PID 1 of the new PID namespace, so when it
   dies every process it left behind dies with it; the parent only waits and
   passes on how the child ended;
5. in the child: a fresh /proc, then every capability dropped and
   no_new_privs, so nothing of the above can be undone.

Each step that the kernel refuses is skipped and left out of the returned
feature list; `dlgrade doctor` shows that list for this machine.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 1
SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 alike
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _ok(ret: int) -> bool:
    return ret == 0


def _mount(src, target, fstype, flags, data=None) -> bool:
    enc = lambda s: s.encode() if isinstance(s, str) else s  # noqa: E731
    return _ok(_libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)))


def enter(config: dict) -> list[str]:
    """Isolate this process; return the features that took effect.

    Updates config["submission_dir"] and config["workdir"] to the paths this
    process sees afterwards. May fork: only the isolated child returns.
    """
    features: list[str] = []
    if config.get("pids_cgroup"):
        try:
            with open(os.path.join(config["pids_cgroup"], "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            features.append("pids-cgroup")
        except OSError:
            pass
    if not config.get("namespaces", True):
        return features
    cloned = config.get("cloned")  # made by clone_isolated(): already in its namespaces, PID 1
    uid, gid = (cloned["uid"], cloned["gid"]) if cloned else (os.getuid(), os.getgid())
    if not cloned:
        flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | (0 if uid == 0 else CLONE_NEWUSER)
        if not _ok(_libc.unshare(flags)):
            if _ok(_libc.unshare(CLONE_NEWNET if uid == 0 else CLONE_NEWUSER | CLONE_NEWNET)):
                features.append("network")
            return features
    if uid != 0:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
        features.append("user-namespace")
    features += ["network", "pid-namespace"]
    if not _filesystem(config):
        # the namespaces were granted, so a failure here is unexpected: never run code half-confined
        raise OSError("the worker's filesystem could not be confined")
    features.append("filesystem")
    if not cloned:
        _fork_as_init()
    if _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV):
        features.append("private-proc")
    return features


def _filesystem(config: dict) -> bool:
    """Read-only root, hidden folders, and what the worker needs bound back.

    Each hidden folder gets an empty tmpfs. What the worker still needs inside
    one (the Python installation, its own staged submission and scratch
    folder) is bound back at the same path from a file descriptor opened
    before the covering: the submission and the installation read-only, the
    scratch folder writable.
    """
    if not _mount(None, "/", None, MS_REC | MS_PRIVATE):
        return False
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    if _libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
        return False
    run_root = os.path.realpath(config["run_root"])
    sub, work = os.path.join(run_root, "submission"), os.path.join(run_root, "work")
    hides = [h for h in config.get("hide", []) if os.path.isdir(h)]
    if not any(run_root == h or run_root.startswith(h + os.sep) for h in hides):
        hides.append(run_root)
    # (path to show, fd of what it shows, writable)
    shows = [(sub, os.open(config["submission_dir"], os.O_RDONLY | os.O_DIRECTORY), False),
             (work, os.open(config["workdir"], os.O_RDONLY | os.O_DIRECTORY), True)]
    for keep in config.get("keep", []):
        if os.path.isdir(keep) and any(keep.startswith(h + os.sep) for h in hides):
            shows.append((keep, os.open(keep, os.O_RDONLY | os.O_DIRECTORY), False))
    ok = True
    for path in sorted(hides, key=len):
        ok = ok and _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for path, fd, writable in shows:
        if ok:
            os.makedirs(path, exist_ok=True)
            ok = _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            # a bind of the read-only root is read-only too: set each one's mode explicitly
            ok = ok and _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV |
                               (0 if writable else MS_RDONLY))
        os.close(fd)
    for path in hides:
        ok = ok and _mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    if not ok:
        return False
    config["submission_dir"], config["workdir"] = sub, work
    os.chdir(work)
    return True


SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(platform.machine())


def clone_isolated() -> int:
    """fork() straight into new PID, mount and network namespaces (and a user namespace when not root).

    One fork of the large warm parent instead of two: the child is PID 1 of
    its namespace from the start. Returns the pid in the parent, 0 in the
    child, -1 where the kernel refuses; then the worker falls back to
    fork, unshare and a second fork (`enter`). Python's own before/after-fork
    work runs around the raw system call, exactly as os.fork() does it.
    """
    if SYS_CLONE is None:
        return -1
    flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | int(signal.SIGCHLD) | (
        0 if os.getuid() == 0 else CLONE_NEWUSER)
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = _libc.syscall(ctypes.c_long(SYS_CLONE), ctypes.c_ulong(flags), ctypes.c_void_p(0), ctypes.c_void_p(0),
                        ctypes.c_void_p(0), ctypes.c_void_p(0))
    if pid == 0:
        api.PyOS_AfterFork_Child()
    else:
        api.PyOS_AfterFork_Parent()
    return pid


def _fork_as_init() -> None:
    """Fork; the child (PID 1 of the new namespace) returns, the parent relays its end."""
    pid = os.fork()
    if pid == 0:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.setpgid(0, 0)  # kill(0, ...) from student code must not reach the parent
        return
    for fd in range(3, 1024):  # the child alone talks to the grader
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def drop_privileges() -> bool:
    """Drop every capability for good; after this, mounts cannot be undone."""
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    ok = _ok(_libc.capset(ctypes.byref(header), data))
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return ok


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        pass


# Folders where people and tools keep files; the worker needs none of them
# (the Python installation inside any of them is kept visible).
DEFAULT_HIDE = ("/home", "/root", "/work", "/tmp", "/var/tmp", "/srv", "/mnt", "/media", "/opt", "/run/user")


def hide_list(candidates, keep) -> tuple[list[str], list[str]]:
    """The folders to hide and the kept paths to show again inside them.

    A kept path (the Python installation, say) inside a hidden folder is
    bound back by the worker; nested candidates collapse into the outer one.
    """
    hides = sorted({os.path.realpath(str(c)) for c in candidates if os.path.isdir(str(c))} - {"/"})
    hides = [h for h in hides if not any(h.startswith(q + os.sep) for q in hides)]
    kept = sorted({os.path.realpath(k) for k in keep if os.path.isdir(k)})
    kept = [k for k in kept if not any(k.startswith(q + os.sep) for q in kept)]
    hides = [h for h in hides if h not in kept]
    return hides, [k for k in kept if any(k.startswith(h + os.sep) for h in hides)]
