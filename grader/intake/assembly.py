"""Assembly: every path given becomes one clean folder per student, named, hashed and noted.

`collect` walks the paths (archives through `archives`, notebooks through
`notebooks`, ids through `identities`) and writes each student's
`<module>.py` and importable helpers into a fresh folder of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from .archives import _archive_kind, _fit_name, _read_capped, safe_extract
from .common import MANIFEST, NOTEBOOK, IntakeError, Limits, MiB, _mib, _show
from .identities import (DEFAULT_ID_PATTERN, _compile_id_pattern, _fallback_id, _is_lms_download, _lms_date,
                         _lms_filename, _lms_parts, _named_id, _sanitize_id, _stem, _student_count)
from .notebooks import notebook_to_module

MANIFEST_MAX = 1 * MiB      # manifest.json is a few hundred bytes
MAX_NESTING = 2             # a bulk zip holding a student's zip; an archive deeper than that is ignored


@dataclass
class Submission:
    """One student's submission after intake, ready to stage into the sandbox or to report as not gradable."""

    student: str                 # the id in the gradebook: letters, digits, '.', '_', '-'
    source: str                  # the path given (and the entry inside it) the files came from
    folder: Path | None          # holds <module>.py and the student's other .py files; None if not gradable
    sha256: str                  # of the folder's files, to skip grading the same files twice; "" if none
    error: str | None = None     # one sentence saying why it is not gradable
    notes: list[str] = field(default_factory=list)   # what intake changed: notebook converted, file renamed...


# --------------------------------------------------------------------------- public API

def collect(paths: Sequence[Path], module: str, workdir: Path, *, id_pattern: str = DEFAULT_ID_PATTERN,
            limits: Limits = Limits(), bulk: bool = False) -> list[Submission]:
    """Every submission found in `paths`, each in a clean folder under `workdir`, in input order.

    A path may be a zip or tar archive, a notebook, a .py file, a folder of one
    student's files, or a folder holding one entry per student. An archive is
    one student's unless it is an LMS bulk download (every top-level entry
    named in Brightspace's, Canvas's or Moodle's format, and the archive's own
    name naming no student) or `bulk` is true; then, like a folder, it holds
    one entry per student.

    Ids come only from names the instructor's side chose, never from what a
    student controls (a manifest, names inside a student's archive, the file
    name a student typed into an LMS entry): the LMS's part of an entry name,
    then `id_pattern` (a regex with a group named `student`) on the entry's,
    file's or folder's name, then that name's stem (less the `weekNN-` of a
    `dlgrade submit` zip). Ids are reduced to letters, digits, '.', '_' and
    '-'. Entries of one LMS download with the same id are one student's
    attempts; any other two claims on one id are a conflict: that id gets one
    not-gradable submission naming every claim, for the instructor to resolve.
    Each call writes into a new folder of its own under `workdir`, which the
    caller removes when grading is done.

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
    ctx = _Context(root, module, _compile_id_pattern(id_pattern), limits, bulk=bulk)
    pending: list[_Pending] = []
    for p in paths:
        try:
            pending.extend(ctx.from_path(Path(p)))
        except IntakeError:
            raise
        except Exception as e:  # noqa: BLE001 - one odd path is not gradable; it never stops the others
            pending.append(_Pending(str(p), _stem(Path(p).name), error=_intake_failed(e)))
    return ctx.finish(pending)


def _intake_failed(e: BaseException) -> str:
    what = " ".join(f"{type(e).__name__}: {e}".split())[:160]
    return f"intake could not read this submission ({what}); look at it by hand."


def _manifest(path: Path) -> dict | None:
    """The manifest of a `dlgrade submit` zip, or None when it is missing or unreadable."""
    try:
        data = json.loads(_read_capped(path, MANIFEST_MAX, MANIFEST).decode("utf-8-sig"))
    except (IntakeError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("student"), str) and data["student"].strip():
        return data
    return None


def _is_junk(name: str) -> bool:
    return name.startswith(".") or name in ("__MACOSX", "__pycache__")


def _wanted(rel: str) -> bool:
    """Archive entries intake writes: Python files, notebooks, manifests and nested archives."""
    parts = rel.split("/")
    if any(_is_junk(p) for p in parts):
        return False
    low = parts[-1].lower()
    return low.endswith((".py", NOTEBOOK)) or low == MANIFEST or _archive_kind(low) is not None


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
    named_id: str | None = None   # id found in the name of the entry or path (LMS part, or the id pattern)
    files: list[_File] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    is_module: bool = False       # a lone .py or .ipynb given as the submission itself


class _Context:
    """State of one `collect` call: its folders, settings and counters."""

    def __init__(self, root: Path, module: str, rx: re.Pattern, limits: Limits, *, bulk: bool = False):
        self.root, self.module, self.rx, self.limits, self.bulk = root, module, rx, limits, bulk
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
            bulk = self.bulk or (kind == "zip" and _is_lms_download(path, self.rx))
            limits = self.limits
            if bulk and kind == "zip":
                n = _student_count(path, self.rx, self.bulk)
                limits = replace(limits, max_total_bytes=limits.max_total_bytes * n, max_files=limits.max_files * n)
            dest = self.scratch()
            try:
                safe_extract(path, dest, limits, keep=_wanted)
            except IntakeError as e:
                return [_Pending(label, _stem(path.name), error=str(e))]
            if not bulk:    # one student's archive, whatever names it holds
                return [self.single(_unwrap(dest), label, _stem(path.name), [], 1)]
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
        ids = {e.name: _named_id(e.name, self.rx) for e in relevant}
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
            # several entries with one id are one student's attempts only where the LMS named them all;
            # anywhere else each is a claim of its own, and two claims are a conflict (see `finish`)
            batches = [members] if all(_lms_parts(e.name) for e in members) else [[e] for e in members]
            for batch in batches:
                out.append(self.entry_group(batch, sid, label, level))
        if notes and (out or singles):
            (out or singles)[0].notes[:0] = notes
        return sorted(out + singles, key=lambda p: p.source)

    def entry_group(self, members: list[os.DirEntry], sid: str, label: str, level: int) -> _Pending:
        """The entries of a folder or bulk download that carry the id `sid`, as one submission."""
        more = f" and {len(members) - 1} more" if len(members) > 1 else ""
        p = _Pending(f"{label}/{members[0].name}{more}", sid, named_id=sid)
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
        return p

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
        """Name every submission, then build its clean folder; two claims on one id are a conflict."""
        built = []
        for p in pending:
            try:
                built.append(self.build(p))
            except Exception as e:  # noqa: BLE001 - whatever one submission causes costs only itself
                built.append((self.fallback_id(p), p, None, "", _intake_failed(e)))
        claims: dict[str, list] = {}
        for b in built:
            claims.setdefault(b[0], []).append(b)
        out = []
        for sid, group in claims.items():
            if len(group) > 1:
                sources = [p.source for _, p, *_ in group]
                shown = ", ".join(_show("/".join(Path(s).parts[-2:]), 80) for s in sources[:4]) + (
                    ", ..." if len(sources) > 4 else "")
                out.append(Submission(
                    student=sid, source="; ".join(sources), folder=None, sha256="",
                    error=(f"{len(group)} submissions claim the id '{sid}' ({shown}), so none of them was graded; "
                           "keep the one that is this student's, or name the other after its owner, and grade "
                           "again."),
                    notes=[n for _, p, *_ in group for n in p.notes]))
                continue
            [(_, p, tmp, sha, error)] = group
            folder = None
            if tmp is not None:
                folder = self.root / "students" / sid
                tmp.rename(folder)
            out.append(Submission(student=sid, source=p.source, folder=folder, sha256=sha, error=error,
                                  notes=p.notes))
        return out

    def fallback_id(self, p: _Pending) -> str:
        return _sanitize_id(p.named_id or _named_id(p.fallback, self.rx) or _fallback_id(p.fallback))

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
        """The id from the names the instructor's side chose; a manifest (the student's own words) only adds a note."""
        sid = self.fallback_id(p)
        if manifest and _sanitize_id(manifest["student"]) != sid:
            p.notes.append(f"manifest.json names the student {_show(manifest['student'])}; the id '{sid}' from "
                           "the file name was used")
        return sid

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
