"""The terminal renderer (rich): one student's table, the class summary."""

from __future__ import annotations

import io
import shutil

from .common import SLOW_FACTOR, STATUS_STYLE, _block_bar, _flat, _notes, _num, _pct, _pts, _slow, _slow_sentence, \
    _tests, _times
from .stats import _bins, _stats_line, _title


def _export(renderable, *, color: bool, width: int | None) -> str:
    from rich.console import Console

    width = width or shutil.get_terminal_size((100, 24)).columns
    console = Console(record=True, width=width, force_terminal=color, color_system="standard" if color else None,
                      file=io.StringIO(), highlight=False, emoji=False, force_jupyter=False)  # a string, never a display
    console.print(renderable)
    return console.export_text(styles=color)


def _result_renderable(result: dict):
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    status = str(result.get("status", ""))
    header = Text.assemble((str(result.get("student", "?")), "bold"), "  ", str(result.get("week", "")), "  ",
                           (f"score {_pts(result.get('score', 0), result.get('max_score', 0))}", "bold"),
                           f" ({_pct(result.get('score', 0), result.get('max_score', 0))})  ",
                           (status.replace("_", " "), STATUS_STYLE.get(status, "")))
    parts = [header]
    if result.get("error"):
        parts.append(Text(f"not gradable: {_flat(result['error'])}", style="red"))
    for note in _notes(result):
        parts.append(Text(f"note: {_flat(note)}", style="yellow"))
    for e in _slow(result):
        parts.append(Text(f"slow: {_slow_sentence(e)}", style="yellow"))
    tests = _tests(result)
    if tests:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("test", overflow="fold", ratio=3)
        table.add_column("points", justify="right", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("reason", overflow="fold", ratio=4)
        for t in tests:
            name = Text(str(t.get("name", "")))
            if t.get("visibility") == "hidden":
                name.append(" (hidden)", style="dim")
            st = str(t.get("status", ""))
            table.add_row(name, _pts(t.get("score", 0), t.get("max_score", 0)),
                          Text(st, style=STATUS_STYLE.get(st, "")),
                          Text("" if st == "passed" else str(t.get("message") or "").strip()))
        parts.append(table)
    return Group(*parts)


def _table(title: str):
    from rich import box
    from rich.table import Table

    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def _mistakes_renderables(summary: dict, students: bool) -> list:
    """Per function, its mistakes and how many students made each (their ids with `students`)."""
    from rich.text import Text

    parts = []
    for m in summary.get("mistakes") or []:
        rows = m.get("named", []) + m.get("unnamed", [])
        if not rows:
            continue
        t = _table(f"common mistakes: {m['function']}")
        t.add_column("mistake (named first, then by kind)", overflow="fold", ratio=3)
        t.add_column("students", justify="right", no_wrap=True)
        if students:
            t.add_column("ids", overflow="fold", ratio=2)
        for e in rows:
            cells = [Text(str(e["text"]), style="" if "key" in e else "dim"), str(e["count"])]
            t.add_row(*cells, *([Text(", ".join(e["students"]))] if students else []))
        parts += [t, Text("")]
    return parts


def _students_renderable(summary: dict):
    from rich.text import Text

    functions = list(dict.fromkeys(fn for s in summary.get("students") or [] for fn in s["functions"]))
    t = _table("students")
    t.add_column("student", no_wrap=True)
    t.add_column("score", justify="right", no_wrap=True)
    t.add_column("status", no_wrap=True)
    most = {fn: max(s["functions"][fn][1] for s in summary["students"] if fn in s["functions"]) for fn in functions}
    for fn in functions:  # a function's points without its maximum, which the header says
        t.add_column(f"{fn} /{_num(most[fn])}", justify="right", overflow="fold")
    for s in summary.get("students") or []:
        cells = [_num(s["functions"][fn][0]) + (" slow" if fn in s.get("slow", []) else "") if fn in s["functions"]
                 else "" for fn in functions]
        t.add_row(Text(str(s["student"])), _pts(s["score"], s["max_score"]),
                  Text(str(s["status"]).replace("_", " "), style=STATUS_STYLE.get(s["status"], "")), *cells)
    return t


def _slow_renderable(summary: dict):
    from rich.text import Text

    t = _table(f"slow code (more than {SLOW_FACTOR:g}× the reference's time on the same inputs)")
    for col in ("student", "function", "student s", "reference s", "slower"):
        t.add_column(col, justify="right" if col.endswith(("s", "slower")) and col != "student" else "left",
                     no_wrap=True)
    for e in summary["slow"]:
        t.add_row(Text(str(e["student"])), Text(str(e["function"])), f"{e['student_s']:.3g}",
                  f"{e['reference_s']:.2g}", _times(e["ratio"]))
    return t


def _summary_renderable(summary: dict, students: bool = False):
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts = [Text(_title(summary), style="bold"), Text(_stats_line(summary)), Text("")]
    bins = _bins(summary)
    most = max((c for _, c in bins), default=0)
    label_w = max((len(lbl) for lbl, _ in bins), default=0)
    hist = Text("score distribution\n", style="bold")
    for lbl, c in bins:
        hist.append(f"  {lbl:>{label_w}} │")
        hist.append(_block_bar(c, most), style="cyan")
        hist.append(f" {c}\n")
    parts.append(hist)
    if summary.get("tests"):
        t = Table(title="tests, lowest pass rate first", title_justify="left", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False)
        t.add_column("test", overflow="fold")
        t.add_column("passed", justify="right", no_wrap=True)
        t.add_column("rate", justify="right", no_wrap=True)
        t.add_column("other outcomes", overflow="fold")
        for e in summary["tests"]:
            rate = e["pass_rate"]
            style = "green" if rate >= 0.8 else "yellow" if rate >= 0.5 else "red"
            other = ", ".join(f"{k} {v}" for k, v in sorted(e.get("statuses", {}).items()) if k != "passed")
            t.add_row(Text(str(e["name"])), f"{e['passed']}/{e['n']}", Text(f"{rate:.0%}", style=style),
                      Text(other))
        parts += [t, Text("")]
    if summary.get("functions"):
        t = Table(title="functions", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        t.add_column("function")
        t.add_column("mean", justify="right", no_wrap=True)
        t.add_column("of max", justify="right", no_wrap=True)
        for f in summary["functions"]:
            t.add_row(Text(str(f["function"])), f"{_pts(f['mean'], f['max_score'])}", _pct(f["mean"], f["max_score"]))
        parts += [t, Text("")]
    parts += _mistakes_renderables(summary, students)
    if summary.get("slow"):
        parts += [_slow_renderable(summary), Text("")]
    if summary.get("review"):
        t = Table(title="held for review (points withheld until a teacher has looked)", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        t.add_column("student", no_wrap=True)
        t.add_column("function", no_wrap=True)
        t.add_column("why", overflow="fold")
        for e in summary["review"]:
            t.add_row(Text(str(e["student"])), Text(str(e["function"])), Text(str(e["message"])))
        parts += [t, Text("")]
    if summary.get("notes"):
        notes = Text("notes from intake\n", style="bold yellow")
        for student, note in summary["notes"]:
            notes.append(f"  {student}: {_flat(note)}\n")
        parts.append(notes)
    if summary.get("not_gradable"):
        ng = Text("not gradable\n", style="bold red")
        for student, error in summary["not_gradable"]:
            ng.append(f"  {student}: {_flat(error)}\n")
        parts.append(ng)
    if summary.get("students"):
        parts += [Text(""), _students_renderable(summary)]
    return Group(*parts)
