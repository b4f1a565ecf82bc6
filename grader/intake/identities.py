"""Student ids: from the names an LMS download gives its entries, the id pattern, or a file or folder name.

An id comes only from names the instructor's side chose: the LMS's own part
of a download entry's name, the name of an entry in a folder the instructor
gave, or of a path given on the command line. Never from what a student
controls: a manifest, the names inside a student's archive, or the file-name
part a student typed into an LMS entry (`doejane_12345_67890_<this part>`).
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

from .archives import TAR_SUFFIXES, ZIP_SUFFIXES
from .common import NOTEBOOK, IntakeError

# The id in an entry name of a bulk download, tried in this order:
#   1. a course id such as au123456 (letters "au", 4 or more digits), anywhere in the name;
#   2. Brightspace "<ids> - <username> - <Full Name> - <date> - <file>": the username;
#   3. Canvas "<login>_[LATE_]<user id>_<submission id>_<file>": the user id;
#   4. Moodle "<Full Name>_<participant id>_assignsubmission_<plugin>_": the participant id.
# In an entry name an LMS wrote, only the LMS's part (before the student's own file name) is searched.
# A name none of these fits takes its id from its own stem (file or folder name), less the `weekNN-` of a
# `dlgrade submit` zip.
DEFAULT_ID_PATTERN = (
    r"(?i)^(?:"
    r".*?(?<![a-z0-9])(?=au\d{4,}(?!\d))"
    r"|\d+-\d+ - (?=[^ ]+ - )"
    r"|[^_/]+?_(?:late_)?(?=\d+_\d+_)"
    r"|[^/]+?_(?=\d+_assignsubmission_)"
    r")(?P<student>au\d{4,}|\d+(?=_)|[^ ]+(?= - ))"
)

ID_MAX = 64

_BRIGHTSPACE_HEAD = re.compile(r"^\d+-\d+$")
_BRIGHTSPACE_DATE = "%b %d, %Y %I%M %p"
_CANVAS_NAME = re.compile(r"(?i)^[^_/]+?_(?:late_)?\d+_\d+_(?P<file>.+)$")
_MOODLE_NAME = re.compile(r"(?i)^.+?_\d+_assign(?:submission|feedback)_[a-z]+_(?P<file>.*)$")


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


def _lms_parts(name: str) -> tuple[str, str] | None:
    """(the LMS's part, the student's own file name) of an entry name in a known LMS's format; else None."""
    parts = name.split(" - ", 4)
    if len(parts) == 5 and _BRIGHTSPACE_HEAD.match(parts[0]):
        return name[: len(name) - len(parts[4])], parts[4]
    for rx in (_CANVAS_NAME, _MOODLE_NAME):
        m = rx.match(name)
        if m:
            return name[: m.start("file")], m.group("file")
    return None


def _named_id(name: str, rx: re.Pattern) -> str | None:
    """The id a name the instructor's side chose carries: in an LMS entry name, only in the LMS's part."""
    lms = _lms_parts(name)
    return _match_id(lms[0] if lms else name, rx)


def _fallback_id(stem: str) -> str:
    """The id of a name that carries none: its stem, less the `weekNN-` of a `dlgrade submit` zip."""
    m = _SUBMIT_STEM.fullmatch(stem)
    return m.group(1) if m else stem


_SUBMIT_STEM = re.compile(r"(?i)week\d{1,2}-([A-Za-z0-9._-]{1,64})")


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


def _top_names(archive: Path) -> list[str]:
    """The top-level names of a zip (hidden and junk entries left out); [] when it cannot be read."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return []
    tops = {n.replace("\\", "/").lstrip("/").split("/", 1)[0] for n in names}
    return sorted(t for t in tops if t and not t.startswith(".") and t not in ("__MACOSX", "index.html"))


def _is_lms_download(archive: Path, rx: re.Pattern) -> bool:
    """Whether a zip given on the command line is an LMS bulk download rather than one student's zip.

    Every top-level entry must be named in a known LMS's format, and the zip's
    own name must name no student (a student's zip renamed after its owner is
    that student's, whatever it holds).
    """
    tops = _top_names(archive)
    return bool(tops) and all(_lms_parts(t) for t in tops) and _named_id(_stem(archive.name), rx) is None


def _student_count(archive: Path, rx: re.Pattern, bulk: bool) -> int:
    """How many students a bulk zip holds: distinct ids among its top-level names (all its entries if `bulk`)."""
    tops = _top_names(archive)
    ids = {i for i in (_named_id(t, rx) for t in tops) if i}
    return max(len(ids), len(tops) if bulk else 0, 1)
