"""dlgrade: exact, sandboxed auto-grading for a PyTorch course.

Importing this package is cheap on purpose: nothing here imports torch, so that
`dlgrade --help` and `dlgrade --version` answer at once.
"""

__version__ = "0.1.0"
