"""Reports rendered from result dicts: terminal table, Markdown, HTML and JSON.

Everything here reads the `dlgrade.result/1` dicts that `dlgrade grade` writes
(see `grader.result`) and returns a string; nothing is printed from inside the
grading logic. Two kinds of report:

- one student's feedback: `render_result(result, fmt)`;
- a class summary: `render_summary(summarize(results), fmt)`.

Messages come from student code and from comparisons of its output, so every
format escapes them (HTML entities, Markdown code spans with `|` escaped) and
the HTML pages load nothing from outside: inline CSS and SVG only, under a
Content-Security-Policy that forbids scripts.

No torch here: `dlgrade report` must answer at once.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
import shutil
import statistics
from pathlib import Path

from .errors import UserError
from .result import SCHEMA

FORMATS = ("text", "md", "html", "json")
SUMMARY_SCHEMA = "dlgrade.summary/1"
N_BINS = 10

# Colours of the test statuses (rich styles; the HTML page has its own CSS).
STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "timeout": "yellow",
                "crashed": "magenta", "banned": "magenta", "graded": "green", "not_gradable": "red"}


class ReportError(UserError):
    """A path given to a report does not hold readable dlgrade results."""


# --------------------------------------------------------------------------- loading

def load_results(path: Path) -> list[dict]:
    """The results in a result JSON file, or in a folder of them, sorted by student.

    In a folder, hidden files and JSON files that are not results (another
    schema, Gradescope's `results.json`) are skipped; a file given by name
    must be a result. A missing path or a file that is not valid JSON raises ReportError.
    """
    path = Path(path)
    if not path.exists():
        raise ReportError(f"{path} does not exist; give a result JSON file or the folder "
                          "`dlgrade grade` wrote (OUTDIR/WEEK).")
    if path.is_file():
        result = _read_json(path)
        if not _is_result(result):
            raise ReportError(f"{path} is not a dlgrade result (it lacks \"schema\": \"{SCHEMA}\"); "
                              "give a file that `dlgrade grade` or `dlgrade check --json` wrote.")
        return [_checked(result, path)]
    results = []
    for f in sorted(path.glob("*.json")):
        if f.name.startswith(".") or not f.is_file():  # hidden: another tool's partial write
            continue
        data = _read_json(f)
        if _is_result(data):
            results.append(_checked(data, f))
    return sorted(results, key=lambda r: str(r["student"]))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ReportError(f"{path} is not valid JSON ({e.msg} at line {e.lineno}); "
                          "delete it or grade that student again.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ReportError(f"{path} cannot be read ({e}); check its permissions and encoding.") from None


def _is_result(data) -> bool:
    return isinstance(data, dict) and data.get("schema") == SCHEMA


def _checked(result: dict, path: Path) -> dict:
    """The result, if it holds the keys every report reads."""
    missing = [k for k in ("student", "score", "max_score", "status") if k not in result]
    if missing:
        raise ReportError(f"{path} is a damaged result (no {', '.join(missing)}); grade that student again.")
    if not isinstance(result.get("tests", []), list):
        raise ReportError(f"{path} is a damaged result (\"tests\" is not a list); grade that student again.")
    return result


# --------------------------------------------------------------------------- small helpers

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


# --------------------------------------------------------------------------- one result

def render_result(result: dict, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """One student's feedback as text (a table), md, html (one self-contained page) or json.

    `color` adds ANSI colours to the text format and `width` sets its width
    (default: the terminal's, else 100 columns); other formats ignore both.
    """
    if fmt == "text":
        return _export(_result_renderable(result), color=color, width=width)
    if fmt == "md":
        return _result_md(result)
    if fmt == "html":
        return _result_html(result)
    if fmt == "json":
        return json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    raise ReportError(f"unknown report format '{fmt}'; use one of {', '.join(FORMATS)}.")


def print_result(result: dict, console) -> None:
    """Print one student's feedback table, in colour where `console` allows it."""
    console.print(_result_renderable(result))


def _export(renderable, *, color: bool, width: int | None) -> str:
    from rich.console import Console

    width = width or shutil.get_terminal_size((100, 24)).columns
    console = Console(record=True, width=width, force_terminal=color, color_system="standard" if color else None,
                      file=io.StringIO(), highlight=False, emoji=False)
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
                          Text("" if st == "passed" else _one_line(t.get("message"))))
        parts.append(table)
    return Group(*parts)


# Markdown: text outside code spans gets every character that could start
# markup backslash-escaped (CommonMark escapes any ASCII punctuation, so
# `\<script>` renders as text); messages go into code spans, which renderers
# never read as HTML, with `|` escaped for GFM tables.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#!()])")


def _md_text(s) -> str:
    return _MD_SPECIAL.sub(r"\\\1", _flat(s))


def _md_code(s) -> str:
    """A one-line code span that survives a GFM table cell."""
    s = _flat(s)
    if not s:
        return ""
    # GFM splits cells at a pipe preceded by an even number of backslashes;
    # make every run odd so that no message can end its cell early.
    s = re.sub(r"(\\*)\|", lambda m: m.group(1) + ("\\" if len(m.group(1)) % 2 == 0 else "") + "|", s)
    ticks = "`" * (max((len(r) for r in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or (s.startswith(" ") and s.endswith(" ")) else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def _md_fence(s) -> str:
    """A fenced code block holding `s` verbatim."""
    s = str(s or "").rstrip("\n")
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", s)), default=0) + 1)
    return f"{fence}text\n{s}\n{fence}"


def _result_md(result: dict) -> str:
    score, max_score = result.get("score", 0), result.get("max_score", 0)
    out = [f"# Feedback: {_md_text(result.get('student', '?'))}, {_md_text(result.get('week', ''))}", "",
           f"**Score: {_num(score)} / {_num(max_score)} ({_md_text(_pct(score, max_score))})**, "
           f"{_md_text(str(result.get('status', '')).replace('_', ' '))}", ""]
    if result.get("error"):
        out += [f"> **Not gradable:** {_md_text(result['error'])}", ""]
    groups = _by_function(result)
    if groups:
        out += ["| Function | Points | Passed |", "|---|---:|---:|"]
        for fn, tests in groups.items():
            passed = sum(t.get("status") == "passed" for t in tests)
            out.append(f"| {_md_text(fn)} | {_pts(_sum(tests, 'score'), _sum(tests, 'max_score'))} "
                       f"| {passed}/{len(tests)} |")
        out.append("")
    for fn, tests in groups.items():
        out += [f"## {_md_text(fn)} ({_pts(_sum(tests, 'score'), _sum(tests, 'max_score'))})", "",
                "| Test | Points | Status | Message |", "|---|---:|---|---|"]
        details = []
        for t in tests:
            name = _md_text(_short_name(t)) + (" *(hidden)*" if t.get("visibility") == "hidden" else "")
            msg = str(t.get("message") or "")
            out.append(f"| {name} | {_pts(t.get('score', 0), t.get('max_score', 0))} "
                       f"| {_md_text(t.get('status', ''))} | {_md_code(_one_line(msg, 200))} |")
            if len(msg.strip().splitlines()) > 1 or len(_flat(msg)) > 200:
                details += [f"**{_md_text(_short_name(t))}**", "", _md_fence(msg), ""]
        out.append("")
        out += details
    meta = [f"graded {result['graded_at']}" if result.get("graded_at") else "",
            f"dlgrade {result['dlgrade_version']}" if result.get("dlgrade_version") else "",
            f"submission sha256 {str(result['submission_sha256'])[:12]}" if result.get("submission_sha256") else ""]
    meta = [m for m in meta if m]
    if meta:
        out += ["---", "", "*" + _md_text(", ".join(meta)) + "*", ""]
    return "\n".join(out).rstrip("\n") + "\n"


# HTML: every string from a result passes through `_h`; class names come only
# from the fixed status list, so no result can inject markup or styles.
def _h(s) -> str:
    return html.escape(str(s if s is not None else ""), quote=True)


def _cls(status) -> str:
    return "st-" + (status if status in STATUS_STYLE else "other")


_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --odd: #8250df; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       margin: 0; background: #f6f8fa; }
main { max-width: 60rem; margin: 2rem auto; padding: 1.5rem 2rem; background: #fff;
       border: 1px solid var(--line); border-radius: 8px; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; display: flex; justify-content: space-between; }
.score { font-size: 1.25rem; font-weight: 600; margin: .25rem 0; }
.muted, .tag { color: var(--muted); font-weight: normal; }
.tag { font-size: .8em; border: 1px solid var(--line); border-radius: 4px; padding: 0 .3em; margin-left: .4em; }
.bar { height: .6rem; background: #eaeef2; border-radius: 4px; overflow: hidden; margin: .5rem 0 1rem; }
.bar > div { height: 100%; background: var(--ok); }
.error { border-left: 4px solid var(--bad); background: #ffebe9; padding: .5rem .75rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { font-size: .85em; color: var(--muted); }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word;
      font: .85em/1.4 ui-monospace, Menlo, Consolas, monospace; }
.status { font-weight: 600; white-space: nowrap; }
.st-passed, .st-graded { color: var(--ok); } .st-failed, .st-error, .st-not_gradable { color: var(--bad); }
.st-timeout { color: var(--warn); } .st-crashed, .st-banned, .st-other { color: var(--odd); }
footer { margin-top: 2rem; font-size: .85em; color: var(--muted); }
svg text { font: 11px system-ui, sans-serif; fill: #1f2328; }
"""


def _page(title: str, body: list[str]) -> str:
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{_h(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", "<main>",
        *body, "</main>", "</body>", "</html>", ""])


def _bar(fraction: float) -> str:
    width = max(0.0, min(100.0, 100.0 * fraction))
    return f'<div class="bar"><div style="width: {width:.1f}%"></div></div>'


def _result_html(result: dict) -> str:
    student, week = result.get("student", "?"), result.get("week", "")
    score, max_score = result.get("score", 0), result.get("max_score", 0)
    status = str(result.get("status", ""))
    body = [f"<h1>Feedback for {_h(student)} <span class=\"muted\">{_h(week)}</span></h1>",
            f'<p class="score">{_h(_num(score))} / {_h(_num(max_score))} '
            f'<span class="muted">({_h(_pct(score, max_score))})</span> '
            f'<span class="status {_cls(status)}">{_h(status.replace("_", " "))}</span></p>',
            _bar(float(score) / float(max_score) if max_score else 0.0)]
    if result.get("error"):
        body.append(f'<p class="error"><strong>Not gradable:</strong> {_h(result["error"])}</p>')
    for fn, tests in _by_function(result).items():
        body += [f"<section><h2><span>{_h(fn)}</span> <span class=\"muted\">"
                 f"{_h(_pts(_sum(tests, 'score'), _sum(tests, 'max_score')))}</span></h2>",
                 '<table><thead><tr><th>Test</th><th class="num">Points</th><th>Status</th><th>Feedback</th>'
                 "</tr></thead><tbody>"]
        for t in tests:
            st = str(t.get("status", ""))
            tag = ' <span class="tag">hidden</span>' if t.get("visibility") == "hidden" else ""
            msg = str(t.get("message") or "")
            body.append(f"<tr><td>{_h(_short_name(t))}{tag}</td>"
                        f'<td class="num">{_h(_pts(t.get("score", 0), t.get("max_score", 0)))}</td>'
                        f'<td><span class="status {_cls(st)}">{_h(st)}</span></td>'
                        f"<td>{'<pre>' + _h(msg) + '</pre>' if msg.strip() else ''}</td></tr>")
        body.append("</tbody></table></section>")
    meta = [f"graded {result['graded_at']}" if result.get("graded_at") else "",
            f"dlgrade {result['dlgrade_version']}" if result.get("dlgrade_version") else "",
            f"submission sha256 {str(result['submission_sha256'])[:12]}" if result.get("submission_sha256") else ""]
    if any(meta):
        body.append(f"<footer>{_h(', '.join(m for m in meta if m))}</footer>")
    return _page(f"{week} feedback: {student}", body)


# --------------------------------------------------------------------------- class summary

def _r(x: float) -> float:
    return round(float(x), 6)


def summarize(results: list[dict]) -> dict:
    """Class statistics of a list of results, as plain data (JSON-ready).

    Score statistics and the histogram cover every student, a not-gradable
    submission counting at its recorded score (0): they describe the grades.
    Test pass rates and function means cover the graded submissions only:
    they describe how hard each exercise was. Tests are listed lowest pass
    rate first, so the ones most students fail come on top.
    """
    graded = [r for r in results if r.get("status") == "graded"]
    scores = [float(r.get("score") or 0.0) for r in results]
    max_score = max((float(r.get("max_score") or 0.0) for r in (graded or results)), default=0.0)

    width = max_score / N_BINS
    edges = [_r(i * width) for i in range(N_BINS + 1)]
    counts = [0] * N_BINS
    for s in scores:
        i = int(s / width + 1e-9) if width > 0 else 0
        counts[min(max(i, 0), N_BINS - 1)] += 1

    tests: dict[tuple[str, str], dict] = {}
    fn_max: dict[str, float] = {}    # a function's points: each of its tests counted once
    fn_total: dict[str, float] = {}  # its points earned, summed over the graded results
    for r in graded:
        for t in _tests(r):
            name, fn = str(t.get("name", "")), str(t.get("function") or "(other)")
            score, st = float(t.get("score") or 0.0), str(t.get("status", ""))
            e = tests.get((fn, name))
            if e is None:
                e = tests[(fn, name)] = {"name": name, "function": fn, "visibility": t.get("visibility"),
                                         "max_score": _r(t.get("max_score") or 0.0), "n": 0, "passed": 0,
                                         "mean_score": 0.0, "statuses": {}}
                fn_max[fn] = fn_max.get(fn, 0.0) + float(t.get("max_score") or 0.0)
            e["n"] += 1
            e["passed"] += st == "passed"
            e["mean_score"] += score  # a total until divided below
            e["statuses"][st] = e["statuses"].get(st, 0) + 1
            fn_total[fn] = fn_total.get(fn, 0.0) + score
    test_rows = list(tests.values())
    for e in test_rows:
        e["pass_rate"] = _r(e["passed"] / e["n"])
        e["mean_score"] = _r(e["mean_score"] / e["n"])
    test_rows.sort(key=lambda e: (e["pass_rate"], e["function"], e["name"]))
    # a graded result without some function's tests counts 0 for it
    fn_rows = [{"function": fn, "mean": _r(fn_total[fn] / len(graded)), "max_score": _r(fn_max[fn]),
                "n": len(graded)} for fn in fn_max]

    weeks = sorted({str(r.get("week")) for r in results if r.get("week")})
    return {
        "schema": SUMMARY_SCHEMA, "weeks": weeks,
        "n": len(results), "n_graded": len(graded), "n_not_gradable": len(results) - len(graded),
        "not_gradable": [(str(r.get("student")), str(r.get("error") or "")) for r in results
                         if r.get("status") != "graded"],
        "max_score": _r(max_score),
        "mean": _r(statistics.fmean(scores)) if scores else None,
        "median": _r(statistics.median(scores)) if scores else None,
        "min": _r(min(scores)) if scores else None,
        "max": _r(max(scores)) if scores else None,
        "histogram": {"edges": edges, "counts": counts},
        "tests": test_rows,
        "functions": fn_rows,
    }


def render_summary(summary: dict, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """A class summary (from `summarize`) as text, md, html (with an SVG histogram) or json."""
    if fmt == "text":
        return _export(_summary_renderable(summary), color=color, width=width)
    if fmt == "md":
        return _summary_md(summary)
    if fmt == "html":
        return _summary_html(summary)
    if fmt == "json":
        return json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    raise ReportError(f"unknown report format '{fmt}'; use one of {', '.join(FORMATS)}.")


def print_summary(summary: dict, console) -> None:
    """Print a class summary, in colour where `console` allows it."""
    console.print(_summary_renderable(summary))


def _title(summary: dict) -> str:
    weeks = ", ".join(summary.get("weeks") or []) or "results"
    return (f"{weeks}: {summary['n']} student{'' if summary['n'] == 1 else 's'}, {summary['n_graded']} graded, "
            f"{summary['n_not_gradable']} not gradable")


def _stats_line(summary: dict) -> str:
    if summary.get("mean") is None:
        return "no scores"
    return (f"score out of {_num(summary['max_score'])}: mean {_num(summary['mean'])}, "
            f"median {_num(summary['median'])}, min {_num(summary['min'])}, max {_num(summary['max'])}")


def _bins(summary: dict) -> list[tuple[str, int]]:
    """(label, count) per histogram bin; the last bin includes full marks."""
    e, c = summary["histogram"]["edges"], summary["histogram"]["counts"]
    def edge(x) -> str:
        return _num(x).removesuffix(".0")

    return [(f"{edge(e[i])}–{edge(e[i + 1])}", c[i]) for i in range(len(c))]


_EIGHTHS = "▏▎▍▌▋▊▉"


def _block_bar(count: int, most: int, width: int = 40) -> str:
    """A bar of block characters, to an eighth of a character; any count > 0 shows."""
    if count <= 0 or most <= 0:
        return ""
    eighths = max(1, round(count / most * width * 8))
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8 - 1] if eighths % 8 else "")


def _summary_renderable(summary: dict):
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
    if summary.get("not_gradable"):
        ng = Text("not gradable\n", style="bold red")
        for student, error in summary["not_gradable"]:
            ng.append(f"  {student}: {_flat(error)}\n")
        parts.append(ng)
    return Group(*parts)


def _summary_md(summary: dict) -> str:
    out = [f"# {_md_text(_title(summary))}", "", _md_text(_stats_line(summary)), "",
           "## Score distribution", "", "| Score | Students | |", "|---|---:|---|"]
    bins = _bins(summary)
    most = max((c for _, c in bins), default=0)
    out += [f"| {lbl} | {c} | {_block_bar(c, most, 30)} |" for lbl, c in bins]
    out.append("")
    if summary.get("tests"):
        out += ["## Tests, lowest pass rate first", "", "| Test | Function | Passed | Rate | Other outcomes |",
                "|---|---|---:|---:|---|"]
        for e in summary["tests"]:
            other = ", ".join(f"{k} {v}" for k, v in sorted(e.get("statuses", {}).items()) if k != "passed")
            out.append(f"| {_md_text(e['name'])} | {_md_text(e['function'])} | {e['passed']}/{e['n']} "
                       f"| {e['pass_rate']:.0%} | {_md_text(other)} |")
        out.append("")
    if summary.get("functions"):
        out += ["## Functions", "", "| Function | Mean | Of max |", "|---|---:|---:|"]
        out += [f"| {_md_text(f['function'])} | {_pts(f['mean'], f['max_score'])} "
                f"| {_md_text(_pct(f['mean'], f['max_score']))} |" for f in summary["functions"]]
        out.append("")
    if summary.get("not_gradable"):
        out += ["## Not gradable", ""]
        out += [f"- **{_md_text(s)}**: {_md_text(err)}" for s, err in summary["not_gradable"]]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _svg_histogram(summary: dict) -> str:
    """An inline SVG bar chart of the score distribution."""
    bins = _bins(summary)
    w, h, left, bottom, top = 640, 240, 36, 36, 20
    plot_w, plot_h = w - left - 10, h - bottom - top
    most = max((c for _, c in bins), default=0) or 1
    bw = plot_w / max(len(bins), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
             f'aria-label="score distribution">', "<title>score distribution</title>",
             f'<line x1="{left}" y1="{top + plot_h}" x2="{w - 10}" y2="{top + plot_h}" stroke="#8c959f"/>']
    for i, (lbl, c) in enumerate(bins):
        bh = plot_h * c / most
        x, y = left + i * bw, top + plot_h - bh
        parts.append(f'<rect x="{x + 3:.1f}" y="{y:.1f}" width="{bw - 6:.1f}" height="{bh:.1f}" fill="#0969da">'
                     f"<title>{_h(lbl)}: {c}</title></rect>")
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{c}</text>')
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle">{_h(lbl)}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{h - 4}" text-anchor="middle">score</text>')
    parts.append("</svg>")
    return "".join(parts)


def _summary_html(summary: dict) -> str:
    body = [f"<h1>{_h(_title(summary))}</h1>", f'<p class="score">{_h(_stats_line(summary))}</p>',
            "<h2>Score distribution</h2>", _svg_histogram(summary)]
    if summary.get("tests"):
        body += ["<h2>Tests, lowest pass rate first</h2>",
                 '<table><thead><tr><th>Test</th><th>Function</th><th class="num">Passed</th>'
                 '<th class="num">Rate</th><th>Other outcomes</th></tr></thead><tbody>']
        for e in summary["tests"]:
            other = ", ".join(f"{k} {v}" for k, v in sorted(e.get("statuses", {}).items()) if k != "passed")
            body.append(f"<tr><td>{_h(e['name'])}</td><td>{_h(e['function'])}</td>"
                        f'<td class="num">{e["passed"]}/{e["n"]}</td><td class="num">{e["pass_rate"]:.0%}'
                        f"{_bar(e['pass_rate'])}</td><td>{_h(other)}</td></tr>")
        body.append("</tbody></table>")
    if summary.get("functions"):
        body += ["<h2>Functions</h2>", '<table><thead><tr><th>Function</th><th class="num">Mean</th>'
                 '<th class="num">Of max</th></tr></thead><tbody>']
        body += [f"<tr><td>{_h(f['function'])}</td><td class=\"num\">{_h(_pts(f['mean'], f['max_score']))}</td>"
                 f"<td class=\"num\">{_h(_pct(f['mean'], f['max_score']))}</td></tr>" for f in summary["functions"]]
        body.append("</tbody></table>")
    if summary.get("not_gradable"):
        body += ["<h2>Not gradable</h2>", "<ul>"]
        body += [f"<li><strong>{_h(s)}</strong>: {_h(err)}</li>" for s, err in summary["not_gradable"]]
        body.append("</ul>")
    return _page(_title(summary), body)
