"""The HTML renderer: one self-contained page per student or class summary."""

from __future__ import annotations

import html

from .common import STATUS_STYLE, _by_function, _notes, _num, _pct, _pts, _short_name, _sum
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
    return _page(_title(summary), body)
