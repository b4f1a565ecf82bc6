"""The HTML renderer: one self-contained page per student or class summary."""

from __future__ import annotations

import html
from urllib.parse import quote

from .common import (SLOW_FACTOR, STATUS_STYLE, _by_function, _notes, _num, _pct, _pts, _short_name, _slow,
                     _slow_sentence, _sum, _times)
from .stats import _bins, _stats_line, _title


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
h3 { font-size: 1rem; margin: 1.25rem 0 .25rem; }
summary { cursor: pointer; color: var(--muted); }
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
.st-timeout, .st-review { color: var(--warn); } .st-crashed, .st-banned, .st-other { color: var(--odd); }
.notes { border-left: 4px solid var(--warn); background: #fff8c5; padding: .5rem .75rem .5rem 2rem; }
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
    if _notes(result):
        body.append('<ul class="notes">' + "".join(f"<li>{_h(n)}</li>" for n in _notes(result)) + "</ul>")
    if _slow(result):
        body.append('<ul class="notes">' + "".join(f"<li><strong>Slow:</strong> {_h(_slow_sentence(e))}</li>"
                                                   for e in _slow(result)) + "</ul>")
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


def _student_href(student: str, links: str | None) -> str:
    """Where a student's id links: their own page in `links`, else their row of this page's student table."""
    if links is not None:
        base = links.rstrip("/") + "/" if links not in ("", ".") else ""
        return _h(quote(base, safe="/._-") + quote(student, safe="._-") + ".html")
    return "#student-" + _h(quote(student, safe="._-"))


def _mistakes_html(summary: dict, links: str | None) -> list[str]:
    """Per function, its mistakes, each with its students' ids behind a <details>."""
    body = []
    for m in summary.get("mistakes") or []:
        rows = m.get("named", []) + m.get("unnamed", [])
        if not rows:
            continue
        if not body:
            body.append("<h2>Common mistakes</h2>")
        body += [f"<h3>{_h(m['function'])}</h3>", '<table><thead><tr><th>Mistake</th><th class="num">Students</th>'
                 "<th>Who</th></tr></thead><tbody>"]
        for e in rows:
            text = _h(e["text"]) if "key" in e else f'<em class="muted">{_h(e["text"])}</em>'
            who = ", ".join(f'<a href="{_student_href(sid, links)}">{_h(sid)}</a>' for sid in e["students"])
            body.append(f'<tr><td>{text}</td><td class="num">{e["count"]}</td><td><details><summary>'
                        f'{e["count"]} student{"" if e["count"] == 1 else "s"}</summary>{who}</details></td></tr>')
        body.append("</tbody></table>")
    return body


def _students_html(summary: dict, links: str | None) -> list[str]:
    rows = summary.get("students") or []
    if not rows:
        return []
    functions = list(dict.fromkeys(fn for s in rows for fn in s["functions"]))
    body = ["<h2>Students</h2>", '<table><thead><tr><th>Student</th><th class="num">Score</th><th>Status</th>'
            + "".join(f'<th class="num">{_h(f)}</th>' for f in functions) + "</tr></thead><tbody>"]
    for s in rows:
        sid = str(s["student"])
        name = f'<a href="{_student_href(sid, links)}">{_h(sid)}</a>' if links is not None else _h(sid)
        cells = "".join(
            f'<td class="num">{_h(_pts(*s["functions"][fn]))}'
            f'{" <span class=tag>slow</span>" if fn in s.get("slow", []) else ""}</td>'
            if fn in s["functions"] else "<td></td>" for fn in functions)
        body.append(f'<tr id="student-{_h(quote(sid, safe="._-"))}"><td>{name}</td>'
                    f'<td class="num">{_h(_pts(s["score"], s["max_score"]))}</td>'
                    f'<td><span class="status {_cls(s["status"])}">{_h(str(s["status"]).replace("_", " "))}</span>'
                    f"</td>{cells}</tr>")
    body.append("</tbody></table>")
    return body


def _slow_html(summary: dict) -> list[str]:
    if not summary.get("slow"):
        return []
    body = [f"<h2>Slow code (more than {SLOW_FACTOR:g}× the reference's time on the same inputs)</h2>",
            '<table><thead><tr><th>Student</th><th>Function</th><th class="num">Student s</th>'
            '<th class="num">Reference s</th><th class="num">Slower</th></tr></thead><tbody>']
    body += [f"<tr><td>{_h(e['student'])}</td><td>{_h(e['function'])}</td><td class=\"num\">{e['student_s']:.3g}</td>"
             f"<td class=\"num\">{e['reference_s']:.2g}</td><td class=\"num\">{_h(_times(e['ratio']))}</td></tr>"
             for e in summary["slow"]]
    body.append("</tbody></table>")
    return body


def _summary_html(summary: dict, links: str | None = None) -> str:
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
    body += _mistakes_html(summary, links) + _slow_html(summary)
    if summary.get("review"):
        body += ["<h2>Held for review</h2>", "<table><thead><tr><th>Student</th><th>Function</th><th>Why</th>"
                 "</tr></thead><tbody>"]
        body += [f"<tr><td>{_h(e['student'])}</td><td>{_h(e['function'])}</td><td><pre>{_h(e['message'])}</pre></td>"
                 "</tr>" for e in summary["review"]]
        body.append("</tbody></table>")
    if summary.get("notes"):
        body += ["<h2>Notes from intake</h2>", "<ul>"]
        body += [f"<li><strong>{_h(s)}</strong>: {_h(n)}</li>" for s, n in summary["notes"]]
        body.append("</ul>")
    if summary.get("not_gradable"):
        body += ["<h2>Not gradable</h2>", "<ul>"]
        body += [f"<li><strong>{_h(s)}</strong>: {_h(err)}</li>" for s, err in summary["not_gradable"]]
        body.append("</ul>")
    body += _students_html(summary, links)
    return _page(_title(summary), body)
