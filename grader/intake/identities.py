"""Student ids: from the names an LMS download gives its entries, the id pattern, or a file or folder name."""

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
# A name none of these fits takes its id from its own stem (file or folder name).
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


def _zip_student_count(archive: Path, rx: re.Pattern) -> int:
    """How many distinct ids the top-level names of a zip carry (an LMS bulk download holds many)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return 1
    tops = {n.replace("\\", "/").lstrip("/").split("/", 1)[0] for n in names}
    return len({i for i in (_match_id(t, rx) for t in tops) if i})
