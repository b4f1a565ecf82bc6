"""Exceptions that carry one sentence for the user.

`UserError` ends a command with exit code 2 and its message, never a traceback.
The `StudentFault` family is raised in the trusted process when a call into the
sandbox goes wrong; the pytest plugin maps each one to a test status.
"""


class UserError(Exception):
    """A problem the user can fix (bad path, unknown week, broken archive)."""


# How the error of a not-gradable result opens when the grader itself failed on that submission
# (an exception in the trusted process, a grader process that died) rather than intake refusing it.
GRADER_FAILED = "the grader failed on this submission"


def grader_failed(exc: BaseException | str) -> str:
    """One sentence for a submission the trusted process could not grade; it never becomes a zero."""
    if isinstance(exc, RecursionError):
        return (f"{GRADER_FAILED}: its code is nested too deeply to read (RecursionError), such as one expression "
                "of thousands of terms; split it into smaller ones")
    what = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    what = " ".join(str(what).split())
    if len(what) > 200:
        what = what[:197] + "..."
    return f"{GRADER_FAILED} ({what}); it is not graded, look at it by hand"


class StudentFault(Exception):
    """A call into the student's code did not produce a usable answer."""

    status = "error"


class StudentError(StudentFault):
    """The student's code raised an exception; `exc_type` and `line` ("conv.py:42") say which and where."""

    def __init__(self, message: str, *, exc_type: str = "", line: str = ""):
        super().__init__(message)
        self.exc_type, self.line = exc_type, line


class StudentImportError(StudentFault):
    """The student's module could not be imported."""


class MissingFunction(StudentFault):
    """The module does not define a function a test calls."""


class InvalidAnswer(StudentFault):
    """The answer was not plain data (a Tensor subclass, an arbitrary object...)."""


class WorkerTimeout(StudentFault):
    status = "timeout"


class WorkerCrashed(StudentFault):
    status = "crashed"


class BannedCall(StudentFault):
    status = "banned"
