"""The Markdown renderer: one student's feedback, the class summary."""

from __future__ import annotations

import re

from .common import (SLOW_FACTOR, _block_bar, _by_function, _flat, _notes, _num, _pct, _pts, _short_name, _slow,
                     _slow_sentence, _sum, _times)
from .stats import _bins, _stats_line, _title

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
    if _notes(result):
        out += ["**Notes on the submission:**", ""] + [f"- {_md_code(n)}" for n in _notes(result)] + [""]
    if _slow(result):
        out += ["**Slow code:**", ""] + [f"- {_md_text(_slow_sentence(e))}" for e in _slow(result)] + [""]
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
                       f"| {_md_text(t.get('status', ''))} | {_md_code(msg)} |")
            if len(msg.strip().splitlines()) > 1:
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
    out += _mistakes_md(summary)
    if summary.get("slow"):
        out += [f"## Slow code (more than {SLOW_FACTOR:g}× the reference's time on the same inputs)", "",
                "| Student | Function | Student s | Reference s | Slower |", "|---|---|---:|---:|---:|"]
        out += [f"| {_md_text(e['student'])} | {_md_text(e['function'])} | {e['student_s']:.3g} "
                f"| {e['reference_s']:.2g} | {_times(e['ratio'])} |" for e in summary["slow"]]
        out.append("")
    if summary.get("review"):
        out += ["## Held for review", "", "| Student | Function | Why |", "|---|---|---|"]
        out += [f"| {_md_text(e['student'])} | {_md_text(e['function'])} | {_md_code(e['message'])} |"
                for e in summary["review"]]
        out.append("")
    if summary.get("notes"):
        out += ["## Notes from intake", ""]
        out += [f"- **{_md_text(s)}**: {_md_code(n)}" for s, n in summary["notes"]]
        out.append("")
    if summary.get("not_gradable"):
        out += ["## Not gradable", ""]
        out += [f"- **{_md_text(s)}**: {_md_text(err)}" for s, err in summary["not_gradable"]]
        out.append("")
    out += _students_md(summary)
    return "\n".join(out).rstrip("\n") + "\n"


def _mistakes_md(summary: dict) -> list[str]:
    """Per function, the mistakes found (named ones in plain text, kinds of failure in italics) and who made each."""
    out = []
    for m in summary.get("mistakes") or []:
        rows = m.get("named", []) + m.get("unnamed", [])
        if not rows:
            continue
        if not out:
            out += ["## Common mistakes", ""]
        out += [f"### {_md_text(m['function'])}", "", "| Mistake | Students | Ids |", "|---|---:|---|"]
        out += [f"| {_md_text(e['text']) if 'key' in e else '*' + _md_text(e['text']) + '*'} | {e['count']} "
                f"| {_md_text(', '.join(e['students']))} |" for e in rows]
        out.append("")
    return out


def _students_md(summary: dict) -> list[str]:
    rows = summary.get("students") or []
    if not rows:
        return []
    functions = list(dict.fromkeys(fn for s in rows for fn in s["functions"]))
    out = ["## Students", "", "| Student | Score | Status | " + " | ".join(_md_text(f) for f in functions) + " |",
           "|---|---:|---|" + "---:|" * len(functions)]
    for s in rows:
        cells = [(_pts(*s["functions"][fn]) + (" (slow)" if fn in s.get("slow", []) else ""))
                 if fn in s["functions"] else "" for fn in functions]
        out.append(f"| {_md_text(s['student'])} | {_pts(s['score'], s['max_score'])} "
                   f"| {_md_text(str(s['status']).replace('_', ' '))} | " + " | ".join(cells) + " |")
    out.append("")
    return out
