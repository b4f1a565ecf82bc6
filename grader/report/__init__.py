"""Reports rendered from result dicts: terminal table, Markdown, HTML and JSON.

Everything here reads the `dlgrade.result/1` dicts that `dlgrade grade` writes
(see `grader.result`) and returns a string; nothing is printed from inside the
grading logic. Two kinds of report:

- one student's feedback: `render_result(result, fmt)`;
- a class summary: `render_summary(summarize(results), fmt)`.

One module per job: `load` reads results from disk, `stats` computes the class
statistics, and `text`, `markdown` and `htmlpage` render each format.

Messages come from student code and from comparisons of its output, so every
format escapes them (HTML entities, Markdown code spans with `|` escaped) and
the HTML pages load nothing from outside: inline CSS and SVG only, under a
Content-Security-Policy that forbids scripts.

No torch here: `dlgrade report` must answer at once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .common import FORMATS, N_BINS, STATUS_STYLE, SUMMARY_SCHEMA, ReportError, cleaned
from .htmlpage import _result_html, _summary_html
from .load import load_results
from .markdown import _result_md, _summary_md
from .stats import common_mistakes, summarize
from .text import _export, _result_renderable, _summary_renderable

__all__ = ["FORMATS", "N_BINS", "STATUS_STYLE", "SUMMARY_SCHEMA", "ReportError", "common_mistakes", "feedback_name",
           "load_results", "print_result", "print_summary", "render_result", "render_summary", "summarize",
           "write_per_student"]


def render_result(result: dict, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """One student's feedback as text (a table), md, html (one self-contained page) or json.

    `color` adds ANSI colours to the text format and `width` sets its width
    (default: the terminal's, else 100 columns); other formats ignore both.
    Control characters, bidirectional overrides and lone surrogates in any string
    of the result are shown as escapes (`\\x1b`), never passed on raw.
    """
    if fmt == "text":
        return _export(_result_renderable(cleaned(result)), color=color, width=width)
    if fmt == "md":
        return _result_md(cleaned(result))
    if fmt == "html":
        return _result_html(cleaned(result))
    if fmt == "json":
        return _json(result)
    raise ReportError(f"unknown report format '{fmt}'; use one of {', '.join(FORMATS)}.")


def print_result(result: dict, console) -> None:
    """Print one student's feedback table, in colour where `console` allows it."""
    console.print(_result_renderable(cleaned(result)))


def _json(data) -> str:
    # a lone surrogate becomes its \\u escape, which JSON reads back as the same string
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def render_summary(summary: dict, fmt: str, *, color: bool = False, width: int | None = None,
                   students: bool = False, links: str | None = None) -> str:
    """A class summary (from `summarize`) as text, md, html (with an SVG histogram) or json.

    students: the text format lists the students' ids of each common mistake (md and
    html always do). links: the folder, relative to the HTML page, holding each
    student's page `<student>.html` (`write_per_student`); without it, a student's
    id links to their row in the page's own student table.
    """
    if fmt == "text":
        return _export(_summary_renderable(cleaned(summary), students), color=color, width=width)
    if fmt == "md":
        return _summary_md(cleaned(summary))
    if fmt == "html":
        return _summary_html(cleaned(summary), links)
    if fmt == "json":
        return _json(summary)
    raise ReportError(f"unknown report format '{fmt}'; use one of {', '.join(FORMATS)}.")


def print_summary(summary: dict, console, *, students: bool = False) -> None:
    """Print a class summary, in colour where `console` allows it (`students`: see `render_summary`)."""
    console.print(_summary_renderable(cleaned(summary), students))


FEEDBACK_SUFFIX = {"html": ".html", "md": ".md", "text": ".txt", "json": ".json"}
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def feedback_name(student: str, fmt: str) -> str:
    """The file name of a student's feedback page; ids intake did not make (a hand-edited result) are refused."""
    if not _SAFE_ID.fullmatch(student) or len(student) > 200:
        raise ReportError(f"the student id {student!r} cannot name a file; give it letters, digits, '.', '_' "
                          "and '-' only (as intake does) and grade again.")
    return student + FEEDBACK_SUFFIX[fmt]


def write_per_student(results: list[dict], folder: Path, fmt: str, *, class_report: Path | None = None) -> list[Path]:
    """Write each student's feedback (`render_result`) into `folder` as `<student>.<ext>`; the paths written.

    Hidden tests keep the messages their result holds, which never show expected values.
    `class_report`: where the class report goes, which must not be any student's page.
    """
    from ..gradebook import atomic_write_text

    if fmt not in FEEDBACK_SUFFIX:
        raise ReportError(f"unknown report format '{fmt}'; use one of {', '.join(FORMATS)}.")
    names = [feedback_name(str(r.get("student")), fmt) for r in results]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ReportError(f"two results claim the same student ({', '.join(twice)}); keep one and report again.")
    if class_report is not None:
        taken = [n for n in names if (folder / n).resolve() == Path(class_report).resolve()]
        if taken:
            raise ReportError(f"the class report {class_report} would replace the feedback page of student "
                              f"{taken[0].rsplit('.', 1)[0]}; write it outside {folder} or under another name.")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, r in zip(names, results):
        atomic_write_text(folder / name, render_result(r, fmt, width=100))
        written.append(folder / name)
    return written
