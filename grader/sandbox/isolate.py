"""Operating-system isolation of a worker.

A worker is cloned by the warm parent straight into new user, PID, mount,
network, IPC, UTS and cgroup namespaces (`clone_isolated`). The warm parent
then maps the worker's user namespace (`map_user`): inside it the worker is
uid 0, outside it is an unprivileged host user (`SANDBOX_ID`, "nobody", when
the grader runs as root; the grader's own user otherwise). Only then does the
worker confine itself (`enter`), still before any student code:

1. a new root of its own (`_filesystem`): the system's programs and
   libraries, the Python installation and its own submission, read-only, and
   a size-capped tmpfs as its scratch folder; nothing else of the host;
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
MNT_DETACH = 2
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
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine(), -1)


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


# What a worker sees of the host: the system's programs and libraries (read-only), a few files of
# /etc, a handful of devices, and, added per run, the Python installation. Everything else (home and
# work folders, the course, other students, mounts that tools of the machine add) is simply absent.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/sys")
ETC_FILES = ("passwd", "group", "hosts", "nsswitch.conf", "ld.so.cache", "ld.so.conf", "localtime", "os-release",
             "mime.types")
DEVICES = ("null", "zero", "full", "random", "urandom")
SUBMISSION, SCRATCH = "/sandbox/submission", "/sandbox/scratch"
# Where the new root is built: a folder every user can reach (the grader's own temp folder may not be).
NEW_ROOT = "/tmp"


def _filesystem(config: dict, root_outside: bool) -> None:
    """A new root of the worker's own: only what it needs, read-only, and a scratch folder.

    A fresh tmpfs becomes the root (pivot_root). Into it go, read-only, the
    system's program and library folders, a few files of /etc, a handful of
    devices (the GPU's too for --device cuda), the Python installation and
    site-packages at their own paths, and the student's staged submission at
    /sandbox/submission; then a size-capped tmpfs, owned by the worker, at
    /sandbox/scratch. The old root is detached, so nothing else of the host
    can be reached, whatever mounts the machine has. Sources are opened with
    the grader's own credentials (a Python installation under /root is
    readable only so); everything after that is done as the namespace's 0, an
    unprivileged host user.
    """
    _check(_mount(None, "/", None, MS_REC | MS_PRIVATE), "making mounts private")
    sources = [(SUBMISSION, config["submission_dir"], False)]
    sources += [(d, d, False) for d in SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    sources += [(k, k, False) for k in config.get("keep", [])]
    sources += [(f"/etc/{f}", f"/etc/{f}", True) for f in ETC_FILES if os.path.isfile(f"/etc/{f}")]
    devices = list(DEVICES) + ([d for d in os.listdir("/dev") if d.startswith("nvidia")]
                               if config.get("device") == "cuda" else [])
    # a device is bound onto an empty file, a folder of them (/dev/nvidia-caps) onto a folder
    sources += [(f"/dev/{d}", f"/dev/{d}", not os.path.isdir(f"/dev/{d}")) for d in devices
                if os.path.exists(f"/dev/{d}")]
    opened = []
    try:
        for target, src, is_file in sources:
            flags = os.O_PATH | (0 if is_file else os.O_DIRECTORY)
            opened.append((target, os.open(src, flags), is_file))
        _become_unprivileged(root_outside)
        new_root = NEW_ROOT  # in this mount namespace only: the host's /tmp is untouched
        _check(_mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,nr_inodes=8192,mode=755"),
               "mounting the new root")
        for target, fd, is_file in opened:
            path = new_root + target
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if is_file:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            else:
                os.makedirs(path, exist_ok=True)
            _check(_mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC), f"showing {target}")
            dev = target.startswith("/dev/")
            _check(_mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID |
                          (0 if dev else MS_NODEV) | (0 if target in SYSTEM_DIRS or not is_file or dev else MS_NOEXEC)),
                   f"making {target} read-only")
    finally:
        for _, fd, _ in opened:
            os.close(fd)
    # the recursive binds (/usr may hold mounts) are read-only all the way down
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    for target, _, is_file in sources:
        if not is_file:
            _check(_libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, (new_root + target).encode(), AT_RECURSIVE,
                                 ctypes.byref(attr), ctypes.sizeof(attr)) == 0, f"sealing {target}")
    for folder in ("/proc", "/tmp", SCRATCH, "/.old"):
        os.makedirs(new_root + folder, exist_ok=True)
    for d in SYSTEM_DIRS:  # merged-/usr systems: /bin -> usr/bin and so on
        if os.path.islink(d):
            os.symlink(os.readlink(d), new_root + d)
    os.symlink("/proc/self/fd", new_root + "/dev/fd")
    scratch = int(config["limits"]["scratch_bytes"])
    _check(_mount("tmpfs", new_root + SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV,
                  f"size={scratch},nr_inodes=16384,mode=700,uid=0,gid=0"), "mounting the scratch folder")
    _proc(new_root + "/proc")  # while the host's /proc is still there to vouch for it
    os.chdir(new_root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b".old") == 0, "switching to the new root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH) == 0, "detaching the old root")
    os.rmdir("/.old")
    _check(_mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV), "sealing the new root")
    config["submission_dir"], config["workdir"] = SUBMISSION, SCRATCH
    os.chdir(SCRATCH)


def _proc(path: str) -> None:
    """A /proc of this PID namespace, its machine-wide knobs read-only."""
    _check(_mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC), "mounting /proc")
    for name in PROC_READ_ONLY:
        knob = f"{path}/{name}"
        if not os.path.exists(knob):
            continue
        _check(_mount(knob, knob, None, MS_BIND | MS_REC), f"binding /proc/{name}")
        _check(_mount(None, knob, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC),
               f"making /proc/{name} read-only")


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


# Folders a Python installation shown to workers must never contain.
PRIVATE = ("/home", "/root", "/work", "/tmp", "/var/tmp", "/srv")


def keep_list(paths) -> list[str]:
    """The Python folders to show a worker: existing, outermost only, not already in the system folders."""
    kept = sorted({os.path.realpath(k) for k in paths if os.path.isdir(k)})
    kept = [k for k in kept if not any(k.startswith(q + os.sep) for q in kept)]
    return [k for k in kept if not any(k == d or k.startswith(d + os.sep) for d in SYSTEM_DIRS)]
