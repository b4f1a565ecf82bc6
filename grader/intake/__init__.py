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

One job per module: `archives` (safe extraction, capped reads), `identities`
(student ids from names), `notebooks` (notebook to module), `assembly`
(`collect`: paths to one clean folder per student); `common` holds the error,
the limits and message helpers they share, and `scratch` the temporary folder
intake writes into (and removes when a killed run left it behind).
"""

from .archives import safe_extract
from .assembly import Submission, collect
from .common import IntakeError, Limits
from .identities import DEFAULT_ID_PATTERN
from .notebooks import notebook_to_module

__all__ = ["DEFAULT_ID_PATTERN", "IntakeError", "Limits", "Submission", "collect", "notebook_to_module",
           "safe_extract"]
