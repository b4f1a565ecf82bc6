"""Bridges to other grading systems (nbgrader, Gradescope, otter-grader); each imports its tool only when used."""
