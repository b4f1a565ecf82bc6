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

from .common import FORMATS, N_BINS, STATUS_STYLE, SUMMARY_SCHEMA, ReportError, cleaned
from .htmlpage import _result_html, _summary_html
from .load import load_results
from .markdown import _result_md, _summary_md
from .stats import summarize
from .text import _export, _result_renderable, _summary_renderable

__all__ = ["FORMATS", "N_BINS", "STATUS_STYLE", "SUMMARY_SCHEMA", "ReportError", "load_results", "print_result",
           "print_summary", "render_result", "render_summary", "summarize"]


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


def render_summary(summary: dict, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """A class summary (from `summarize`) as text, md, html (with an SVG histogram) or json."""
    if fmt == "text":
        return _export(_summary_renderable(cleaned(summary)), color=color, width=width)
    if fmt == "md":
        return _summary_md(cleaned(summary))
    if fmt == "html":
        return _summary_html(cleaned(summary))
    if fmt == "json":
        return _json(summary)
    raise ReportError(f"unknown report format '{fmt}'; use one of {', '.join(FORMATS)}.")


def print_summary(summary: dict, console) -> None:
    """Print a class summary, in colour where `console` allows it."""
    console.print(_summary_renderable(cleaned(summary)))
