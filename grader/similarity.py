"""Similarity of a class's submissions: which pairs of students wrote the same code.

The submissions go through intake (`grader.intake.collect`: archives opened
safely, notebooks converted to modules) and nothing a student wrote is run. Each
student's Python files (the week's module first, then its helpers) become one
file named by the student, and copydetect (a winnowing detector, the
`similarity` extra) compares every pair, with the week's stub as boilerplate so
starter code never counts. copydetect tokenises the code and replaces names,
so renaming variables or editing comments does not hide a copy.

Similarity a→b is the fraction of a's code (in tokens, boilerplate left out)
also found in b. Pairs are ranked by the larger of the two directions, since
one student may copy part of another's file; a high score is a reason to read
both files (copydetect's HTML report highlights the shared code), never proof.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

# Winnowing settings for short exercise code: a shared run of fewer than NOISE_T tokens
# (after names are replaced) is ignored; every shared run of GUARANTEE_T tokens or more is found.
# copydetect's defaults (25, 25) are made for whole programs; a week's functions are a few lines.
# On week04's samples (different correct styles) honest pairs share at most ~0.55 at 20 tokens,
# while a copy, renamed or not, shares 1.0.
NOISE_T = 20
GUARANTEE_T = 20
# Pairs above this similarity are shown, code side by side, in copydetect's report.
DISPLAY_T = 0.6


@dataclass
class Pair:
    a: str
    b: str
    a_to_b: float  # fraction of a's code found in b
    b_to_a: float
    tokens: int    # tokens the two share

    @property
    def score(self) -> float:
        return max(self.a_to_b, self.b_to_a)


@dataclass
class Similarity:
    """The ranked pairs (most similar first), the files written, and the submissions left out with why."""

    pairs: list[Pair]
    students: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    csv_path: Path | None = None
    html_path: Path | None = None
    seconds: float = 0.0


def _copydetect():
    try:
        os.environ.setdefault("MPLBACKEND", "Agg")  # its report draws with matplotlib; never open a window
        from copydetect import CopyDetector
    except ImportError:
        raise UserError("dlgrade similarity needs copydetect; install dlgrade[similarity].") from None
    return CopyDetector


def compare(*, week, submissions: list[Path], out_dir: Path, workdir: Path, id_pattern: str | None = None,
            bulk: bool = False, display_t: float = DISPLAY_T) -> Similarity:
    """Compare every pair of the class's submissions; write `out_dir/pairs.csv` and `out_dir/report.html`."""
    from .intake import DEFAULT_ID_PATTERN, collect

    detector_cls = _copydetect()
    started = time.monotonic()
    subs = collect(submissions, week.module, workdir, id_pattern=id_pattern or DEFAULT_ID_PATTERN, bulk=bulk)
    class_dir, boiler_dir = workdir / "class", workdir / "boilerplate"
    class_dir.mkdir()
    boiler_dir.mkdir()
    students, skipped = [], []
    for s in subs:
        if s.error:
            skipped.append((s.student, s.error))
            continue
        text = _student_code(Path(s.folder), week.module)
        if not text.strip():
            skipped.append((s.student, f"no {week.module}.py to compare"))
            continue
        (class_dir / f"{s.student}.py").write_text(text, encoding="utf-8")
        students.append(s.student)
    if len(students) < 2:
        raise UserError(f"similarity needs at least two readable submissions; found {len(students)} in "
                        f"{', '.join(map(str, submissions))}.")
    if week.stub_file.is_file():
        shutil.copyfile(week.stub_file, boiler_dir / "stub.py")
    detector = detector_cls(test_dirs=[str(class_dir)], ref_dirs=[str(class_dir)],
                            boilerplate_dirs=[str(boiler_dir)] if week.stub_file.is_file() else [],
                            extensions=["py"], noise_t=NOISE_T, guarantee_t=GUARANTEE_T, display_t=display_t,
                            autoopen=False, silent=True, force_language="python")
    detector.run()
    pairs = _pairs(detector)
    out_dir.mkdir(parents=True, exist_ok=True)
    from .gradebook import atomic_write_text

    csv_path = atomic_write_text(out_dir / "pairs.csv", pairs_csv(pairs))
    html = detector.generate_html_report(output_mode="return") or ""
    # the report names files by the temporary folder they were read from: name them by student
    html = html.replace(str(class_dir) + os.sep, "").replace(str(boiler_dir), "boilerplate").replace(
        str(class_dir), "class")
    html_path = atomic_write_text(out_dir / "report.html", html)
    return Similarity(pairs=pairs, students=sorted(students), skipped=skipped, csv_path=csv_path,
                      html_path=html_path, seconds=time.monotonic() - started)


def _student_code(folder: Path, module: str) -> str:
    """The student's module, then their other Python files, as one text."""
    main = folder / f"{module}.py"
    files = ([main] if main.is_file() else []) + sorted(
        p for p in folder.glob("*.py") if p != main and p.is_file() and not p.is_symlink())
    return "\n\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


def _pairs(detector) -> list[Pair]:
    """Every pair of students once, most similar first."""
    names = [Path(f).stem for f in detector.test_files]
    index = {Path(f).stem: j for j, f in enumerate(detector.ref_files)}
    m, overlap = detector.similarity_matrix, detector.token_overlap_matrix
    pairs = []
    for i, a in enumerate(names):
        for b in names:
            if a < b:
                j = index[b]
                pairs.append(Pair(a, b, float(max(m[i, j, 0], 0.0)), float(max(m[i, j, 1], 0.0)),
                                  int(max(overlap[i, j], 0))))
    pairs.sort(key=lambda p: (-p.score, -min(p.a_to_b, p.b_to_a), p.a, p.b))
    return pairs


def pairs_csv(pairs: list[Pair]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rank", "student_a", "student_b", "similarity_a_to_b", "similarity_b_to_a", "shared_tokens"])
    for rank, p in enumerate(pairs, 1):
        w.writerow([rank, p.a, p.b, f"{p.a_to_b:.4f}", f"{p.b_to_a:.4f}", p.tokens])
    return buf.getvalue()


def ranking_text(result: Similarity, top: int = 20) -> str:
    """The most similar pairs as a plain table for the terminal."""
    lines = [f"{'rank':>4}  {'student a':<16} {'student b':<16} {'a→b':>6} {'b→a':>6}"]
    for rank, p in enumerate(result.pairs[:top], 1):
        lines.append(f"{rank:>4}  {p.a:<16} {p.b:<16} {p.a_to_b:>6.2f} {p.b_to_a:>6.2f}")
    if len(result.pairs) > top:
        lines.append(f"      ... {len(result.pairs) - top} more pairs in {result.csv_path}")
    return "\n".join(lines)
