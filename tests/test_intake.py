"""Intake: every form of submission becomes one clean folder per student, and nothing hostile gets through.

Archives and folders are built inside each test under tmp_path; `work` is the
work directory, and `outside` checks that nothing appeared next to it.
"""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.intake import (DEFAULT_ID_PATTERN, IntakeError, Limits, Submission, collect, notebook_to_module,
                           safe_extract)

MODULE = "conv"
GOOD = "import torch\n\n\ndef conv2d(x, w):\n    return x\n"


# --------------------------------------------------------------------------- helpers

def make_zip(path: Path, entries: dict[str, bytes | str], *, mode: int | None = None) -> Path:
    """A zip of name -> content; `mode`, when given, is stored as every entry's Unix mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            z.writestr(info, data)
    return path


def manifest(student: str) -> str:
    return json.dumps({"student": student, "week": "week04"})


def notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": kind, "metadata": {}, "source": src,
                                  **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                                 for kind, src in cells]})


def tree(root: Path, skip: Path | None = None) -> set[str]:
    """Every path under root (links not followed), except those under `skip`."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if skip is not None and (p == skip or skip in p.parents):
                continue
            out.add(str(p.relative_to(root)))
    return out


def by_student(subs: list[Submission]) -> dict[str, Submission]:
    return {s.student: s for s in subs}


def files_of(sub: Submission) -> dict[str, str]:
    assert sub.folder is not None, sub.error
    return {p.name: p.read_text() for p in sorted(sub.folder.iterdir())}


@pytest.fixture
def work(tmp_path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def intake(tmp_path, work):
    """`collect` into `work`, asserting that nothing appeared or changed anywhere else under tmp_path."""
    def run(paths, **kw) -> list[Submission]:
        before = {p: (tmp_path / p).lstat().st_mtime_ns for p in tree(tmp_path, skip=work)}
        subs = collect(paths, MODULE, kw.pop("workdir", work), **kw)
        after = {p: (tmp_path / p).lstat().st_mtime_ns for p in tree(tmp_path, skip=work)}
        assert after == before, f"written outside the work directory: {sorted(set(after) ^ set(before))}"
        return subs
    return run


# --------------------------------------------------------------------------- the forms a submission takes

def test_dlgrade_submit_zip_takes_the_id_from_its_name_never_its_manifest(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "week04-au123456.zip", {
        "conv.py": GOOD, "utils.py": "X = 1\n",
        "manifest.json": manifest("au123456")})
    [s] = intake([z])
    assert s.error is None
    assert s.student == "au123456" and not any("manifest" in n for n in s.notes)
    assert files_of(s) == {"conv.py": GOOD, "utils.py": "X = 1\n"}
    assert work in s.folder.parents
    assert len(s.sha256) == 64
    assert s.source == str(z)
    other = make_zip(tmp_path / "in" / "week04-jdoe.zip", {"conv.py": GOOD, "manifest.json": manifest("jdoe")})
    assert [s.student for s in intake([other])] == ["jdoe"]           # `dlgrade submit`'s name, less week04-
    liar = make_zip(tmp_path / "in" / "week04-whatever.zip", {"conv.py": GOOD, "manifest.json": manifest("au1")})
    [s] = intake([liar])
    assert s.student == "whatever" and any("manifest.json names the student 'au1'" in n for n in s.notes)


def test_notebook_becomes_the_module(tmp_path, work, intake):
    nb = tmp_path / "in" / "au222222.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text(notebook(("code", "import torch\n"), ("code", "def conv2d(x, w):\n    return x\n"),
                           ("code", "print(conv2d(1, 2))\n")))
    [s] = intake([nb])
    assert s.student == "au222222"
    source = files_of(s)["conv.py"]
    assert "def conv2d(x, w):" in source and "import torch" in source
    assert "print(" not in source
    assert any("converted from notebook" in n and "1 print" in n for n in s.notes)


def test_folder_of_one_student_keeps_python_files_only(tmp_path, work, intake):
    d = tmp_path / "in" / "alice"
    d.mkdir(parents=True)
    (d / "conv.py").write_text(GOOD)
    (d / "helpers.py").write_text("Y = 2\n")
    (d / "data.csv").write_text("1,2\n")
    (d / "notes.txt").write_text("hi")
    [s] = intake([d])
    assert s.student == "alice"
    assert files_of(s) == {"conv.py": GOOD, "helpers.py": "Y = 2\n"}


def test_folder_with_a_manifest_keeps_the_folder_name(tmp_path, work, intake):
    d = tmp_path / "in" / "some-folder"
    d.mkdir(parents=True)
    (d / "conv.py").write_text(GOOD)
    (d / "manifest.json").write_text(manifest("au654321"))
    [s] = intake([d])
    assert s.student == "some-folder" and any("au654321" in n for n in s.notes)


def test_folder_with_exactly_one_notebook_is_one_student(tmp_path, work, intake):
    d = tmp_path / "in" / "bob"
    d.mkdir(parents=True)
    (d / "Week 4 exercises.ipynb").write_text(notebook(("code", "def conv2d(x, w):\n    return w\n")))
    [s] = intake([d])
    assert s.student == "bob"
    assert "return w" in files_of(s)["conv.py"]


def test_folder_of_entries_gives_one_submission_per_entry(tmp_path, work, intake):
    d = tmp_path / "in" / "submissions"
    (d / "carol").mkdir(parents=True)
    (d / "carol" / "conv.py").write_text("# carol\n")
    make_zip(d / "dave.zip", {"week04/conv.py": "# dave\n"})          # a zip of a folder is unwrapped
    (d / "erin.ipynb").write_text(notebook(("code", "# erin\ndef f():\n    pass\n")))
    (d / "frank.py").write_text("# frank\n")
    (d / "readme.md").write_text("not a submission")
    subs = by_student(intake([d]))
    assert set(subs) == {"carol", "dave", "erin", "frank"}
    assert files_of(subs["carol"]) == {"conv.py": "# carol\n"}
    assert files_of(subs["dave"]) == {"conv.py": "# dave\n"}
    assert "# erin" in files_of(subs["erin"])["conv.py"]
    assert files_of(subs["frank"]) == {"conv.py": "# frank\n"}
    assert any("used 'frank.py' as conv.py" in n for n in subs["frank"].notes)


def test_tar_gz_submission(tmp_path, work, intake):
    path = tmp_path / "in" / "au777777.tar.gz"
    path.parent.mkdir(parents=True)
    with tarfile.open(path, "w:gz") as t:
        data = GOOD.encode()
        info = tarfile.TarInfo("au777777/conv.py")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    [s] = intake([path])
    assert s.error is None and s.student == "au777777"
    assert files_of(s) == {"conv.py": GOOD}


# --------------------------------------------------------------------------- LMS bulk downloads

def test_brightspace_bulk_zip_groups_by_id_and_takes_the_latest_attempt(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "Week 4 Download.zip", {
        "101-201 - au111111 - Jane Doe - Nov 3, 2026 1052 AM - conv.py": "# jane early\n",
        "101-202 - au111111 - Jane Doe - Nov 4, 2026 0905 AM - conv.py": "# jane late\n",
        "101-203 - au111111 - Jane Doe - Nov 4, 2026 0905 AM - helpers.py": "H = 1\n",
        "101-204 - au222222 - John Roe - Nov 2, 2026 1130 PM - conv.ipynb":
            notebook(("code", "# john\ndef conv2d(x, w):\n    return x\n")),
        "index.html": "<html></html>",
    })
    subs = by_student(intake([z]))
    assert set(subs) == {"au111111", "au222222"}
    assert files_of(subs["au111111"]) == {"conv.py": "# jane late\n", "helpers.py": "H = 1\n"}
    assert any("2 files could be conv.py" in n for n in subs["au111111"].notes)
    assert "# john" in files_of(subs["au222222"])["conv.py"]


def test_moodle_bulk_folder(tmp_path, work, intake):
    d = tmp_path / "in" / "moodle"
    (d / "Jane Doe_12345_assignsubmission_file_").mkdir(parents=True)
    (d / "Jane Doe_12345_assignsubmission_file_" / "conv.py").write_text("# jane\n")
    (d / "John Roe_67890_assignsubmission_file_").mkdir()
    make_zip(d / "John Roe_67890_assignsubmission_file_" / "week04-au1.zip", {
        "conv.py": "# john\n", "manifest.json": manifest("au999999")})
    subs = by_student(intake([d]))
    assert set(subs) == {"12345", "67890"}     # the LMS name is trusted over a student-written manifest
    assert files_of(subs["12345"]) == {"conv.py": "# jane\n"}
    assert files_of(subs["67890"]) == {"conv.py": "# john\n"}
    assert any("au999999" in n for n in subs["67890"].notes)


def test_canvas_bulk_zip_with_resubmission_variants(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "submissions.zip", {
        "doejane_12345_67890_conv-1.py": "# jane resubmitted\n",
        "doejane_12345_67890_Conv.py": "# jane first\n",
        "roejohn_LATE_23456_67891_conv (2).py": "# john\n",
    })
    subs = by_student(intake([z]))
    assert set(subs) == {"12345", "23456"}
    assert files_of(subs["12345"]) == {"conv.py": "# jane resubmitted\n"}
    assert files_of(subs["23456"]) == {"conv.py": "# john\n"}
    assert any("used 'conv (2).py' as conv.py" in n for n in subs["23456"].notes)


def test_default_id_pattern_matches_course_ids_and_lms_ids():
    import re

    rx = re.compile(DEFAULT_ID_PATTERN)
    cases = {
        "123-456 - au123456 - Jane Doe - Nov 3, 2026 1052 AM - conv.py": "au123456",
        "123-456 - jdoe7 - Jane Doe - Nov 3, 2026 1052 AM - conv.py": "jdoe7",
        "Jane Doe_12345_assignsubmission_file_": "12345",
        "doejane_12345_67890_conv.py": "12345",
        "doejane_LATE_12345_67890_conv.py": "12345",
        "week04-au123456.zip": "au123456",
    }
    for name, expected in cases.items():
        m = rx.search(name)
        assert m and m.group("student") == expected, name
    for name in ("alice", "conv_2024_final.py", "xau123456", "au12"):
        assert rx.search(name) is None, name


def test_custom_id_pattern(tmp_path, work, intake):
    d = tmp_path / "in" / "bulk"
    d.mkdir(parents=True)
    (d / "s-0042 conv.py").write_text("# 42\n")
    (d / "s-0043 conv.py").write_text("# 43\n")
    subs = by_student(intake([d], id_pattern=r"s-(?P<student>\d+)"))
    assert set(subs) == {"0042", "0043"}
    with pytest.raises(IntakeError, match="no group named 'student'"):
        intake([d], id_pattern=r"s-\d+")
    with pytest.raises(IntakeError, match="not a valid regular expression"):
        intake([d], id_pattern=r"(?P<student>")


# --------------------------------------------------------------------------- ids

def test_two_claims_on_one_id_are_a_conflict_graded_for_neither(tmp_path, work, intake):
    d = tmp_path / "in" / "subs"
    (d / "au1111").mkdir(parents=True)
    (d / "au1111" / "conv.py").write_text("# the real one\n")
    make_zip(d / "week04-au1111-resubmit.zip", {"conv.py": "# someone else\n"})
    (d / "au2222.py").write_text(GOOD)
    elsewhere = make_zip(tmp_path / "in" / "au2222.zip", {"conv.py": "# also au2222\n"})
    subs = by_student(intake([d, elsewhere]))
    assert set(subs) == {"au1111", "au2222"}                          # one result per id, never au1111-2
    for sid, claims in (("au1111", ("au1111'", "week04-au1111-resubmit.zip")), ("au2222", ("au2222.py", "au2222.zip"))):
        s = subs[sid]
        assert s.folder is None and s.sha256 == "" and len(s.error.splitlines()) == 1
        assert s.error.startswith(f"2 submissions claim the id '{sid}'") and all(c in s.error for c in claims), s.error


def test_ids_are_sanitised(tmp_path, work, intake):
    evil = make_zip(tmp_path / "in" / "..évil name!!.zip",
                    {"conv.py": GOOD, "manifest.json": manifest("../../etc/passwd")})
    d = tmp_path / "in" / "Zoë Smith"
    d.mkdir()
    (d / "conv.py").write_text(GOOD)
    subs = intake([evil, d])
    assert [s.student for s in subs] == ["evil_name", "Zoe_Smith"]
    for s in subs:
        assert s.folder.parent.parent.parent == work
    blank = make_zip(tmp_path / "in" / "!!!.zip", {"conv.py": GOOD})
    [s] = intake([blank])
    assert s.student == "student"


# --------------------------------------------------------------------------- hostile archives

def _not_gradable(subs: list[Submission], *words: str) -> Submission:
    [s] = subs
    assert s.folder is None and s.sha256 == ""
    assert s.error and all(w in s.error for w in words), s.error
    return s


def test_zip_slip_is_refused(tmp_path, work, intake):
    escapes = ["../evil.py", "../../../../evil2.py"]      # from work/intake-*/extract/1: next to it, and tmp_path
    z = make_zip(tmp_path / "in" / "au1.zip", {"conv.py": GOOD, **{name: "pwned" for name in escapes}})
    _not_gradable(intake([z]), "outside the archive", "../evil.py")
    [dest] = work.glob("intake-*/extract/1")              # where the archive was extracted
    landing = [Path(os.path.normpath(dest / name)) for name in escapes]
    assert landing == [dest.parent / "evil.py", tmp_path / "evil2.py"]   # places a naive extraction would write
    assert not any(p.exists() for p in landing)
    assert not list(tmp_path.rglob("*evil*"))


def test_absolute_path_entry_is_refused(tmp_path, work, intake):
    target = tmp_path / "abs_evil.py"
    z = make_zip(tmp_path / "in" / "au1.zip", {"conv.py": GOOD, str(target): "pwned"})
    _not_gradable(intake([z]), "absolute path")
    assert not target.exists()


def test_symlink_entry_is_refused(tmp_path, work, intake):
    z = tmp_path / "in" / "au1.zip"
    make_zip(z, {"conv.py": "/etc/passwd"}, mode=stat.S_IFLNK | 0o777)
    _not_gradable(intake([z]), "symbolic link")
    assert not any(p.is_symlink() for p in work.rglob("*"))


def test_zip_bomb_entry_is_refused(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "au1.zip", {"conv.py": GOOD, "weights.py": b"\0" * (10 * 1024 * 1024)})
    assert z.stat().st_size < 100_000
    _not_gradable(intake([z]), "zip bomb", "weights.py")
    assert not list(work.rglob("weights.py"))


def test_small_repetitive_file_is_not_a_bomb(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "au1.zip", {"conv.py": GOOD + "#" * 50_000 + "\n"})
    [s] = intake([z])
    assert s.error is None and files_of(s)["conv.py"].endswith("#\n")


def test_too_many_files_are_refused(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "au1.zip", {"conv.py": GOOD, **{f"f{i}.txt": "x" for i in range(3000)}})
    _not_gradable(intake([z]), "3001 entries", "2000")
    assert not list(work.rglob("conv.py"))


def test_total_and_file_size_limits(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "au1.zip", {"conv.py": GOOD, "big.py": os.urandom(5000)})
    _not_gradable(intake([z], limits=Limits(max_file_bytes=4000)), "big.py", "limit for one file")
    _not_gradable(intake([z], limits=Limits(max_total_bytes=3000)), "limit for one submission")
    d = tmp_path / "in" / "au2"
    d.mkdir()
    (d / "conv.py").write_text("x" * 5000)
    _not_gradable(intake([d], limits=Limits(max_file_bytes=4000)), "conv.py", "limit for one file")


def test_corrupt_zip_is_not_gradable(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "au1.zip", {"conv.py": GOOD * 50})
    data = z.read_bytes()
    z.write_bytes(data[: len(data) // 2])                     # truncated download
    _not_gradable(intake([z]), "not a readable zip")
    garbage = tmp_path / "in" / "au2.zip"
    garbage.write_bytes(b"this is not a zip at all")
    _not_gradable(intake([garbage]), "not a readable zip")


def test_zip_with_a_bad_crc_is_not_gradable(tmp_path, work, intake):
    z = tmp_path / "in" / "au1.zip"
    z.parent.mkdir(parents=True)
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("conv.py", GOOD)
    data = bytearray(z.read_bytes())
    i = data.index(b"import torch")
    data[i] = ord("X")                                        # content no longer matches its CRC
    z.write_bytes(bytes(data))
    _not_gradable(intake([z]), "not a readable zip")


def test_encrypted_zip_is_not_gradable(tmp_path, work, intake):
    z = tmp_path / "in" / "au1.zip"
    z.parent.mkdir(parents=True)
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("conv.py", GOOD)
    data = bytearray(z.read_bytes())                          # set the "encrypted" flag bit in both headers
    data[data.index(b"PK\x03\x04") + 6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    z.write_bytes(bytes(data))
    with zipfile.ZipFile(z) as zf:
        assert zf.infolist()[0].flag_bits & 0x1
    _not_gradable(intake([z]), "encrypted")


def test_tar_with_path_escape_or_link_is_refused(tmp_path, work, intake):
    def tar(name, members):
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w") as t:
            for info, data in members:
                t.addfile(info, io.BytesIO(data) if data is not None else None)
        return path

    evil = tarfile.TarInfo("../evil.py")
    evil.size = 5
    link = tarfile.TarInfo("conv.py")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("conv.py")
    hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
    paths = [tar("au1.tar", [(evil, b"pwned")]), tar("au2.tar", [(link, None)]), tar("au3.tar", [(hard, None)])]
    subs = intake(paths)
    assert [s.folder for s in subs] == [None, None, None]
    assert "outside the archive" in subs[0].error
    assert "link" in subs[1].error and "link" in subs[2].error
    assert not (tmp_path / "evil.py").exists()


def test_safe_extract_writes_only_under_dest(tmp_path):
    z = make_zip(tmp_path / "a.zip", {"a/b.py": "1", "c.txt": "2", "d/": ""})
    dest = tmp_path / "dest"
    written = safe_extract(z, dest, Limits())
    assert written == sorted([dest.resolve() / "a" / "b.py", dest.resolve() / "c.txt"])
    assert (dest / "d").is_dir()
    only_py = safe_extract(z, tmp_path / "dest2", Limits(), keep=lambda name: name.endswith(".py"))
    assert [p.name for p in only_py] == ["b.py"]
    with pytest.raises(IntakeError, match="outside the archive"):
        safe_extract(make_zip(tmp_path / "b.zip", {"x/../../y.py": "1"}), tmp_path / "dest3", Limits())
    assert not (tmp_path / "y.py").exists()


# --------------------------------------------------------------------------- folders and odd names

def test_symlinks_inside_a_folder_are_not_followed(tmp_path, work, intake):
    secret = tmp_path / "secret.py"
    secret.write_text("SECRET = 1\n")
    d = tmp_path / "in" / "au1"
    d.mkdir(parents=True)
    (d / "conv.py").write_text(GOOD)
    (d / "helpers.py").symlink_to(secret)
    (d / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    [s] = intake([d])
    assert files_of(s) == {"conv.py": GOOD}
    assert any("symbolic link 'helpers.py'" in n for n in s.notes)
    d2 = tmp_path / "in" / "au2"
    d2.mkdir()
    (d2 / "conv.py").symlink_to(secret)
    [s2] = intake([d2])
    assert s2.folder is None and "holds no conv.py" in s2.error


def test_odd_file_names_do_not_crash(tmp_path, work, intake):
    long = "x" * 300 + ".py"
    z = make_zip(tmp_path / "in" / "au1.zip", {
        "conv.py": GOOD, "héllo wörld.py": "A = 1\n", "日本語.py": "B = 2\n", long: "C = 3\n",
        "sub dir/" + "y" * 300 + ".ipynb": "{}", "spaces in name.py": "D = 4\n"})
    [s] = intake([z])
    assert s.error is None
    # Only importable names are copied beside the module; the 300-character name was shortened on extraction.
    assert set(files_of(s)) == {"conv.py", "日本語.py"}
    shortened = [p.name for p in work.rglob("x*.py")]
    assert len(shortened) == 1 and len(shortened[0].encode()) <= 255 and shortened[0].endswith(".py")
    d = tmp_path / "in" / "ünïcode földer"
    d.mkdir()
    (d / "conv.py").write_text(GOOD)
    [s2] = intake([d])
    assert s2.student == "unicode_folder"


def test_unknown_file_kind_and_missing_path(tmp_path, work, intake):
    pdf = tmp_path / "in" / "au1.pdf"
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF")
    _not_gradable(intake([pdf]), "not a zip")
    with pytest.raises(IntakeError, match="does not exist"):
        intake([tmp_path / "nope"])
    empty = tmp_path / "in" / "au2"
    empty.mkdir()
    (empty / "notes.txt").write_text("no code")
    _not_gradable(intake([empty]), "holds no conv.py")


def test_sha256_is_stable_and_tracks_content(tmp_path, work, intake):
    d = tmp_path / "in" / "au1"
    d.mkdir(parents=True)
    (d / "conv.py").write_text(GOOD)
    (d / "helpers.py").write_text("X = 1\n")
    z = make_zip(tmp_path / "in" / "au1.zip", {"helpers.py": "X = 1\n", "conv.py": GOOD})
    [a] = intake([d])
    [b] = collect([d], MODULE, tmp_path / "other-work")
    [c] = intake([z])
    assert a.sha256 == b.sha256 == c.sha256
    (d / "helpers.py").write_text("X = 2\n")
    [e] = intake([d])
    assert e.sha256 != a.sha256


# --------------------------------------------------------------------------- notebooks

def test_notebook_conversion_keeps_definitions_and_drops_work():
    text = notebook(
        ("markdown", "# Week 4\nSome text with def fake(): pass"),
        ("code", ["!pip install torch\n", "%matplotlib inline\n", "import torch\n",
                  "import torch.nn.functional as F\n"]),
        ("code", "EPS = 1e-5\nKERNEL = torch.tensor([[1.0, 0.0], [0.0, 1.0]])\nSIZES = (EPS, 2 ** 3)\n"),
        ("code", "def conv2d(x, w, eps=EPS):\n    # explain the shapes here\n"
                 "    return F.conv2d(x, w)  # (N, C, H, W)\n"),
        ("code", "@torch.no_grad()\ndef helper(x):\n    return x\n\n\nclass Net(torch.nn.Module):\n    pass\n"),
        ("code", "model = Net()\nfor epoch in range(10):\n    loss = model(x)\n    loss.backward()\nprint('done')\n"),
        ("code", "if __name__ == '__main__':\n    main()\n"),
        ("code", "data = torchvision.datasets.MNIST('.', download=True)\nW = torch.load('w.pt')\n"),
    )
    source, notes = notebook_to_module(text)
    compile(source, "conv.py", "exec")
    for kept in ("import torch", "import torch.nn.functional as F", "EPS = 1e-5",
                 "KERNEL = torch.tensor([[1.0, 0.0], [0.0, 1.0]])", "SIZES = (EPS, 2 ** 3)",
                 "def conv2d(x, w, eps=EPS):", "# explain the shapes here", "# (N, C, H, W)",
                 "@torch.no_grad()\ndef helper(x):", "class Net(torch.nn.Module):"):
        assert kept in source, kept
    for dropped in ("pip install", "%matplotlib", "for epoch", "backward", "print(", "model = Net()",
                    "__main__", "MNIST", "torch.load", "def fake"):
        assert dropped not in source, dropped
    summary = notes[0]
    assert "dropped 6 top-level statements" in summary and "1 for loop" in summary and "1 print" in summary
    assert any("removed 2 shell or magic lines" in n for n in notes)


def test_notebook_cell_that_does_not_parse_is_dropped_with_a_note():
    text = notebook(("code", "def good():\n    return 1\n"), ("markdown", "text"),
                    ("code", "def broken(:\n    pass\n"), ("code", "def also_good():\n    return 2\n"),
                    ("code", "%%time\ndef timed():\n    return 3\n"))
    source, notes = notebook_to_module(text)
    assert "def good():" in source and "def also_good():" in source
    assert "broken" not in source and "timed" not in source
    assert any(n.startswith("dropped cell 3: it does not parse") for n in notes), notes
    assert any("dropped cell 5" in n and "%%time" in n for n in notes), notes


def test_notebook_keeps_optional_imports_and_magic_inside_a_function_is_neutralised():
    text = notebook(
        ("code", "try:\n    from tqdm import tqdm\nexcept ImportError:\n    tqdm = lambda x: x\n"),
        ("code", "def setup():\n    !nvidia-smi\n    return 1\n"),
        ("code", "import os\nDATA = os.path.join('a', 'b')\n"),
    )
    source, notes = notebook_to_module(text)
    assert "from tqdm import tqdm" in source and "tqdm = lambda x: x" in source
    assert "def setup():" in source and "nvidia-smi" not in source
    compile(source, "conv.py", "exec")
    assert "DATA =" not in source                              # os is not a numeric library: dropped


def test_invalid_notebook_json_is_an_intake_error(tmp_path, work, intake):
    with pytest.raises(IntakeError, match=r"not a valid Jupyter notebook \(invalid JSON at line 2"):
        notebook_to_module('{"cells": [\n oops')
    with pytest.raises(IntakeError, match="no list of cells"):
        notebook_to_module('{"hello": 1}')
    with pytest.raises(IntakeError, match="not a valid Jupyter notebook"):
        notebook_to_module("[1, 2, 3]")
    nb = tmp_path / "in" / "au1.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text("print('I am a script, not a notebook')\n")
    s = _not_gradable(intake([nb]), "'au1.ipynb' is not a valid Jupyter notebook", "line 1")
    assert s.student == "au1"


def test_format_3_notebook_is_read():
    text = json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "language": "python", "input": ["def old():\n", "    return 3\n"],
         "outputs": [], "metadata": {}}], "metadata": {}}]})
    source, _ = notebook_to_module(text)
    assert "def old():" in source


def test_nothing_is_written_outside_the_work_directory(tmp_path, work):
    """Every hostile form in one batch; the parent of the work directory is unchanged."""
    inputs = tmp_path / "in"
    make_zip(inputs / "slip.zip", {"conv.py": GOOD, "../../../../slipped.py": "x", "a\\..\\..\\..\\..\\win.py": "x"})
    make_zip(inputs / "abs.zip", {"conv.py": GOOD, str(tmp_path / "absolute.py"): "x"})
    make_zip(inputs / "link.zip", {"conv.py": "../../linked.py"}, mode=stat.S_IFLNK | 0o777)
    make_zip(inputs / "good.zip", {"conv.py": GOOD})
    before = sorted(os.listdir(tmp_path)), tree(tmp_path, skip=work)
    subs = collect(sorted(inputs.iterdir()), MODULE, work)
    after = sorted(os.listdir(tmp_path)), tree(tmp_path, skip=work)
    assert after[0] == sorted(before[0] + ["work"]) and after[1] == before[1]
    assert [s.error is None for s in subs] == [False, True, False, False]   # abs, good, link, slip
    for s in subs:
        if s.folder:
            assert work.resolve() in s.folder.resolve().parents


def test_entry_larger_than_its_header_says_is_not_read_past_it(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "au1.zip", {"conv.py": GOOD, "big.py": b"#" * (2 * 1024 * 1024)})
    data = bytearray(z.read_bytes())
    central = data.index(b"PK\x01\x02", data.index(b"big.py") + 1)   # big.py's central-directory record
    data[central + 24: central + 28] = (100).to_bytes(4, "little")  # claims 100 bytes uncompressed
    z.write_bytes(bytes(data))
    _not_gradable(intake([z]), "au1.zip")
    assert all(p.stat().st_size <= 100 for p in work.rglob("big.py"))


def test_bulk_download_limits_scale_with_the_number_of_students(tmp_path, work, intake):
    entries = {f"1-{i} - au{n}1111 - Name - Nov 3, 2026 1052 AM - {f}": "# x\n"
               for i, (n, f) in enumerate([(1, "conv.py"), (1, "a.py"), (2, "conv.py"), (2, "a.py")])}
    bulk = make_zip(tmp_path / "in" / "bulk.zip", entries)
    subs = intake([bulk], limits=Limits(max_files=3))
    assert sorted(s.student for s in subs) == ["au11111", "au21111"] and all(s.error is None for s in subs)
    one = make_zip(tmp_path / "in" / "au31111.zip", {"conv.py": "1", "a.py": "2", "b.py": "3", "c.py": "4"})
    _not_gradable(intake([one], limits=Limits(max_files=3)), "4 entries")


# --------------------------------------------------------------------------- one submission costs only itself

@pytest.mark.parametrize("terms", [1200, 5000])
def test_deeply_nested_notebook_cell_is_dropped_with_a_note(tmp_path, work, intake, terms):
    """`SCALE = 1 + 1 + ...` made the converter (1,200 terms) or the parser (5,000) recurse and stop intake."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "au1.ipynb").write_text(notebook(("code", "def conv2d(x, w):\n    return x\n"),
                                          ("code", "SCALE = " + " + ".join(["1"] * terms) + "\n"),
                                          ("code", "def later():\n    return 2\n")))
    (d / "au2").mkdir()
    (d / "au2" / "conv.py").write_text(GOOD)
    subs = by_student(intake([d]))
    assert files_of(subs["au2"]) == {"conv.py": GOOD}                  # the classmate is untouched
    source = files_of(subs["au1"])["conv.py"]
    assert "def conv2d" in source and "def later" in source and "SCALE" not in source
    assert any("cell 2" in n and "nested too deeply" in n for n in subs["au1"].notes), subs["au1"].notes


def test_an_unexpected_failure_in_intake_costs_only_that_submission(tmp_path, work, intake, monkeypatch):
    from grader.intake import assembly

    real = assembly.notebook_to_module

    def fragile(text, name="the notebook"):
        if "boom" in text:
            raise RuntimeError("converter bug")
        return real(text, name)

    monkeypatch.setattr(assembly, "notebook_to_module", fragile)
    d = tmp_path / "in"
    d.mkdir()
    (d / "au1.ipynb").write_text(notebook(("code", "# boom\ndef conv2d(x, w):\n    return x\n")))
    (d / "au2.ipynb").write_text(notebook(("code", "def conv2d(x, w):\n    return w\n")))
    (d / "au3").mkdir()
    (d / "au3" / "conv.py").write_text(GOOD)
    subs = by_student(intake([d]))
    assert set(subs) == {"au1", "au2", "au3"}
    bad = subs["au1"]
    assert bad.folder is None and "RuntimeError: converter bug" in bad.error and len(bad.error.splitlines()) == 1
    assert "return w" in files_of(subs["au2"])["conv.py"] and files_of(subs["au3"]) == {"conv.py": GOOD}


def test_a_cell_that_does_not_parse_says_which_cell_why_and_what_it_loses():
    text = notebook(("code", "import torch\n"), ("code", "def sobel(x):\n    return x +\n\n\ndef other():\n    pass\n"))
    _, notes = notebook_to_module(text)
    [note] = [n for n in notes if n.startswith("dropped cell 2")]
    assert "line 2: invalid syntax" in note and "return x +" in note, note
    assert "sobel, other are not defined" in note, note


# --------------------------------------------------------------------------- stolen and sabotaged identities

def test_a_zip_on_the_command_line_is_one_students_unless_lms_or_bulk(tmp_path, work, intake):
    classmates = {f"au10000{i}/conv.py": f"# claims au10000{i}\n" for i in (2, 3, 4)}
    z = make_zip(tmp_path / "in" / "week04-au100001.zip", classmates)
    [s] = intake([z])
    assert s.student == "au100001" and s.error is None               # never au100002..4
    assert any("3 files could be conv.py" in n for n in s.notes)
    plain = make_zip(tmp_path / "in" / "class.zip", classmates)
    assert [s.student for s in intake([plain])] == ["class"]
    assert sorted(s.student for s in intake([plain], bulk=True)) == ["au100002", "au100003", "au100004"]
    # LMS-looking entries in a zip named after a student: still that student's zip
    fake = make_zip(tmp_path / "in" / "au100009.zip", {
        "1-2 - au100002 - Someone - Nov 3, 2026 1052 AM - conv.py": "# fake\n"})
    assert [s.student for s in intake([fake])] == ["au100009"]


def test_canvas_id_comes_from_the_lms_part_not_the_students_file_name(tmp_path, work, intake):
    z = make_zip(tmp_path / "in" / "submissions.zip", {
        "doejane_12345_67890_conv.py": "# jane\n",
        "roejohn_23456_67891_week04-au100001.py": "# john pretending to be au100001\n",
        "moejoe_LATE_34567_67892_au100002_conv.py": "# joe\n",
    })
    subs = by_student(intake([z]))
    assert set(subs) == {"12345", "23456", "34567"}
    assert files_of(subs["23456"]) == {"conv.py": "# john pretending to be au100001\n"}


# The whole class of attacks from issue 8, graded once: every victim keeps the grade their own code earns.
ATTACKS = {
    # victim: (what the attacker did, the victim's expected status, the victim's grade or error words)
    "au100001": ("an extra zip week04-au100001-resubmit.zip holding a symbolic link", "not_gradable",
                 "2 submissions claim the id 'au100001'"),
    "au100002": ("an extra zip week04-au100002_v2.zip with broken code", "not_gradable",
                 "2 submissions claim the id 'au100002'"),
    "au100003": ("a Canvas entry whose student-typed file name is week04-au100003.py", "graded", "full marks"),
    "au100004": ("Homework.zip whose manifest claims au100004", "graded", "full marks"),
    "au100005": ("class.zip on the command line holding folders au100005..7", "graded", "full marks"),
    "au100006": ("class.zip on the command line holding folders au100005..7", "graded", "full marks"),
    "au100007": ("class.zip on the command line holding folders au100005..7", "graded", "full marks"),
}


@pytest.fixture(scope="module")
def attacked_class(tmp_path_factory):
    from support import ROOT

    from grader import api
    from grader.course import Course

    course = Course(ROOT)
    ref = course.week("week04").solution_file.read_text()
    stub = course.week("week04").stub_file.read_text()
    tmp = tmp_path_factory.mktemp("attacked")
    subs = tmp / "subs"
    for victim in ATTACKS:
        (subs / victim).mkdir(parents=True)
        (subs / victim / "conv.py").write_text(ref)
    make_zip(subs / "week04-au100001-resubmit.zip", {"conv.py": "/etc/passwd"}, mode=stat.S_IFLNK | 0o777)
    make_zip(subs / "week04-au100002_v2.zip", {"conv.py": stub})
    make_zip(subs / "Homework.zip", {"conv.py": stub, "manifest.json": manifest("au100004")})  # sorts first
    canvas = make_zip(tmp / "canvas.zip", {"roejohn_23456_67891_week04-au100003.py": stub})
    bundle = make_zip(tmp / "class.zip", {f"{v}/conv.py": stub for v in ("au100005", "au100006", "au100007")})
    out = tmp / "out"
    # the attackers come first, so that an engine handing out ids first come, first served gives them away
    summary = api.grade(week="week04", submissions=[canvas, bundle, subs], out_dir=out, jobs=2, course=course)
    results = {p.stem: json.loads(p.read_text()) for p in (out / "week04").glob("*.json") if p.stem != "results"}
    return results, summary, out / "week04"


@pytest.mark.parametrize("victim", sorted(ATTACKS))
def test_an_attack_on_an_identity_never_costs_the_victim(attacked_class, victim):
    results, _, _ = attacked_class
    what, status, expected = ATTACKS[victim]
    r = results[victim]
    assert r["status"] == status, (what, r["error"])
    if status == "graded":                     # the reference was handed in: full marks
        assert r["score"] == r["max_score"] > 0, (what, r["error"])
    else:
        assert expected in r["error"] and len(r["error"].splitlines()) == 1, (what, r["error"])


def test_attackers_are_graded_under_their_own_ids_and_nobody_is_suffixed(attacked_class):
    results, summary, _ = attacked_class
    assert set(results) == {*ATTACKS, "Homework", "23456", "class"}
    assert results["Homework"]["score"] == results["23456"]["score"] == results["class"]["score"] == 0.0
    assert not any("-2" in s for s in results) and summary.missing == []
