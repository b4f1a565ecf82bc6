"""Shared vocabulary of intake: its error, its limits, and how names and sizes read in one sentence."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError

MiB = 1 << 20
NOTEBOOK, MANIFEST = ".ipynb", "manifest.json"


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
