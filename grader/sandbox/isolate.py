"""Operating-system isolation of a worker.

A worker is cloned by the warm parent straight into new user, PID, mount,
network, IPC, UTS and cgroup namespaces (`clone_isolated`). The warm parent
then maps the worker's user namespace (`map_user`): inside it the worker is
uid 0, outside it is an unprivileged host user (`SANDBOX_ID`, "nobody", when
the grader runs as root; the grader's own user otherwise). Only then does the
worker confine itself (`enter`), still before any student code:

1. the whole filesystem read-only; an empty tmpfs over each folder to hide
   (the course, the outputs, the run folder, home, work and temp folders),
   with only the Python installation and this worker's own submission bound
   back read-only; a size-capped tmpfs as the scratch folder;
2. a fresh /proc of the worker's own PID namespace, with its writable knobs
   (/proc/sys, /proc/sysrq-trigger, ...) read-only;
3. every supplementary group dropped and the uid and gid switched to the
   namespace's 0, so that no host file is read as root's;

and, in `worker.confine`, limits, no capabilities, no_new_privs and the
system-call filter (`seccomp`). Every step is required: one that fails raises
`IsolationError`, and the worker is never run half-confined. A weak sandbox
(`enter_weak`) exists only for machines without user namespaces, when the
instructor asks for it; every result then says what was missing.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 1
SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 alike
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
SANDBOX_ID = 65534  # the host uid and gid of a worker when the grader runs as root ("nobody")

# procfs files and folders that change the whole machine: read-only even in a fresh /proc
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs", "latency_stats", "timer_list")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


class IsolationError(OSError):
    """A confinement step the kernel refused; the worker must not run."""


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _check(ok: bool, what: str) -> None:
    if not ok:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what} failed: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None) -> bool:
    enc = lambda s: s.encode() if isinstance(s, str) else s  # noqa: E731
    return _libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)) == 0


# ------------------------------------------------------------------ warm parent side
SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(platform.machine())


def clone_isolated() -> int:
    """fork() straight into new namespaces; the child is PID 1 of its own.

    Returns the pid in the parent, 0 in the child, -1 where the kernel
    refuses (no user namespaces). Python's own before/after-fork work runs
    around the raw system call, exactly as os.fork() does it.
    """
    if SYS_CLONE is None:
        return -1
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = _libc.syscall(ctypes.c_long(SYS_CLONE), ctypes.c_ulong(NAMESPACES | int(signal.SIGCHLD)),
                        ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_void_p(0))
    if pid == 0:
        api.PyOS_AfterFork_Child()
    else:
        api.PyOS_AfterFork_Parent()
    return pid


def map_user(pid: int) -> None:
    """Write the worker's uid and gid maps: its 0 is an unprivileged host user, never host root."""
    if os.geteuid() == 0:
        uid = gid = SANDBOX_ID
    else:
        uid, gid = os.geteuid(), os.getegid()
        _write(f"/proc/{pid}/setgroups", "deny")  # required before an unprivileged gid map
    _write(f"/proc/{pid}/uid_map", f"0 {uid} 1")
    _write(f"/proc/{pid}/gid_map", f"0 {gid} 1")


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise IsolationError(e.errno, f"writing {path} failed: {e.strerror}") from None


# ------------------------------------------------------------------ worker side
def enter(config: dict) -> list[str]:
    """Confine this freshly cloned worker (see the module's docstring); return the features."""
    _filesystem(config, root_outside=config["outside_uid"] == 0)
    _proc()
    with open("/proc/self/uid_map") as f:
        inside, outside, _ = f.read().split()[:3]
    if os.getuid() != 0 or inside != "0" or outside == "0":
        raise IsolationError(0, "the worker would still be host root")
    return ["user-namespace", "pid-namespace", "network", "ipc-namespace", "filesystem", "scratch-tmpfs",
            "private-proc", "unprivileged"]


def enter_weak(config: dict) -> list[str]:
    """No namespaces could be had: drop root if we have it, keep what the process alone can do."""
    features = []
    if os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)
        os.setresuid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID)
        features.append("unprivileged")
    os.chdir(config["workdir"])
    return features


def _filesystem(config: dict, root_outside: bool) -> None:
    """Read-only root, hidden folders, and what the worker needs bound back.

    Each hidden folder gets an empty tmpfs. What the worker still needs inside
    one (the Python installation, its own staged submission) is bound back at
    the same path from a descriptor opened before the covering, read-only.
    The scratch folder is a fresh tmpfs of `scratch_bytes`, owned by the
    worker. The descriptors are opened with the grader's own credentials
    (a Python installation under /root is readable only so); everything
    after that is done as the namespace's 0, an unprivileged host user.
    """
    _check(_mount(None, "/", None, MS_REC | MS_PRIVATE), "making mounts private")
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    _check(_libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr),
                         ctypes.sizeof(attr)) == 0, "making the filesystem read-only")
    run_root = os.path.realpath(config["run_root"])
    sub, work = os.path.join(run_root, "submission"), os.path.join(run_root, "work")
    hides = [h for h in config.get("hide", []) if os.path.isdir(h)]
    if not any(run_root == h or run_root.startswith(h + os.sep) for h in hides):
        hides.append(run_root)
    shows = [(sub, os.open(config["submission_dir"], os.O_RDONLY | os.O_DIRECTORY))]
    for keep in config.get("keep", []):
        if os.path.isdir(keep) and any(keep.startswith(h + os.sep) for h in hides):
            shows.append((keep, os.open(keep, os.O_RDONLY | os.O_DIRECTORY)))
    try:
        _become_unprivileged(root_outside)
        for path in sorted(hides, key=len):
            _check(_mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755"),
                   f"hiding {path}")
        for path, fd in shows:
            os.makedirs(path, exist_ok=True)
            _check(_mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC), f"showing {path}")
            # a bind of the read-only root is read-only too, but say so explicitly
            _check(_mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV),
                   f"making {path} read-only")
        os.makedirs(work, exist_ok=True)
        scratch = int(config["limits"]["scratch_bytes"])
        _check(_mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV,
                      f"size={scratch},nr_inodes=16384,mode=700,uid=0,gid=0"), "mounting the scratch folder")
        for path in hides:
            _check(_mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV), f"sealing {path}")
    finally:
        for _, fd in shows:
            os.close(fd)
    config["submission_dir"], config["workdir"] = sub, work
    os.chdir(work)


def _proc() -> None:
    """A /proc of this PID namespace, its machine-wide knobs read-only."""
    _check(_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC), "mounting /proc")
    for name in PROC_READ_ONLY:
        path = f"/proc/{name}"
        if not os.path.exists(path):
            continue
        _check(_mount(path, path, None, MS_BIND | MS_REC), f"binding {path}")
        _check(_mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC),
               f"making {path} read-only")


def _become_unprivileged(root_outside: bool) -> None:
    """Switch to the namespace's uid and gid 0, which the map sends to an unprivileged host user.

    The capabilities held inside the namespace stay (the effective uid becomes
    the namespace's 0), so the mounts can still be made; they go for good in
    `drop_privileges`.
    """
    if root_outside:
        os.setgroups([])  # the host root's supplementary groups
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def drop_privileges() -> None:
    """Drop every capability for good and set no_new_privs; nothing above can be undone after this."""
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data) == 0, "dropping capabilities")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "setting no_new_privs")


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
