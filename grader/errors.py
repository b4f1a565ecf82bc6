"""Exceptions that carry one sentence for the user.

`UserError` ends a command with exit code 2 and its message, never a traceback.
The `StudentFault` family is raised in the trusted process when a call into the
sandbox goes wrong; the pytest plugin maps each one to a test status.
"""


class UserError(Exception):
    """A problem the user can fix (bad path, unknown week, broken archive)."""


class StudentFault(Exception):
    """A call into the student's code did not produce a usable answer."""

    status = "error"


class StudentError(StudentFault):
    """The student's code raised an exception."""


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
