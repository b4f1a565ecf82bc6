"""Archive safety: extract a zip or tar only after every entry passed the limits, and read files capped.

Nothing here knows about students: an archive is checked entry by entry (no
path escape, no links or special files, size, count and compression-ratio
caps) and written under one destination folder, never past it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable

from .common import MiB, IntakeError, Limits, _mib, _show

ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
RATIO_FLOOR = 1 * MiB       # entries smaller than this are not checked for their compression ratio
NAME_MAX = 255              # bytes in one file-name component on common file systems
_CHUNK = 1 << 16


def safe_extract(archive: Path, dest: Path, limits: Limits, *, keep: Callable[[str], bool] | None = None
                 ) -> list[Path]:
    """Extract a zip or tar archive into `dest` after checking every entry; the files written, sorted.

    The whole archive is checked before anything is written: an entry with an
    absolute path or a '..' component, a link, a device or other special file,
    an encrypted entry, more than `max_files` entries, more than
    `max_total_bytes` in all, a file over `max_file_bytes` or an entry that
    expands more than `max_ratio` times raises IntakeError naming it, as does a
    corrupt archive. While writing, no entry yields more bytes than its header
    declared. Tar members also pass the standard library's "data" filter.
    Directory entries are created; a file-name component too long for the
    file system is shortened. `keep`, given the entry's relative POSIX name,
    picks the entries written (all are still checked). When it raises, `dest`
    may hold part of the archive.
    """
    archive, dest = Path(archive), Path(dest)
    label = _show(archive.name)
    kind = _archive_kind(archive.name)
    if kind is None:
        kind = "zip" if zipfile.is_zipfile(archive) else "tar"
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    if kind == "zip":
        written = _extract_zip(archive, root, limits, keep, label)
    else:
        written = _extract_tar(archive, root, limits, keep, label)
    return sorted(written)


# --------------------------------------------------------------------------- archives

def _archive_kind(name: str) -> str | None:
    low = name.lower()
    if low.endswith(ZIP_SUFFIXES):
        return "zip"
    if low.endswith(TAR_SUFFIXES):
        return "tar"
    return None


def _entry_parts(name: str, label: str) -> list[str]:
    """The components of an archive entry's name, refused when it could land outside the destination."""
    raw = name.replace("\\", "/")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise IntakeError(f"{label} contains an entry with an absolute path ({_show(name)}); "
                          "it was not extracted, ask for a zip of the files alone.")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise IntakeError(f"{label} contains an entry that points outside the archive ({_show(name)}); "
                          "it was not extracted, ask for a zip of the files alone.")
    return [_fit_name(p) for p in parts]


def _fit_name(part: str) -> str:
    """A file-name component short enough for the file system; a long one keeps its suffix and gains a hash."""
    if len(os.fsencode(part)) <= NAME_MAX:
        return part
    suffix = Path(part).suffix if len(os.fsencode(Path(part).suffix)) <= 16 else ""
    digest = hashlib.sha256(os.fsencode(part)).hexdigest()[:10]
    stem = part[: len(part) - len(suffix)] if suffix else part
    while len(os.fsencode(stem)) > NAME_MAX - len(suffix) - 12:
        stem = stem[: max(1, len(stem) * 3 // 4)]
    return f"{stem}~{digest}{suffix}"


def _check_sizes(label: str, name: str, size: int, compressed: int | None, total: int, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        raise IntakeError(f"{label} holds {_show(name)} of {_mib(size)}, over the {_mib(limits.max_file_bytes)} "
                          "limit for one file; submit only the .py or .ipynb files.")
    if total > limits.max_total_bytes:
        raise IntakeError(f"{label} expands to more than {_mib(limits.max_total_bytes)}, over the limit for one "
                          "submission; submit only the .py or .ipynb files.")
    if compressed is not None and size >= RATIO_FLOOR and size > limits.max_ratio * max(compressed, 1):
        raise IntakeError(f"{label} holds {_show(name)}, which expands {size // max(compressed, 1)} times, over the "
                          f"{limits.max_ratio}:1 limit (a zip bomb); it was not extracted.")


def _target(root: Path, parts: list[str]) -> Path:
    target = root.joinpath(*parts)
    if not _inside(target, root):
        raise IntakeError(f"An entry named {_show('/'.join(parts))} would land outside the work folder.")
    return target


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except (ValueError, OSError, RuntimeError):
        return False


def _copy_capped(src, target: Path, declared: int, label: str, name: str) -> None:
    """Copy at most `declared` bytes; an entry yielding more than its header said is refused."""
    got = 0
    with open(target, "wb") as out:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            got += len(chunk)
            if got > declared:
                raise IntakeError(f"{label} holds {_show(name)}, which yields more data than its header declares "
                                  "(a damaged or hostile archive); it was not extracted.")
            out.write(chunk)


def _extract_zip(archive: Path, root: Path, limits: Limits, keep, label: str) -> list[Path]:
    corrupt = f"{label} is not a readable zip file (damaged, incomplete or not a zip); ask for it again."
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise IntakeError(corrupt) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_files:
            raise IntakeError(f"{label} holds {len(infos)} entries, over the limit of {limits.max_files}; "
                              "submit only the .py or .ipynb files.")
        plan, total = [], 0
        for info in infos:
            parts = _entry_parts(info.filename, label)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise IntakeError(f"{label} contains a symbolic link ({_show(info.filename)}); links are not "
                                  "accepted, zip the files themselves.")
            if info.flag_bits & 0x1:
                raise IntakeError(f"{label} is encrypted ({_show(info.filename)}); ask for a zip without a password.")
            if info.is_dir():
                plan.append((info, parts, True))
                continue
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise IntakeError(f"{label} contains {_show(info.filename)}, which is not a regular file; "
                                  "it was not extracted.")
            total += info.file_size
            _check_sizes(label, info.filename, info.file_size, info.compress_size, total, limits)
            plan.append((info, parts, False))
        written = []
        try:
            for info, parts, is_dir in plan:
                if not parts or (keep is not None and not is_dir and not keep("/".join(parts))):
                    continue
                target = _target(root, parts)
                if is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src:
                    _copy_capped(src, target, info.file_size, label, info.filename)
                written.append(target)
        except IntakeError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, ValueError):
            raise IntakeError(corrupt) from None
        except NotImplementedError:
            raise IntakeError(f"{label} uses a compression method Python cannot read; "
                              "ask for a plain (deflate) zip.") from None
        except OSError as e:
            raise IntakeError(f"{label} could not be extracted ({e.strerror or e}).") from None
    return written


def _extract_tar(archive: Path, root: Path, limits: Limits, keep, label: str) -> list[Path]:
    corrupt = f"{label} is not a readable tar archive (damaged, incomplete or not a tar file); ask for it again."
    data_filter = getattr(tarfile, "data_filter", None)   # Python 3.10.12+, 3.11.4+
    try:
        tf = tarfile.open(archive)
    except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error):
        raise IntakeError(corrupt) from None
    with tf:
        plan, total, count = [], 0, 0
        try:
            for m in tf:   # one header at a time: a bomb is refused before its data is decompressed
                count += 1
                if count > limits.max_files:
                    raise IntakeError(f"{label} holds more than {limits.max_files} entries, over the limit; "
                                      "submit only the .py or .ipynb files.")
                parts = _entry_parts(m.name, label)
                if m.issym() or m.islnk():
                    raise IntakeError(f"{label} contains a link ({_show(m.name)}); links are not accepted, "
                                      "pack the files themselves.")
                if not (m.isfile() or m.isdir()):
                    raise IntakeError(f"{label} contains {_show(m.name)}, which is not a regular file; "
                                      "it was not extracted.")
                if data_filter is not None:
                    try:
                        data_filter(m, str(root))
                    except tarfile.FilterError as e:
                        raise IntakeError(f"{label} contains an unsafe entry ({_show(m.name)}: {e}); "
                                          "it was not extracted.") from None
                if m.isfile():
                    total += m.size
                    _check_sizes(label, m.name, m.size, None, total, limits)
                plan.append((m, parts))
        except IntakeError:
            raise
        except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error):
            raise IntakeError(corrupt) from None
        size = archive.stat().st_size
        if total >= RATIO_FLOOR and total > limits.max_ratio * max(size, 1):
            raise IntakeError(f"{label} expands {total // max(size, 1)} times, over the {limits.max_ratio}:1 limit "
                              "(an archive bomb); it was not extracted.")
        written = []
        try:
            for m, parts in plan:
                if not parts or (keep is not None and m.isfile() and not keep("/".join(parts))):
                    continue
                target = _target(root, parts)
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                if src is None:
                    continue
                with src:
                    _copy_capped(src, target, m.size, label, m.name)
                written.append(target)
        except IntakeError:
            raise
        except (tarfile.TarError, EOFError, ValueError, zlib.error):
            raise IntakeError(corrupt) from None
        except OSError as e:
            raise IntakeError(f"{label} could not be extracted ({e.strerror or e}).") from None
    return written


# --------------------------------------------------------------------------- reading files

def _read_capped(path: Path, limit: int, label: str) -> bytes:
    """A regular file's bytes, never reading past `limit`; a link, pipe or device is refused."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise IntakeError(f"{label} could not be read ({e.strerror or e}).") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IntakeError(f"{label} is not a regular file.")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise IntakeError(f"{label} is over the {_mib(limit)} limit for one file; submit only the .py or .ipynb files.")
    return data
