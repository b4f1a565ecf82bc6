"""dlgrade: exact, sandboxed auto-grading for a PyTorch course.

Importing this package is cheap on purpose: nothing here imports torch, so that
`dlgrade --help` and `dlgrade --version` answer at once, and `import grader`
in a notebook costs nothing until `grader.check` runs.
"""

__version__ = "0.1.0"


def check(name: str | None = None, *, week: str | None = None):
    """In Jupyter or Colab: run the public tests on this notebook's `name` (a function, or a week).

    `grader.check("conv2d_forward")` grades the function as the notebook
    defines it; `grader.check("week04")` grades every function of the week.
    The result shows as a table (HTML in a notebook, text elsewhere).
    """
    from .notebook import check as check_notebook

    return check_notebook(name, week=week)
