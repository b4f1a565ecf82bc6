"""`dlgrade similarity`: planted copies rank above honest, independently written submissions.

The class is built from week04's samples: an exact copy pair, a copy with its
names changed and comments rewritten, five correct submissions written in
different styles (a notebook and a student with a helper module among them),
and two students who handed in the stub unchanged.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys

import pytest

from grader import api
from grader.course import Course
from grader.errors import UserError
from support import ROOT

pytest.importorskip("copydetect")

SAMPLES = ROOT / "autograder_data" / "samples" / "week04"
HONEST = ("au100001", "au100002", "au100005", "au100008", "au100006")
PLANTED = {frozenset({"copy_a", "copy_b"}), frozenset({"orig", "renamed"})}
RENAMES = {"win": "patches", "dwin": "dpatches", "xp": "x_padded", "idx": "where", "dxp": "dx_flat", "KH": "kh",
           "KW": "kw", "sh": "step_h", "sw": "step_w", "ph": "pad_h", "pw": "pad_w", "windows": "sliding_views",
           "pair": "as_pair", "flat_positions": "window_index"}


def _put(folder, student, source):
    (folder / student).mkdir()
    (folder / student / "conv.py").write_text(source)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    cls = tmp_path_factory.mktemp("class")
    copied = (SAMPLES / "au100003" / "conv.py").read_text()
    _put(cls, "copy_a", copied)
    _put(cls, "copy_b", copied)
    original = (SAMPLES / "au100004" / "conv.py").read_text()
    renamed = re.sub(r"#.*", "# my own work", original)
    for old, new in RENAMES.items():
        renamed = re.sub(rf"\b{old}\b", new, renamed)
    assert renamed != original and "patches" in renamed
    _put(cls, "orig", original)
    _put(cls, "renamed", renamed)
    for s in HONEST:
        src = SAMPLES / (s + ".ipynb") if (SAMPLES / (s + ".ipynb")).exists() else SAMPLES / s
        (shutil.copy if src.is_file() else shutil.copytree)(src, cls / src.name)
    stub = (ROOT / "assignments" / "week04" / "conv.py").read_text()
    _put(cls, "stub_a", stub)
    _put(cls, "stub_b", stub)
    out = tmp_path_factory.mktemp("similarity")
    result = api.similarity(week="week04", submissions=[cls], out_dir=out, course=Course(ROOT))
    return cls, out, result


def test_planted_pairs_rank_first(planted):
    _, _, result = planted
    assert {frozenset({p.a, p.b}) for p in result.pairs[:2]} == PLANTED
    top_honest = max(p.score for p in result.pairs if frozenset({p.a, p.b}) not in PLANTED)
    assert min(p.score for p in result.pairs[:2]) > 0.95
    assert top_honest < 0.7, "an honest pair looks like a copy"
    # the notebook was converted and compared, the helper module travelled with its student
    assert {"au100006", "au100008"} <= set(result.students)


def test_the_stub_alone_never_counts(planted):
    _, _, result = planted
    stub_pairs = [p for p in result.pairs if {"stub_a", "stub_b"} & {p.a, p.b}]
    assert stub_pairs and max(p.score for p in stub_pairs) < 0.05


def test_pairs_csv_and_report(planted):
    cls, out, result = planted
    rows = list(csv.DictReader((out / "pairs.csv").open()))
    n = len(result.students)
    assert len(rows) == n * (n - 1) // 2
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert {frozenset({r["student_a"], r["student_b"]}) for r in rows[:2]} == PLANTED
    assert float(rows[0]["similarity_a_to_b"]) > 0.95
    html = (out / "report.html").read_text()
    assert "copy_a.py" in html and "renamed.py" in html
    assert str(cls) not in html and "dlgrade-intake" not in html  # files named by student, not by a temp folder


def test_cli_ranking(planted, tmp_path):
    cls, _, _ = planted
    proc = subprocess.run([sys.executable, "-m", "grader.cli", "similarity", "week04", str(cls), "-o",
                           str(tmp_path / "sim"), "--top", "3"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["rank", "student", "a"]
    first = {frozenset(line.split()[1:3]) for line in lines[1:3]}
    assert first == PLANTED
    assert "pairs in" in lines[-1] and (tmp_path / "sim" / "pairs.csv").is_file()


def test_missing_extra_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "copydetect", None)  # as if the extra were not installed
    with pytest.raises(UserError, match=r"install dlgrade\[similarity\]"):
        api.similarity(week="week04", submissions=[SAMPLES / "au100001"], out_dir=tmp_path, course=Course(ROOT))


def test_needs_two_submissions(tmp_path):
    with pytest.raises(UserError, match="at least two"):
        api.similarity(week="week04", submissions=[SAMPLES / "au100001"], out_dir=tmp_path, course=Course(ROOT))
