"""Intake: whatever an instructor collected, as one clean folder per student.

A submission arrives as a zip from `dlgrade submit`, a notebook, a folder of
one student's files, a folder holding one entry per student, or a bulk
download from a learning-management system (Brightspace, Moodle, Canvas).
`collect` turns each into a `Submission`: a student id, a fresh folder under
the work directory holding `<module>.py` (plus the student's other importable
.py files beside it), a sha256 of those files, and notes for the feedback.

This module sits before the trust boundary, so it never executes, imports or
unpickles anything a student wrote. It reads archives entry by entry against
`Limits` (no path escape, no links, size, count and compression-ratio caps),
reads no file past its limit, follows no symbolic link inside a submission and
writes nothing outside the work directory. A submission that breaks a rule is
not gradable, with one sentence naming what was wrong; the batch goes on.

Notebooks become modules with `notebook_to_module`: imports, definitions and
constants are kept, shell and magic lines and all other top-level work
(training loops, downloads, prints) are dropped, so importing the module in
the sandbox is cheap and has no side effects beyond the student's own defs.

Standard library only (nbformat is used, when installed, to upgrade notebooks
older than format 4); no torch, so intake costs nothing at start-up.
"""

from __future__ import annotations

import ast
import functools
import builtins
import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Sequence

from .errors import UserError

MiB = 1 << 20


class IntakeError(UserError):
    """A submission or an intake setting cannot be used; the message is one sentence for the user."""


@dataclass(frozen=True)
class Limits:
    """What one submission may hold; each cap keeps a hostile or broken upload from costing the batch.

    max_total_bytes: uncompressed size of everything in one archive, and of the
        .py/.ipynb files of one student's folder (50 MiB: notebooks with plots
        are a few MiB, the module itself a few KiB).
    max_files: entries in one archive, or entries walked in one student's folder.
    max_ratio: uncompressed/compressed size of one archive entry (for tar: of the
        whole archive); checked for entries of 1 MiB and more, since small
        repetitive files compress well and cannot hurt. Source code compresses
        about 4:1, so 200:1 means a zip bomb.
    max_file_bytes: one file (20 MiB); nothing is read past it.

    An LMS bulk download holds many students: its archive-wide caps
    (`max_total_bytes`, `max_files`) are multiplied by the number of students
    whose ids its top-level names carry; per-file caps stay as they are.
    """

    max_total_bytes: int = 50 * MiB
    max_files: int = 2000
    max_ratio: int = 200
    max_file_bytes: int = 20 * MiB


@dataclass
class Submission:
    """One student's submission after intake, ready to stage into the sandbox or to report as not gradable."""

    student: str                 # the id in the gradebook: letters, digits, '.', '_', '-'
    source: str                  # the path given (and the entry inside it) the files came from
    folder: Path | None          # holds <module>.py and the student's other .py files; None if not gradable
    sha256: str                  # of the folder's files, to skip grading the same files twice; "" if none
    error: str | None = None     # one sentence saying why it is not gradable
    notes: list[str] = field(default_factory=list)   # what intake changed: notebook converted, file renamed...


# The id in an entry name of a bulk download, tried in this order:
#   1. a course id such as au123456 (letters "au", 4 or more digits), anywhere in the name;
#   2. Brightspace "<ids> - <username> - <Full Name> - <date> - <file>": the username;
#   3. Canvas "<login>_[LATE_]<user id>_<submission id>_<file>": the user id;
#   4. Moodle "<Full Name>_<participant id>_assignsubmission_<plugin>_": the participant id.
# A name none of these fits takes its id from its own stem (file or folder name).
DEFAULT_ID_PATTERN = (
    r"(?i)^(?:"
    r".*?(?<![a-z0-9])(?=au\d{4,}(?!\d))"
    r"|\d+-\d+ - (?=[^ ]+ - )"
    r"|[^_/]+?_(?:late_)?(?=\d+_\d+_)"
    r"|[^/]+?_(?=\d+_assignsubmission_)"
    r")(?P<student>au\d{4,}|\d+(?=_)|[^ ]+(?= - ))"
)

NOTEBOOK, MANIFEST = ".ipynb", "manifest.json"
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
RATIO_FLOOR = 1 * MiB       # entries smaller than this are not checked for their compression ratio
MANIFEST_MAX = 1 * MiB      # manifest.json is a few hundred bytes
NAME_MAX = 255              # bytes in one file-name component on common file systems
MAX_NESTING = 2             # a bulk zip holding a student's zip; an archive deeper than that is ignored
ID_MAX = 64
_CHUNK = 1 << 16

_BRIGHTSPACE_HEAD = re.compile(r"^\d+-\d+$")
_BRIGHTSPACE_DATE = "%b %d, %Y %I%M %p"
_CANVAS_NAME = re.compile(r"(?i)^[^_/]+?_(?:late_)?\d+_\d+_(?P<file>.+)$")
_MOODLE_NAME = re.compile(r"(?i)^.+?_\d+_assign(?:submission|feedback)_[a-z]+_(?P<file>.*)$")


# --------------------------------------------------------------------------- public API

def collect(paths: Sequence[Path], module: str, workdir: Path, *, id_pattern: str = DEFAULT_ID_PATTERN,
            limits: Limits = Limits()) -> list[Submission]:
    """Every submission found in `paths`, each in a clean folder under `workdir`, in input order.

    A path may be a zip or tar archive, a notebook, a .py file, a folder of one
    student's files or a folder (or archive) holding one entry per student,
    such as an LMS bulk download whose entry names carry the ids that
    `id_pattern` (a regex with a group named `student`) finds. The student id
    comes from, in order: the LMS entry name, the `manifest.json` of a
    `dlgrade submit` zip, the id pattern on the file or folder name, the stem.
    Ids are reduced to letters, digits, '.', '_' and '-', and a repeated id gets
    a suffix -2, -3 with a note. Each call writes into a new folder of its own
    under `workdir`, which the caller removes when grading is done.

    Raises IntakeError for a bad `module` or `id_pattern`, or a path that does
    not exist; a broken or hostile submission is returned as not gradable.
    """
    if not module.isidentifier():
        raise IntakeError(f"'{module}' is not a valid module name; the week's module must be a Python identifier.")
    for p in paths:
        if not Path(p).exists():
            raise IntakeError(f"{p} does not exist; give zips, notebooks or folders of submissions.")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="intake-", dir=workdir))
    ctx = _Context(root, module, _compile_id_pattern(id_pattern), limits)
    pending: list[_Pending] = []
    for p in paths:
        pending.extend(ctx.from_path(Path(p)))
    return ctx.finish(pending)


def notebook_to_module(nb_json_text: str, name: str = "the notebook") -> tuple[str, list[str]]:
    """The importable Python source of a notebook, and notes saying what was left out.

    Kept from code cells, in order: imports, `def`, `class`, constants (an
    assignment to plain names of literals, of names kept before, of attributes
    of numeric libraries such as torch, numpy or math, or of calls of those with
    constant arguments, except loading, saving or downloading), and `try`
    blocks made only of such statements (optional imports). Dropped: markdown
    and raw cells, shell (`!pip`) and magic (`%matplotlib`, `%%time`) lines, and
    every other top-level statement (calls, prints, loops, `with` and `if`
    blocks, `if __name__ == "__main__"`), because importing the module must not
    train, download or print. A cell that does not parse is dropped with a note
    naming its number; the rest of the notebook is kept. Comments inside kept
    definitions survive. `name` names the notebook in error messages.

    Raises IntakeError when the text is not JSON or not a notebook.
    """
    try:
        nb = json.loads(nb_json_text)
    except json.JSONDecodeError as e:
        raise IntakeError(f"{_cap(name)} is not a valid Jupyter notebook (invalid JSON at line {e.lineno}: {e.msg}); "
                          "save or download it again from Jupyter or Colab.") from None
    except (ValueError, RecursionError):
        raise IntakeError(f"{_cap(name)} is not a valid Jupyter notebook (its JSON cannot be read); "
                          "save or download it again from Jupyter or Colab.") from None
    return _Converter(name).convert(_code_cells(nb, name))


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


def _zip_student_count(archive: Path, rx: re.Pattern) -> int:
    """How many distinct ids the top-level names of a zip carry (an LMS bulk download holds many)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return 1
    tops = {n.replace("\\", "/").lstrip("/").split("/", 1)[0] for n in names}
    return len({i for i in (_match_id(t, rx) for t in tops) if i})


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


def _manifest(path: Path) -> dict | None:
    """The manifest of a `dlgrade submit` zip, or None when it is missing or unreadable."""
    try:
        data = json.loads(_read_capped(path, MANIFEST_MAX, MANIFEST).decode("utf-8-sig"))
    except (IntakeError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("student"), str) and data["student"].strip():
        return data
    return None


# --------------------------------------------------------------------------- names and ids

def _compile_id_pattern(pattern: str) -> re.Pattern:
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise IntakeError(f"The id pattern {pattern!r} is not a valid regular expression ({e}).") from None
    if "student" not in rx.groupindex:
        raise IntakeError(f"The id pattern {pattern!r} has no group named 'student'; "
                          "write it like (?P<student>au\\d+).")
    return rx


def _match_id(name: str, rx: re.Pattern) -> str | None:
    m = rx.search(name)
    return (m.group("student") or None) if m else None


def _sanitize_id(raw: str) -> str:
    """A student id safe as a file name: letters, digits, '.', '_' and '-', at most 64 characters, never empty."""
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text).strip("._-")[:ID_MAX].strip("._-")
    return text or "student"


def _stem(name: str) -> str:
    low = name.lower()
    for suffix in TAR_SUFFIXES + ZIP_SUFFIXES + (NOTEBOOK, ".py"):
        if low.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or name


def _lms_filename(name: str, student: str | None) -> str:
    """The file's own name inside an LMS entry name ('... - conv.py' -> 'conv.py')."""
    parts = name.split(" - ", 4)
    if len(parts) == 5 and _BRIGHTSPACE_HEAD.match(parts[0]):
        return parts[4]
    for rx in (_CANVAS_NAME, _MOODLE_NAME):
        m = rx.match(name)
        if m and m.group("file"):
            return m.group("file")
    if student and student in name:
        rest = name.split(student, 1)[1].lstrip(" _-")
        if rest and _stem(rest) != rest and not rest.startswith("."):
            return rest
    return name


def _lms_date(entry: str) -> datetime:
    """The submission time in a Brightspace entry name, to order several attempts; the minimum otherwise."""
    parts = entry.split(" - ", 4)
    if len(parts) == 5:
        try:
            return datetime.strptime(parts[3].strip(), _BRIGHTSPACE_DATE)
        except ValueError:
            pass
    return datetime.min


def _is_junk(name: str) -> bool:
    return name.startswith(".") or name in ("__MACOSX", "__pycache__")


def _wanted(rel: str) -> bool:
    """Archive entries intake writes: Python files, notebooks, manifests and nested archives."""
    parts = rel.split("/")
    if any(_is_junk(p) for p in parts):
        return False
    low = parts[-1].lower()
    return low.endswith((".py", NOTEBOOK)) or low == MANIFEST or _archive_kind(low) is not None


def _show(name: str, width: int = 60) -> str:
    """A file name fit for a one-line message: quoted, printable, shortened."""
    text = "".join(c if c.isprintable() else "?" for c in str(name))
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f"'{text}'"


def _cap(text: str) -> str:
    """The text with a capital first letter, to open a sentence."""
    return text[:1].upper() + text[1:]


def _mib(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


def _sha256(folder: Path) -> str:
    """sha256 over the folder's files (sorted names, each with its length and bytes): same files, same hash."""
    h = hashlib.sha256()
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        data = p.read_bytes()
        h.update(p.name.encode("utf-8", "surrogateescape") + b"\0" + str(len(data)).encode() + b"\0")
        h.update(data)
    return h.hexdigest()


# --------------------------------------------------------------------------- intake of paths

@dataclass
class _File:
    """A candidate file of one student: `rel` is its name inside the student's tree, `entry` the download entry."""

    rel: str
    path: Path
    entry: str = ""

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        return self.rel.rsplit("/", 1)[0] if "/" in self.rel else ""

    @property
    def depth(self) -> int:
        return self.rel.count("/")


@dataclass
class _Pending:
    """One submission found but not yet named: where its files are, or why it is not gradable."""

    source: str
    fallback: str                 # name the id comes from when nothing better is known
    lms_id: str | None = None     # id from an LMS entry name: trusted over a manifest
    files: list[_File] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    is_module: bool = False       # a lone .py or .ipynb given as the submission itself


class _Context:
    """State of one `collect` call: its folders, settings and counters."""

    def __init__(self, root: Path, module: str, rx: re.Pattern, limits: Limits):
        self.root, self.module, self.rx, self.limits = root, module, rx, limits
        self.scratch_count = 0
        self.variant = re.compile(rf"(?i)^{re.escape(module)}(?:\s*\((?P<a>\d+)\)|[-_ ](?P<b>\d+)|\s*-\s*copy)?"
                                  rf"(?P<ext>\.py|\.ipynb)$")

    # ----------------------------------------------------------------- finding submissions

    def scratch(self) -> Path:
        self.scratch_count += 1
        path = self.root / "extract" / str(self.scratch_count)
        path.mkdir(parents=True)
        return path

    def from_path(self, path: Path) -> list[_Pending]:
        label = str(path)
        if path.is_dir():
            return self.from_folder(path, label, path.name, archive=False)
        kind = _archive_kind(path.name)
        if kind:
            limits = self.limits
            if kind == "zip":
                n = _zip_student_count(path, self.rx)
                if n > 1:
                    limits = replace(limits, max_total_bytes=limits.max_total_bytes * n,
                                     max_files=limits.max_files * n)
            dest = self.scratch()
            try:
                safe_extract(path, dest, limits, keep=_wanted)
            except IntakeError as e:
                return [_Pending(label, _stem(path.name), error=str(e))]
            return self.from_folder(dest, label, _stem(path.name), archive=True, level=1)
        low = path.name.lower()
        if low.endswith((".py", NOTEBOOK)):
            return [_Pending(label, _stem(path.name), files=[_File(path.name, path, path.name)], is_module=True)]
        return [_Pending(label, _stem(path.name),
                         error=f"{_show(path.name)} is not a zip, tar archive, notebook, Python file or folder.")]

    def from_folder(self, folder: Path, label: str, fallback: str, *, archive: bool, level: int = 0
                    ) -> list[_Pending]:
        """One folder: one student's files, or one entry per student (a bulk download)."""
        entries, notes = self.listing(folder)
        files = {e.name for e in entries if e.is_file(follow_symlinks=False)}
        dirs = [e for e in entries if e.is_dir(follow_symlinks=False)]
        relevant = [e for e in entries if e in dirs or (_relevant_file(e.name) and e.name != MANIFEST)]
        notebooks = [n for n in files if n.lower().endswith(NOTEBOOK)]

        if MANIFEST in files or f"{self.module}.py" in files:
            return [self.single(folder, label, fallback, notes, level)]
        ids = {e.name: _match_id(e.name, self.rx) for e in relevant}
        if any(ids.values()):
            return self.per_entry(folder, relevant, ids, label, notes, level)
        nested = dirs or any(_archive_kind(n) for n in files)
        if any(self.variant.match(n) and n.lower().endswith(".py") for n in files) or (
                len(notebooks) == 1 and not nested):
            return [self.single(folder, label, fallback, notes, level)]
        if archive and len(dirs) == 1 and not any(_relevant_file(n) for n in files):
            return self.from_folder(Path(dirs[0].path), label, fallback, archive=True, level=level)
        if archive and len(relevant) == 1 and not dirs:     # a zip of one zip: the same student
            return [self.single(folder, label, fallback, notes, level)]
        if not relevant:
            return [_Pending(label, fallback, notes=notes,
                             error=f"{_show(Path(label).name)} holds no {self.module}.py, notebook or archive.")]
        return self.per_entry(folder, relevant, ids, label, notes, level)

    def listing(self, folder: Path) -> tuple[list[os.DirEntry], list[str]]:
        """A folder's entries, sorted, without hidden files or links (noted, never followed)."""
        entries, notes = [], []
        try:
            with os.scandir(folder) as it:
                for e in it:
                    if _is_junk(e.name):
                        continue
                    if e.is_symlink():
                        notes.append(f"ignored the symbolic link {_show(e.name)}")
                        continue
                    entries.append(e)
        except OSError as e:
            raise IntakeError(f"{folder} could not be read ({e.strerror or e}).") from None
        return sorted(entries, key=lambda e: e.name), notes

    def single(self, folder: Path, label: str, fallback: str, notes: list[str], level: int) -> _Pending:
        p = _Pending(label, fallback, notes=list(notes))
        try:
            p.files = self.gather(folder, "", "", level, _Budget(self.limits), p.notes)
        except IntakeError as e:
            p.error = str(e)
        return p

    def per_entry(self, folder: Path, relevant, ids: dict, label: str, notes: list[str], level: int
                  ) -> list[_Pending]:
        """Entries grouped by the id in their names; an entry without one is a submission of its own."""
        groups: dict[str, list[os.DirEntry]] = {}
        singles: list[_Pending] = []
        for e in relevant:
            sid = ids.get(e.name)
            if sid:
                groups.setdefault(sid, []).append(e)
            elif e.is_dir(follow_symlinks=False):
                singles.append(self.single(Path(e.path), f"{label}/{e.name}", e.name, [], level))
            elif _archive_kind(e.name):
                singles.extend(self.nested_archive(Path(e.path), f"{label}/{e.name}", level))
            else:
                singles.append(_Pending(f"{label}/{e.name}", _stem(e.name),
                                        files=[_File(e.name, Path(e.path), e.name)], is_module=True))
        out = []
        for sid, members in groups.items():
            more = f" and {len(members) - 1} more" if len(members) > 1 else ""
            p = _Pending(f"{label}/{members[0].name}{more}", sid, lms_id=sid)
            budget = _Budget(self.limits)
            try:
                for e in members:
                    if e.is_dir(follow_symlinks=False):
                        p.files += self.gather(Path(e.path), "", e.name, level, budget, p.notes)
                    else:
                        rel = _fit_name(_lms_filename(e.name, sid))
                        p.files += self.gather(Path(e.path), rel, e.name, level, budget, p.notes)
            except IntakeError as err:
                p.error = str(err)
            out.append(p)
        if notes and (out or singles):
            (out or singles)[0].notes[:0] = notes
        return sorted(out + singles, key=lambda p: p.source)

    def nested_archive(self, path: Path, label: str, level: int) -> list[_Pending]:
        """An archive standing for one student inside a folder of entries."""
        dest = self.scratch()
        try:
            safe_extract(path, dest, self.limits, keep=_wanted)
        except IntakeError as e:
            return [_Pending(label, _stem(path.name), error=str(e))]
        root = _unwrap(dest)
        return [self.single(root, label, _stem(path.name), [], level + 1)]

    def gather(self, path: Path, rel: str, entry: str, level: int, budget: "_Budget", notes: list[str]
               ) -> list[_File]:
        """The .py, .ipynb and manifest files under `path` (a file, a folder or an archive), as one student's tree.

        Folders are walked without following links; archives met on the way are
        extracted (up to MAX_NESTING levels) and their files placed where the
        archive was. `rel` is the name `path` takes in the tree ('' for a root).
        """
        out: list[_File] = []
        stack = [(path, rel, level)]
        while stack:
            here, here_rel, here_level = stack.pop()
            if not here_rel or here.is_dir():
                if here.is_dir() and not here.is_symlink():
                    entries, link_notes = self.listing(here)
                    notes.extend(link_notes)
                    for e in entries:
                        budget.count()
                        child_rel = f"{here_rel}/{_fit_name(e.name)}" if here_rel else _fit_name(e.name)
                        if e.is_dir(follow_symlinks=False) or (e.is_file(follow_symlinks=False)
                                                              and _relevant_file(e.name)):
                            stack.append((Path(e.path), child_rel, here_level))
                    continue
                here_rel = here_rel or here.name
            name = here_rel.rsplit("/", 1)[-1]
            if _archive_kind(name):
                if here_level >= MAX_NESTING:
                    notes.append(f"ignored the archive {_show(name)} inside an archive")
                    continue
                dest = self.scratch()
                safe_extract(here, dest, self.limits, keep=_wanted)
                parent = here_rel.rsplit("/", 1)[0] if "/" in here_rel else ""
                stack.append((_unwrap(dest), parent, here_level + 1))
            elif _relevant_file(name):
                budget.add(name, here.lstat().st_size)
                out.append(_File(here_rel, here, entry or name))
        return sorted(out, key=lambda f: f.rel)

    # ----------------------------------------------------------------- building folders

    def finish(self, pending: list[_Pending]) -> list[Submission]:
        """Name every submission (unique ids), then build its clean folder."""
        built = [self.build(p) for p in pending]
        taken: dict[str, str] = {}
        all_ids = {sid for sid, *_ in built}
        out = []
        for sid, p, tmp, sha, error in built:
            student = sid
            if student in taken:
                n = 2
                while f"{sid}-{n}" in taken or f"{sid}-{n}" in all_ids:
                    n += 1
                student = f"{sid}-{n}"
                p.notes.append(f"the student id '{sid}' is also used by {taken[sid]}; this submission is graded as "
                               f"'{student}'")
            taken[student] = p.source
            folder = None
            if tmp is not None:
                folder = self.root / "students" / student
                tmp.rename(folder)
            out.append(Submission(student=student, source=p.source, folder=folder, sha256=sha, error=error,
                                  notes=p.notes))
        return out

    def build(self, p: _Pending) -> tuple[str, _Pending, Path | None, str, str | None]:
        """(id, pending, folder written, sha256, error) for one submission."""
        manifest = None
        if not p.is_module:
            top = [f for f in p.files if f.rel == MANIFEST]
            manifest = _manifest(top[0].path) if top else None
        sid = self.student_id(p, manifest)
        if p.error:
            return sid, p, None, "", p.error
        self.scratch_count += 1
        tmp = self.root / "students" / f".build-{self.scratch_count}"
        tmp.mkdir(parents=True)
        try:
            self.write_files(p, tmp, manifest)
        except IntakeError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            return sid, p, None, "", str(e)
        return sid, p, tmp, _sha256(tmp), None

    def student_id(self, p: _Pending, manifest: dict | None) -> str:
        if p.lms_id:
            sid = _sanitize_id(p.lms_id)
            if manifest and _sanitize_id(manifest["student"]) != sid:
                p.notes.append(f"manifest.json names the student {_show(manifest['student'])}; the id from the "
                               f"download, '{sid}', was used")
            return sid
        if manifest:
            sid = _sanitize_id(manifest["student"])
            if sid != manifest["student"]:
                p.notes.append(f"the id {_show(manifest['student'])} in manifest.json was written as '{sid}'")
            return sid
        return _sanitize_id(_match_id(p.fallback, self.rx) or p.fallback)

    def write_files(self, p: _Pending, folder: Path, manifest: dict | None) -> None:
        """Write `<module>.py` (copied or converted from a notebook) and the importable .py files beside it."""
        target = f"{self.module}.py"
        chosen = self.choose_module(p)
        limit = self.limits.max_file_bytes
        data = _read_capped(chosen.path, limit, _show(chosen.name))
        if chosen.name.lower().endswith(NOTEBOOK):
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise IntakeError(f"{_show(chosen.name)} is not a valid Jupyter notebook (not UTF-8 text); "
                                  "save or download it again from Jupyter or Colab.") from None
            source, nb_notes = notebook_to_module(text, _show(chosen.name))
            p.notes += nb_notes
            data = source.encode("utf-8")
        elif chosen.name != target:
            p.notes.append(f"used {_show(chosen.name)} as {target}")
        (folder / target).write_bytes(data)
        written = {target}
        helpers: dict[str, _File] = {}
        for f in p.files:
            stem = f.name[:-3] if f.name.endswith(".py") else ""
            if (f is chosen or f.parent != chosen.parent or not stem.isidentifier() or f.name in written
                    or self.variant.match(f.name)):
                continue
            if f.name not in helpers or _rank(f, 0) > _rank(helpers[f.name], 0):
                helpers[f.name] = f
        for name, f in sorted(helpers.items()):
            (folder / name).write_bytes(_read_capped(f.path, limit, _show(f.name)))
        if manifest and isinstance(manifest.get("files"), dict):
            for name, digest in manifest["files"].items():
                local = folder / str(name)
                if (isinstance(name, str) and "/" not in name and local.is_file()
                        and hashlib.sha256(local.read_bytes()).hexdigest() != digest):
                    p.notes.append(f"{_show(name)} differs from the copy listed in manifest.json "
                                   "(changed after packing)")

    def choose_module(self, p: _Pending) -> _File:
        """The file that becomes `<module>.py`: exact name, then a variant, then a notebook, then a lone .py."""
        target = f"{self.module}.py"
        if p.is_module:
            return p.files[0]
        py = [f for f in p.files if f.name.lower().endswith(".py")]
        nbs = [f for f in p.files if f.name.lower().endswith(NOTEBOOK)]
        choices: list[_File] = [f for f in py if f.name == target]
        if not choices:
            choices = [f for f in py if self.variant.match(f.name)]
        if not choices and nbs:
            named = [f for f in nbs if self.variant.match(f.name)]
            choices = named or (nbs if len(nbs) == 1 else [])
            if not choices:
                raise IntakeError(f"The submission holds {len(nbs)} notebooks and no {target}; keep only the "
                                  f"notebook to grade, or name it {self.module}.ipynb.")
        if not choices and len(py) == 1:
            choices = py
        if not choices and not py and not nbs:
            raise IntakeError(f"The submission holds no .py or .ipynb file; it should hold {target} or a notebook.")
        if not choices:
            found = ", ".join(_show(f.name) for f in py[:5]) + (", ..." if len(py) > 5 else "")
            raise IntakeError(f"No {target} or notebook was found in the submission (it holds {found}); "
                              f"name the file {target}.")
        best = max(choices, key=lambda f: _rank(f, self.variant_number(f.name)))
        if len(choices) > 1:
            p.notes.append(f"{len(choices)} files could be {target}; used {_show(best.rel)} "
                           "(the least nested, then the latest resubmission)")
        return best

    def variant_number(self, name: str) -> int:
        m = self.variant.match(name)
        return int(m.group("a") or m.group("b") or 0) if m else 0


@dataclass
class _Budget:
    """Counts what one student's folder holds, so a huge tree stops the walk with one sentence."""

    limits: Limits
    files: int = 0
    bytes: int = 0

    def count(self) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise IntakeError(f"The submission holds more than {self.limits.max_files} files; "
                              "submit only the .py or .ipynb files.")

    def add(self, name: str, size: int) -> None:
        if size > self.limits.max_file_bytes:
            raise IntakeError(f"{_show(name)} is {_mib(size)}, over the {_mib(self.limits.max_file_bytes)} limit "
                              "for one file; submit only the .py or .ipynb files.")
        self.bytes += size
        if self.bytes > self.limits.max_total_bytes:
            raise IntakeError(f"The submission's .py and .ipynb files exceed {_mib(self.limits.max_total_bytes)}, "
                              "the limit for one submission.")


def _relevant_file(name: str) -> bool:
    low = name.lower()
    return low.endswith((".py", NOTEBOOK)) or low == MANIFEST or _archive_kind(low) is not None


def _rank(f: _File, number: int) -> tuple:
    """Higher is preferred: shallower, later resubmission number, later LMS date, then name."""
    return (-f.depth, number, _lms_date(f.entry), f.entry, f.rel)


def _unwrap(folder: Path) -> Path:
    """The single folder an archive was made of, when it holds nothing else ('week04/conv.py' -> 'week04')."""
    while True:
        try:
            entries = [e for e in os.scandir(folder) if not _is_junk(e.name)]
        except OSError:
            return folder
        if len(entries) == 1 and entries[0].is_dir(follow_symlinks=False):
            folder = Path(entries[0].path)
        else:
            return folder


# --------------------------------------------------------------------------- notebooks

def _code_cells(nb, name: str) -> list[tuple[int, str | None]]:
    """(cell number from 1, source) per cell; source None for markdown and raw cells."""
    if not isinstance(nb, dict):
        raise IntakeError(f"{_cap(name)} is not a valid Jupyter notebook (its JSON holds no notebook); "
                          "save or download it again from Jupyter or Colab.")
    if "cells" not in nb and isinstance(nb.get("worksheets"), list):
        nb = _upgrade_v3(nb)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise IntakeError(f"{_cap(name)} is not a valid Jupyter notebook (it has no list of cells); "
                          "save or download it again from Jupyter or Colab.")
    out = []
    for i, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            out.append((i, None))
            continue
        src = cell.get("source", cell.get("input", ""))
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        out.append((i, src if isinstance(src, str) else ""))
    return out


def _upgrade_v3(nb: dict) -> dict:
    """A format-3 notebook as format 4: by nbformat when installed, else by hand (cells live in worksheets)."""
    try:
        import nbformat

        return json.loads(nbformat.writes(nbformat.convert(nbformat.from_dict(nb), 4)))
    except Exception:  # noqa: BLE001 - nbformat missing or the notebook off its schema: fall back
        cells = []
        for ws in nb.get("worksheets") or []:
            if isinstance(ws, dict) and isinstance(ws.get("cells"), list):
                cells.extend(ws["cells"])
        return {"cells": cells}


_CELL_MAGIC = re.compile(r"^\s*%%")
_LINE_MAGIC = re.compile(r"^\s*(?:[!%]|[\w.,\s\[\]()*]+=\s*[!%]|\?\??[\w.]+\s*$|[\w.]+\?\??\s*$)")
_SAFE_PACKAGES = {"torch", "numpy", "math", "cmath", "fractions", "decimal", "statistics", "collections",
                  "itertools", "functools", "operator", "string", "re", "enum", "typing", "dataclasses",
                  "einops", "random"}
_DENIED_ATTRS = {"load", "loads", "loadtxt", "genfromtxt", "fromfile", "save", "savez", "savez_compressed",
                 "savetxt", "memmap", "hub", "utils", "data", "compile", "open", "download", "from_pretrained",
                 "input", "breakpoint", "system", "exec", "eval", "tofile", "seed"}
_SAFE_CALLS = {"abs", "bool", "complex", "dict", "divmod", "enumerate", "float", "frozenset", "int", "len",
               "list", "max", "min", "pow", "range", "reversed", "round", "set", "slice", "sorted", "str", "sum",
               "tuple", "zip"}
_BUILTIN_NAMES = set(dir(builtins))


class _Converter:
    """Turns a notebook's code cells into a module of imports, definitions and constants."""

    def __init__(self, name: str):
        self.name = name
        self.modules: dict[str, str] = {}   # name bound by an import -> the module or object it names
        self.constants: set[str] = set()
        self.definitions: set[str] = set()
        self.kept = {"import": 0, "definition": 0, "constant": 0}
        self.dropped: dict[str, int] = {}
        self.dropped_names: list[str] = []
        self.magic: list[str] = []
        self.notes: list[str] = []

    @property
    def known(self) -> set[str]:
        return set(self.modules) | self.constants | self.definitions | _BUILTIN_NAMES

    def convert(self, cells: list[tuple[int, str | None]]) -> tuple[str, list[str]]:
        future, body = [], []   # body: (segment, is compound)
        for number, src in cells:
            if src is None or not src.strip():
                continue
            tree, src = self.parse_cell(number, src)
            if tree is None:
                continue
            for node in tree.body:
                kind = self.keep(node)
                if kind is None:
                    self.drop(node)
                    continue
                segment = _segment(src, node)
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    future.append(segment)
                else:
                    body.append((segment, "\n" in segment))
        header = "# Converted from a Jupyter notebook: only imports, definitions and constants were kept.\n"
        parts = []
        for i, (segment, compound) in enumerate(body):
            if i:
                parts.append("\n\n\n" if compound or body[i - 1][1] else "\n")
            parts.append(segment)
        source = header + "".join(s + "\n" for s in future) + "\n" + "".join(parts) + "\n"
        try:
            ast.parse(source)
        except SyntaxError as e:
            raise IntakeError(f"{_cap(self.name)} could not be converted to a module (line {e.lineno}: {e.msg}); "
                              "submit the module as a .py file.") from None
        return source, self.summary()

    def parse_cell(self, number: int, src: str) -> tuple[ast.Module | None, str]:
        first = next((ln for ln in src.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
        if _CELL_MAGIC.match(first):
            self.notes.append(f"dropped cell {number} ({first.strip()[:40]} cell magic)")
            return None, src
        try:
            return ast.parse(src), src
        except (SyntaxError, ValueError):
            pass
        cleaned = self.strip_magic(src)
        try:
            return ast.parse(cleaned), cleaned
        except (SyntaxError, ValueError) as e:
            where = f"line {e.lineno}: {e.msg}" if isinstance(e, SyntaxError) else str(e)
            self.notes.append(f"dropped cell {number}: it does not parse ({where})")
            return None, src

    def strip_magic(self, src: str) -> str:
        """Shell and magic lines become `pass` at their indentation, continuation lines included."""
        out, continuing = [], False
        for line in src.splitlines():
            if continuing or _LINE_MAGIC.match(line):
                if not continuing:
                    self.magic.append(line.strip())
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}pass" if not continuing else "")
                continuing = line.rstrip().endswith("\\")
            else:
                out.append(line)
        return "\n".join(out)

    # ----------------------------------------------------------------- what stays

    def keep(self, node: ast.stmt) -> str | None:
        """The kind of a statement worth keeping ('import', 'definition', 'constant'), binding its names; else None."""
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self.bind_import(node)
            self.kept["import"] += 1
            return "import"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.definitions.add(node.name)
            self.kept["definition"] += 1
            return "definition"
        if isinstance(node, ast.Assign) and all(_plain_target(t) for t in node.targets) and self.const(node.value):
            for t in node.targets:
                self.constants.update(_target_names(t))
            self.kept["constant"] += 1
            return "constant"
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and (node.value is None or self.const(node.value))):
            self.constants.add(node.target.id)
            self.kept["constant"] += 1
            return "constant"
        if isinstance(node, ast.Try) and self.guarded(node):
            self.kept["import"] += 1
            return "import"
        return None

    def guarded(self, node: ast.Try) -> bool:
        """A try block made only of keepable statements (an optional import with its fallback)."""
        saved = (dict(self.modules), set(self.constants), set(self.definitions), dict(self.kept))
        blocks = [node.body, node.orelse, node.finalbody] + [h.body for h in node.handlers]
        ok = all(h.type is None or self.const(h.type) for h in node.handlers)
        for block in blocks:
            for stmt in block:
                if not ok:
                    break
                ok = isinstance(stmt, ast.Pass) or self.keep(stmt) is not None
        if ok:
            self.kept = saved[3]
        else:
            self.modules, self.constants, self.definitions, self.kept = saved
        return ok

    def bind_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    self.modules[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    self.modules[top] = top
            return
        base = "." * node.level + (node.module or "")
        for a in node.names:
            if a.name != "*":
                self.modules[a.asname or a.name] = f"{base}.{a.name}"

    def const(self, e: ast.expr, local: frozenset = frozenset()) -> bool:
        """Whether an expression is cheap and side-effect free: literals, kept names, numeric-library calls."""
        c = self.const
        if isinstance(e, ast.Constant):
            return True
        if isinstance(e, ast.Name):
            return e.id in local or e.id in self.known
        if isinstance(e, (ast.Tuple, ast.List, ast.Set)):
            return all(c(x, local) for x in e.elts)
        if isinstance(e, ast.Starred):
            return c(e.value, local)
        if isinstance(e, ast.Dict):
            return all(k is None or c(k, local) for k in e.keys) and all(c(v, local) for v in e.values)
        if isinstance(e, ast.UnaryOp):
            return c(e.operand, local)
        if isinstance(e, ast.BinOp):
            return c(e.left, local) and c(e.right, local)
        if isinstance(e, ast.BoolOp):
            return all(c(v, local) for v in e.values)
        if isinstance(e, ast.Compare):
            return c(e.left, local) and all(c(x, local) for x in e.comparators)
        if isinstance(e, ast.IfExp):
            return c(e.test, local) and c(e.body, local) and c(e.orelse, local)
        if isinstance(e, ast.Subscript):
            return c(e.value, local) and c(e.slice, local)
        if isinstance(e, ast.Slice):
            return all(x is None or c(x, local) for x in (e.lower, e.upper, e.step))
        if isinstance(e, ast.Attribute):
            return e.attr not in _DENIED_ATTRS and self.chain_ok(e.value, local)
        if isinstance(e, ast.JoinedStr):
            return all(c(v, local) for v in e.values)
        if isinstance(e, ast.FormattedValue):
            return c(e.value, local) and (e.format_spec is None or c(e.format_spec, local))
        if isinstance(e, ast.Lambda):
            return all(c(d, local) for d in e.args.defaults + [d for d in e.args.kw_defaults if d is not None])
        if isinstance(e, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = set(local)
            for g in e.generators:
                if g.is_async or not c(g.iter, frozenset(inner)):
                    return False
                inner |= set(_target_names(g.target))
                if not all(c(x, frozenset(inner)) for x in g.ifs):
                    return False
            elts = [e.key, e.value] if isinstance(e, ast.DictComp) else [e.elt]
            return all(c(x, frozenset(inner)) for x in elts)
        if isinstance(e, ast.Call):
            if any(k.arg == "download" for k in e.keywords):
                return False
            args_ok = all(c(a, local) for a in e.args) and all(c(k.value, local) for k in e.keywords)
            return args_ok and self.callable_ok(e.func, local)
        return False

    def chain_ok(self, e: ast.expr, local: frozenset) -> bool:
        """The object an attribute is read from: a safe module, a kept constant, or a constant expression."""
        if isinstance(e, ast.Name):
            if e.id in self.modules:
                return self.modules[e.id].split(".")[0] in _SAFE_PACKAGES
            return e.id in self.constants or e.id in local
        if isinstance(e, ast.Attribute):
            return e.attr not in _DENIED_ATTRS and self.chain_ok(e.value, local)
        return self.const(e, local)

    def callable_ok(self, func: ast.expr, local: frozenset) -> bool:
        """A call worth running at import: a pure builtin, or a function of a numeric library or a constant."""
        if isinstance(func, ast.Name):
            if func.id in self.modules:
                path = self.modules[func.id]
                return path.split(".")[0] in _SAFE_PACKAGES and path.rsplit(".", 1)[-1] not in _DENIED_ATTRS
            return func.id in _SAFE_CALLS and func.id not in self.constants | self.definitions
        if isinstance(func, ast.Attribute):
            return func.attr not in _DENIED_ATTRS and self.chain_ok(func.value, local)
        return False

    # ----------------------------------------------------------------- what goes, and saying so

    def drop(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Pass) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            return
        kind = _statement_kind(node)
        self.dropped[kind] = self.dropped.get(kind, 0) + 1
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                self.dropped_names += [n for n in _target_names(t) if n not in self.dropped_names]

    def summary(self) -> list[str]:
        kept = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in self.kept.items() if n)
        named = "" if self.name == "the notebook" else f" {self.name}"
        line = f"converted from notebook{named}: kept {kept or 'nothing'}"
        total = sum(self.dropped.values())
        if total:
            by_count = sorted(self.dropped.items(), key=lambda kv: -kv[1])
            kinds = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in by_count)
            line += f"; dropped {total} top-level statement{'s' if total != 1 else ''} ({kinds})"
        notes = [line]
        missing = [n for n in self.dropped_names if n not in self.known]
        if missing:
            shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
            notes.append(f"not defined in the module (computed by top-level work): {shown}")
        if self.magic:
            shown = ", ".join(m[:40] for m in self.magic[:3]) + (", ..." if len(self.magic) > 3 else "")
            notes.append(f"removed {len(self.magic)} shell or magic line{'s' if len(self.magic) != 1 else ''} "
                         f"({shown})")
        if not self.kept["definition"]:
            notes.append("the notebook defines no functions or classes")
        return notes + self.notes


def _plain_target(t: ast.expr) -> bool:
    if isinstance(t, ast.Name):
        return True
    if isinstance(t, (ast.Tuple, ast.List)):
        return all(_plain_target(x) for x in t.elts)
    if isinstance(t, ast.Starred):
        return _plain_target(t.value)
    return False


def _target_names(t: ast.expr) -> list[str]:
    if isinstance(t, ast.Name):
        return [t.id]
    if isinstance(t, (ast.Tuple, ast.List)):
        return [n for x in t.elts for n in _target_names(x)]
    if isinstance(t, ast.Starred):
        return _target_names(t.value)
    return []


def _statement_kind(node: ast.stmt) -> str:
    """A short name for a dropped statement, for the note a student reads."""
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return "for loop"
    if isinstance(node, ast.While):
        return "while loop"
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return "with block"
    if isinstance(node, ast.If):
        test = ast.dump(node.test)
        return "if __name__ block" if "__name__" in test else "if block"
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        f = node.value.func
        return "print" if isinstance(f, ast.Name) and f.id == "print" else "call"
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return "assignment"
    if isinstance(node, ast.Try):
        return "try block"
    return type(node).__name__.lower()


def _segment(src: str, node: ast.stmt) -> str:
    """A statement's source text with its decorators, the comment lines just above it and one ending it.

    Taken from the cell's text rather than unparsed, so comments inside definitions survive.
    """
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    end_col = node.end_col_offset
    lines = src.splitlines()
    while first > 1 and lines[first - 2].lstrip().startswith("#") and node.col_offset == 0:
        first -= 1                                           # the comment lines just above it
    if node.end_lineno is not None and node.end_lineno <= len(lines):
        last = lines[node.end_lineno - 1].encode("utf-8")
        if end_col is not None and last[end_col:].strip().startswith(b"#"):
            end_col = len(last.rstrip())
    start_col = 0 if first != node.lineno else node.col_offset
    text = _slice(src, first, start_col, node.end_lineno, end_col)
    if text is None:
        span = SimpleNamespace(lineno=first, col_offset=start_col, end_lineno=node.end_lineno, end_col_offset=end_col)
        text = ast.get_source_segment(src, span)
    return text if text is not None else ast.unparse(node)


@functools.lru_cache(maxsize=8)
def _lines(src: str) -> tuple[str, ...]:
    return tuple(src.splitlines(keepends=True))


def _slice(src: str, lineno: int, col: int, end_lineno: int | None, end_col: int | None) -> str | None:
    """Like ast.get_source_segment, without splitting the whole cell again for every statement
    (that made a long notebook quadratic). Offsets are in UTF-8 bytes, as ast gives them."""
    lines = _lines(src)
    if end_lineno is None or end_col is None or end_lineno > len(lines) or any(
            ch in src for ch in "\f\v\x1c\x1d\x1e\x85\u2028\u2029"):
        return None  # line breaks that str.splitlines and the parser count differently
    if lineno == end_lineno:
        return lines[lineno - 1].encode()[col:end_col].decode()
    head = lines[lineno - 1].encode()[col:].decode()
    tail = lines[end_lineno - 1].encode()[:end_col].decode()
    return head + "".join(lines[lineno:end_lineno - 1]) + tail
