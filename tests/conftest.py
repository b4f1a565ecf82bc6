"""Fixtures of the project's own tests; plain helpers live in support.py."""

from support import toy_source, toy_week  # noqa: F401 - fixtures
