"""What every report shares: formats, status colours, the user error, and small
helpers that turn a result's numbers and tests into text."""

from __future__ import annotations

import math
import re

from ..errors import UserError

FORMATS = ("text", "md", "html", "json")
SUMMARY_SCHEMA = "dlgrade.summary/1"
N_BINS = 10

# Colours of the test statuses (rich styles; the HTML page has its own CSS).
STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "timeout": "yellow",
                "crashed": "magenta", "banned": "magenta", "review": "yellow", "graded": "green",
                "not_gradable": "red"}

# Characters a student's message must never carry into a terminal or a file as they are:
# control characters (clear screen, cursor moves, OSC 52 clipboard writes, a carriage return
# that overwrites a line with a fake score), bidirectional overrides, and lone surrogates
# (which no UTF-8 file can hold). Newlines and tabs stay.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe_text(s: str) -> str:
    """`s` with every unsafe character written as its escape (`\\x1b`, `\\u202e`, `\\udcff`)."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii")
                       if ord(m.group()) < 0xD800 or ord(m.group()) > 0xDFFF else f"\\u{ord(m.group()):04x}", s)


def cleaned(obj):
    """A copy of a result or summary whose strings are all `safe_text`."""
    if isinstance(obj, str):
        return safe_text(obj)
    if isinstance(obj, dict):
        return {cleaned(k): cleaned(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cleaned(v) for v in obj)
    return obj


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


def _flat(text) -> str:
    return " ".join(str(text or "").split())


def _notes(result: dict) -> list[str]:
    """What intake noted about the submission (a cell dropped, a file renamed)."""
    notes = result.get("notes") or []
    return [str(n) for n in notes] if isinstance(notes, list) else [str(notes)]


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


# Slow code: a function is flagged when the student's calls took more than SLOW_FACTOR times the
# reference's on the same inputs, and more than SLOW_FLOOR_S in all (so microsecond noise never flags).
SLOW_FACTOR = 50.0
SLOW_FLOOR_S = 0.05

# What each kind of failure is called in a report (see `grader.plugin.failure_data`).
KIND_LABELS = {
    "type": "returns the wrong kind of object", "shape": "wrong shape or length", "dtype": "wrong dtype",
    "values": "wrong values", "mutated": "modifies its input", "check": "fails one of the suite's checks",
    "exception": "raises", "not_implemented": "not implemented (the stub's NotImplementedError)",
    "timeout": "times out", "crashed": "crashes the worker", "banned": "uses a banned call",
    "import": "the module does not import", "missing": "the function is missing",
    "invalid": "returns something that is not plain data", "error": "the test could not complete",
    "failed": "fails (no detail recorded)",
}


def _slow(result: dict) -> list[dict]:
    """The functions of a result whose calls were more than SLOW_FACTOR times slower than the reference's."""
    timing = result.get("timing")
    out = []
    for fn, t in (timing.items() if isinstance(timing, dict) else ()):
        try:
            s, r = float(t["student_s"]), float(t["reference_s"])
        except (KeyError, TypeError, ValueError):
            continue
        if s > SLOW_FLOOR_S and s > SLOW_FACTOR * r:
            out.append({"function": str(fn), "student_s": s, "reference_s": r,
                        "ratio": s / r if r > 0 else float("inf")})
    return out


def _times(x: float) -> str:
    return "∞×" if math.isinf(x) else f"{x:.0f}×"


def _slow_sentence(e: dict) -> str:
    """What a student reads about one slow function."""
    return (f"{e['function']} took {e['student_s']:.3g} s where the reference takes {e['reference_s']:.2g} s on the "
            f"same inputs ({_times(e['ratio'])} slower): vectorise its loops before a time limit fails it")
