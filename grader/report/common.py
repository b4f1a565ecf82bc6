"""What every report shares: formats, status colours, the user error, and small
helpers that turn a result's numbers and tests into text."""

from __future__ import annotations

import math

from ..errors import UserError

FORMATS = ("text", "md", "html", "json")
SUMMARY_SCHEMA = "dlgrade.summary/1"
N_BINS = 10

# Colours of the test statuses (rich styles; the HTML page has its own CSS).
STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "timeout": "yellow",
                "crashed": "magenta", "banned": "magenta", "graded": "green", "not_gradable": "red"}


class ReportError(UserError):
    """A path given to a report does not hold readable dlgrade results."""


def _num(x) -> str:
    """A score as people write it: 17.0, 0.5, 0.25, 1.33."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    s = f"{x:.2f}".rstrip("0")
    return s + "0" if s.endswith(".") else s


def _pts(score, max_score) -> str:
    return f"{_num(score)}/{_num(max_score)}"


def _pct(score, max_score) -> str:
    """A percentage rounded down, so that 99.96% never reads as 100%."""
    if not max_score:
        return "0%"
    p = math.floor(float(score) / float(max_score) * 1000 + 1e-6) / 10
    return f"{p:g}%"


def _one_line(text, limit: int = 120) -> str:
    """The first non-empty line of a message, whitespace collapsed, cut at `limit`."""
    for line in str(text or "").splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def _flat(text) -> str:
    return " ".join(str(text or "").split())


def _tests(result: dict) -> list[dict]:
    return [t for t in result.get("tests") or [] if isinstance(t, dict)]


def _by_function(result: dict) -> dict[str, list[dict]]:
    """Tests grouped by function, in the order they ran."""
    groups: dict[str, list[dict]] = {}
    for t in _tests(result):
        groups.setdefault(str(t.get("function") or "(other)"), []).append(t)
    return groups


def _short_name(test: dict) -> str:
    """A test's name without its leading "function: ", shown under the function's heading."""
    name, fn = str(test.get("name", "")), str(test.get("function", ""))
    return name[len(fn) + 2:] if fn and name.startswith(fn + ": ") else name


def _sum(tests: list[dict], key: str) -> float:
    return sum(float(t.get(key) or 0.0) for t in tests)


_EIGHTHS = "▏▎▍▌▋▊▉"


def _block_bar(count: int, most: int, width: int = 40) -> str:
    """A bar of block characters, to an eighth of a character; any count > 0 shows."""
    if count <= 0 or most <= 0:
        return ""
    eighths = max(1, round(count / most * width * 8))
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8 - 1] if eighths % 8 else "")
