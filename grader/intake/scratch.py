"""Intake's temporary folders: named after the process that made them, removed by the next run if it died.

Intake copies every student's files into a temporary folder. A run killed with
SIGKILL cannot remove its folder, so each new run first removes the folders of
runs whose process is gone: only this user's, only folders named
`dlgrade-intake-<pid>-...`, never through a link.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

LEFTOVER_PREFIX = "dlgrade-intake-"
_LEFTOVER = re.compile(rf"^{re.escape(LEFTOVER_PREFIX)}(\d+)-[A-Za-z0-9_]+$")


def remove_leftovers(tmp: Path | None = None) -> list[Path]:
    """Remove intake folders that killed runs left in the temporary folder; the folders removed.

    Only folders this user owns, named `dlgrade-intake-<pid>-...` by `make_workdir`,
    whose process no longer runs; links and anything else are left alone.
    """
    tmp = Path(tmp or tempfile.gettempdir())
    removed = []
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return removed
    for e in entries:
        m = _LEFTOVER.match(e.name)
        if not m or not e.is_dir(follow_symlinks=False):
            continue
        try:
            if e.stat(follow_symlinks=False).st_uid != os.geteuid() or _alive(int(m.group(1))):
                continue
        except OSError:
            continue
        shutil.rmtree(e.path, ignore_errors=True)
        removed.append(Path(e.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def make_workdir() -> Path:
    """A fresh temporary folder for intake, after removing those that dead runs left behind."""
    remove_leftovers()
    return Path(tempfile.mkdtemp(prefix=f"{LEFTOVER_PREFIX}{os.getpid()}-"))
