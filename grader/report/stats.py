"""Class statistics of many results, as plain data, and the lines every format shows of them."""

from __future__ import annotations

import statistics

from .common import KIND_LABELS, N_BINS, SUMMARY_SCHEMA, _by_function, _notes, _num, _slow, _sum, _tests


def _r(x: float) -> float:
    return round(float(x), 6)


def summarize(results: list[dict]) -> dict:
    """Class statistics of a list of results, as plain data (JSON-ready).

    Score statistics and the histogram cover every student, a not-gradable
    submission counting at its recorded score (0): they describe the grades.
    Test pass rates and function means cover the graded submissions only:
    they describe how hard each exercise was. Tests are listed lowest pass
    rate first, so the ones most students fail come on top. `review` lists, once
    per student and function, what is held for a teacher to look at; `notes`
    what intake noted about each submission.

    `mistakes` says, per function, what the class got wrong (`common_mistakes`);
    `students` lists every student with score, status and points per function;
    `slow` the functions more than SLOW_FACTOR times slower than the reference.
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

    # functions held for a person to look at: one entry per student and function
    review = {}
    for r in graded:
        for t in _tests(r):
            if t.get("status") == "review":
                key = (str(r.get("student")), str(t.get("function") or "(other)"))
                review.setdefault(key, str(t.get("message") or ""))
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
        "review": [{"student": s, "function": f, "message": m} for (s, f), m in sorted(review.items())],
        "notes": [[str(r.get("student")), n] for r in results for n in _notes(r)],
        "mistakes": common_mistakes(graded),
        "students": [_student_row(r) for r in results],
        "slow": [{"student": str(r.get("student")), **e} for r in graded for e in _slow(r)],
    }


def common_mistakes(results: list[dict]) -> list[dict]:
    """Per function, what the class got wrong, each counted once per student.

    A failure with a named mistake counts under the mistake's key (the text
    shown is the first seen); one without counts under its kind, an exception
    under its type and line. Most common first; review and passed tests are not
    mistakes. Returns [{"function", "named": [...], "unnamed": [...]}], each
    entry {"key" or "kind", "text", "count", "students"}.
    """
    named: dict[str, dict[str, dict]] = {}
    unnamed: dict[str, dict[tuple, dict]] = {}
    order: list[str] = []
    for r in results:
        student = str(r.get("student"))
        for t in _tests(r):
            status = str(t.get("status", ""))
            if status in ("passed", "review"):
                continue
            fn = str(t.get("function") or "(other)")
            if fn not in order:
                order.append(fn)
            mistake = t.get("mistake") if isinstance(t.get("mistake"), dict) else None
            if mistake and mistake.get("key"):
                e = named.setdefault(fn, {}).setdefault(str(mistake["key"]), {
                    "key": str(mistake["key"]), "text": str(mistake.get("text") or mistake["key"]), "students": []})
            else:
                kind = str(t.get("kind") or (status if status != "failed" else "failed"))
                exc = t.get("exception") if isinstance(t.get("exception"), dict) else {}
                detail = (str(exc.get("type") or "an exception") + (f" at {exc['line']}" if exc.get("line") else "")
                          if kind == "exception" else "")
                label = KIND_LABELS.get(kind, kind) + (f" {detail}" if detail else "")
                e = unnamed.setdefault(fn, {}).setdefault((kind, detail), {
                    "kind": kind, "text": label, "students": []})
            if student not in e["students"]:
                e["students"].append(student)
    out = []
    for fn in order:
        rows = {}
        for part, groups in (("named", named), ("unnamed", unnamed)):
            entries = [{**e, "count": len(e["students"]), "students": sorted(e["students"])}
                       for e in groups.get(fn, {}).values()]
            rows[part] = sorted(entries, key=lambda e: (-e["count"], e["text"]))
        out.append({"function": fn, **rows})
    return out


def _student_row(result: dict) -> dict:
    """A student's line in the class overview: score, status, points per function, slow functions."""
    return {"student": str(result.get("student")), "score": _r(result.get("score") or 0.0),
            "max_score": _r(result.get("max_score") or 0.0), "status": str(result.get("status", "")),
            "functions": {fn: [_r(_sum(ts, "score")), _r(_sum(ts, "max_score"))]
                          for fn, ts in _by_function(result).items()},
            "slow": [e["function"] for e in _slow(result)]}


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
