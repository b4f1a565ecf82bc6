"""A system-call filter for workers, built with libseccomp.

libseccomp (the library behind systemd's, Docker's and Flatpak's filters)
compiles the rules to BPF and knows every architecture's call numbers; this
module is only the few lines of ctypes that reach its C API
(`seccomp_init`, `seccomp_rule_add_array`, `seccomp_load`), so dlgrade needs
no compiled extension. The filter allows everything by default and refuses,
with EPERM, what grading never needs and an escape or a denial of service
would: tracing other processes, mounts and namespaces, keyrings, BPF, perf,
kernel modules, io_uring; on the CPU also shared memory that the data-size
limit does not count. Calls of a foreign architecture (i386 from x86_64) kill
the process, libseccomp's default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7


def SCMP_ACT_ERRNO(code: int) -> int:  # noqa: N802 - libseccomp's name
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


# Never needed to grade; each is an escape, a snoop or a way to hold resources past the worker.
DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "mount_setattr", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "open_by_handle_at", "name_to_handle_at",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "syslog", "quotactl", "iopl", "ioperm", "vhangup", "lookup_dcookie",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)
# Shared memory is not counted by RLIMIT_DATA; a CPU worker never needs it.
DENIED_CPU = ("memfd_create", "shmget", "shmat")
CLONE_NEW = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)
MAP_SHARED = 0x01


def _library():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


_LIB = None


def available() -> bool:
    global _LIB
    if _LIB is None:
        _LIB = _library() or False
    return bool(_LIB)


def install(*, cpu: bool) -> None:
    """Load the filter into this process (and every process it starts); raise OSError if it cannot."""
    if not available():
        raise OSError("libseccomp (libseccomp.so.2) is not installed")
    lib = _LIB
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise OSError("seccomp_init failed")
    try:
        deny = SCMP_ACT_ERRNO(errno.EPERM)

        def rule(name: str, action: int = deny, *conds: tuple[int, int, int]) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # a call this architecture does not have
            arr = (_ArgCmp * max(1, len(conds)))(*[_ArgCmp(a, SCMP_CMP_MASKED_EQ, m, v) for a, m, v in conds])
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(conds), arr)
            if rc != 0:
                raise OSError(-rc, f"seccomp rule for {name} refused")

        for name in DENIED + (DENIED_CPU if cpu else ()):
            rule(name)
        for flag in CLONE_NEW:  # a new namespace of any kind (0x80 is CLONE_NEWTIME)
            rule("clone", deny, (0, flag, flag))
        rule("clone3", SCMP_ACT_ERRNO(errno.ENOSYS))  # its flags hide in memory: the C library falls back to clone
        if cpu:
            rule("mmap", deny, (3, MAP_SHARED, MAP_SHARED))  # shared maps (of /dev/zero too) escape RLIMIT_DATA
        rc = lib.seccomp_load(ctx)
        if rc != 0:
            raise OSError(-rc, "seccomp_load failed")
    finally:
        lib.seccomp_release(ctx)
