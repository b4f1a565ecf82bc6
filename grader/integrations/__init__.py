"""Optional integrations with other grading systems."""
