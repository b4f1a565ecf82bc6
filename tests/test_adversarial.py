"""The adversarial corpus (tests/adversarial/): hostile and broken submissions,
graded in one batch between honest ones. Each case folder holds the
submission and `expected.toml`:

- `lost`: the functions that must lose points (every other one keeps full marks);
- `status`: the statuses the lost functions' tests may have (never `passed`);
- `message`: words the feedback of a lost test must contain;
- `no_leftover`: a string no process may carry in its command line afterwards;
- `max_seconds`: the case must be graded within this time (no hang).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from support import FIXTURE_COURSE, ROOT, by_function, grade_folders, lost
from grader.sandbox import Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORPUS = ROOT / "tests" / "adversarial"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.toml").exists())
CANARY = "DLGRADE-CANARY-7f3a9c"
LIMITS = Limits(call_timeout_s=2.0, test_timeout_s=6.0, memory_bytes=2 << 30, output_bytes=1 << 20)


def expected(case: str) -> dict:
    return tomllib.loads((CORPUS / case / "expected.toml").read_text())


TOKEN = "DLGRADE-LMS-TOKEN-52e1b7"
SYSV_KEY = 0x444C4752  # sysv_segments's key
WRITE_MARKER = "# dlgrade-adversarial-write"  # writes_everywhere's line


@pytest.fixture(scope="module")
def corpus_results(toy_week):
    """The corpus graded in one batch, with a secret in the grader's environment and a server on its loopback."""
    import socket

    honest = toy_week.solution_file.parent
    folders = {"honest_before": honest, **{c: CORPUS / c for c in CASES}, "honest_after": honest}
    listener = socket.create_server(("127.0.0.1", 47391))  # uses_network must not reach it
    os.environ["DLGRADE_LMS_TOKEN"] = TOKEN
    core_pattern = Path("/proc/sys/kernel/core_pattern").read_text()
    try:
        results = grade_folders(toy_week, folders, limits=LIMITS)
    finally:
        os.environ.pop("DLGRADE_LMS_TOKEN", None)
        listener.close()
    assert Path("/proc/sys/kernel/core_pattern").read_text() == core_pattern
    return results


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES)
def test_case(corpus_results, case):
    exp, result = expected(case), corpus_results[case]
    assert result["status"] == "graded", result["error"]
    assert lost(result) == set(exp["lost"]), by_function(result)
    hit = [t for t in result["tests"] if t["function"] in exp["lost"]]
    if "status" in exp:
        assert {t["status"] for t in hit} <= set(exp["status"]), [(t["status"], t["message"]) for t in hit]
    if "message" in exp:
        assert any(exp["message"] in t["message"] for t in hit), [t["message"] for t in hit]
    if "max_seconds" in exp:
        assert result["duration_s"] < exp["max_seconds"], result["duration_s"]
    if "no_leftover" in exp:
        assert not _processes_with(exp["no_leftover"])


def test_honest_neighbours_keep_full_marks(corpus_results):
    for name in ("honest_before", "honest_after"):
        r = corpus_results[name]
        assert r["score"] == r["max_score"] == 10.0, by_function(r)


def test_hostile_never_beats_honest(corpus_results):
    """A case that was meant to lose points stays below the honest score: no attack lifts it to full marks."""
    top = corpus_results["honest_before"]["score"]
    for case in CASES:
        if expected(case)["lost"]:
            assert corpus_results[case]["score"] < top, (case, by_function(corpus_results[case]))


def test_secrets_never_reach_a_result(corpus_results):
    """The instructor's environment is not the workers': the token is nowhere in any result."""
    assert TOKEN not in json.dumps(list(corpus_results.values()))


def test_no_system_v_segment_outlives_the_batch(corpus_results):
    keys = [int(line.split()[0]) for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:] if line.strip()]
    assert SYSV_KEY not in keys


def test_no_write_landed_anywhere(corpus_results):
    import grader
    import torch

    engine = Path(grader.__file__).parent
    for path in [Path(torch.__file__), engine / "testing.py", *engine.parent.glob("*/*.py"),
                 *(Path(d) / "dlgrade-adversarial.txt" for d in ("/tmp", "/var/tmp", "/root", "/home", "/dev/shm"))]:
        # os.path.exists: a normal user running these tests may not search /root
        assert not os.path.exists(path) or not path.read_text(errors="replace").endswith(WRITE_MARKER + "\n"), path


def test_canary_never_leaves_the_reference(corpus_results):
    text = json.dumps(list(corpus_results.values()))
    assert CANARY not in text
    # the reference does hold it, so the search above could have found it
    assert CANARY in (FIXTURE_COURSE / "solutions" / "week99" / "toy.py").read_text()


def test_nothing_written_outside_the_sandbox(corpus_results):
    for path in ("/tmp/results.json", "/tmp/gradebook.csv", "/tmp/junit.xml"):
        assert not Path(path).exists() or "score" not in Path(path).read_text()
    assert "raise SystemExit" not in (ROOT / "grader" / "testing.py").read_text()


def test_same_submission_twice_same_scores(toy_week, toy_source, tmp_path):
    """Same seed, same scores and messages; the messages depend on the hidden inputs, so a new seed changes them."""
    from support import make_submission

    wrong = toy_source.replace("return a + b", "return a + b + 1e-3 * a * b")
    assert wrong != toy_source
    folders = {"a": make_submission(tmp_path, "a", wrong, "toy"), "b": CORPUS / "lying_object"}
    one = grade_folders(toy_week, folders, limits=LIMITS, seed=5)
    two = grade_folders(toy_week, folders, limits=LIMITS, seed=5)
    other = grade_folders(toy_week, folders, limits=LIMITS, seed=6)
    assert 0 < one["a"]["score"] < one["a"]["max_score"]
    for k in folders:
        assert [t["score"] for t in one[k]["tests"]] == [t["score"] for t in two[k]["tests"]]
        assert [t["message"] for t in one[k]["tests"]] == [t["message"] for t in two[k]["tests"]]
    hidden = [t["message"] for t in one["a"]["tests"] if t["function"] == "add" and t["visibility"] == "hidden"]
    assert hidden and hidden != [t["message"] for t in other["a"]["tests"]
                                 if t["function"] == "add" and t["visibility"] == "hidden"]


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                found.append(int(pid))
        except OSError:
            pass
    return found


# ---------------------------------------------------------------- hostile archives
def _zip(path: Path, entries: dict, symlinks: tuple = ()) -> Path:
    import stat
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
        for name, target in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
    return path


@pytest.fixture(scope="module")
def archive_results(toy_week, tmp_path_factory):
    import zipfile

    from grader import api

    tmp = tmp_path_factory.mktemp("archives")
    subs = tmp / "subs"
    subs.mkdir()
    good = (FIXTURE_COURSE / "solutions" / "week99" / "toy.py").read_text()
    _zip(subs / "au500000.zip", {"toy.py": good})
    _zip(subs / "au500001.zip", {"toy.py": good, "../../escaped.py": "print('out')"})
    _zip(subs / "au500002.zip", {"toy.py": good, "/tmp/absolute_evil.py": "x = 1"})
    _zip(subs / "au500003.zip", {"toy.py": good}, symlinks=(("link.py", "/etc/passwd"),))
    _zip(subs / "au500004.zip", {"toy.py": good, "bomb.py": "#" * (200 << 20)})
    with zipfile.ZipFile(subs / "au500005.zip", "w") as z:
        z.writestr("toy.py", good)
        for i in range(100_000):
            z.writestr(f"f/{i}.py", "")
    (subs / "au500006.ipynb").write_text("{ this is not JSON")
    _zip(subs / "au500007.zip", {"toy.py": good, "ñé 🎉 \\ name.py": "x = 1", ("a" * 200) + ".py": "x = 2",
                                 "sub dir/with space.py": "y = 3"})
    _zip(subs / "au500008.zip", {"toy.py": good})
    out = tmp / "out"
    api.grade(week="week99", submissions=[subs], out_dir=out, jobs=2, course=toy_week.course)
    results = {p.stem: json.loads(p.read_text()) for p in (out / "week99").glob("au*.json")}
    return results, tmp


ARCHIVES = {  # student: (gradable, words in the one-sentence error)
    "au500001": (False, "outside"), "au500002": (False, "absolute"), "au500003": (False, "link"),
    "au500004": (False, "bomb"), "au500005": (False, "files"), "au500006": (False, "not a valid"),
    "au500007": (True, ""),
}


@pytest.mark.parametrize("student", sorted(ARCHIVES))
def test_hostile_archive(archive_results, student):
    results, _ = archive_results
    gradable, words = ARCHIVES[student]
    r = results[student]
    if gradable:
        assert r["status"] == "graded" and r["score"] == r["max_score"], r["error"]
    else:
        assert r["status"] == "not_gradable" and r["score"] == 0
        assert words in r["error"].lower() and len(r["error"].splitlines()) == 1, r["error"]


def test_archives_leave_honest_neighbours_and_disk_alone(archive_results):
    results, tmp = archive_results
    assert results["au500000"]["score"] == results["au500008"]["score"] == 10.0
    assert not list(tmp.parent.rglob("escaped.py")) and not Path("/tmp/absolute_evil.py").exists()
