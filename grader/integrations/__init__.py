"""Bridges to other grading tools (nbgrader); each imports its tool only when used."""
