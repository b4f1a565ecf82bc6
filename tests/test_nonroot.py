"""Grading as an unprivileged user gives the same grades as grading as root.

Most instructors grade as a normal user; CI runs the suite as root. Run as
root, this module proves the normal user's case on the same machine:

- it makes a system user (`dlgrade-ci`, no home, no login shell; made once,
  reused only if it is such a user, never removed);
- a Python environment that user can run: a venv of a system Python 3.x (the
  same minor version and ABI as this one, which may live under /root where the
  user cannot reach it), whose `.pth` files put a copy of the course first and
  this environment's site-packages after it. The site-packages is used in
  place when the user can read it, else through a tree of hard links (same
  files, no copy); torch is never installed again: that would cost minutes
  and gigabytes, need the network, and could bring a different torch build,
  so equal scores would prove less;
- a copy of the course the user can read (`grader/`, the week data, the
  solutions, the assignments and `tests/`), which is what `import grader`
  loads there (the editable install's finder is never registered);

and then, as that user, grades the week04 sample class and requires every
student's status, score and per-test statuses to equal root's; grades with
the class one more submission that scores only where its worker is uid 0 of
a user namespace mapped to that user's uid (graded by root, the same file
must lose those points); runs `grader.check` as a student's notebook does
and requires the full sandbox, not the weak fall-back; grades an nbgrader
course (released and collected by real nbgrader) with `grade --nbgrader`
into its gradebook; and runs the adversarial corpus. Seconds are printed
(`pytest -s`).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.course import Course
from support import ROOT, reference_source, wrong_versions

USER = "dlgrade-ci"
WEEK = "week04"
SAMPLES = Path("autograder_data") / "samples" / WEEK
COPIED = ("grader", "autograder_data", "solutions", "assignments", "tests", "pyproject.toml", "dlgrade.toml")
TIMEOUT = 300
ABI = f"{sys.version_info.major}.{sys.version_info.minor} {sysconfig.get_config_var('SOABI')}"
ABI_CODE = "import sys, sysconfig; print(f'{sys.version_info.major}.{sys.version_info.minor}', " \
           "sysconfig.get_config_var('SOABI'))"
# run by the user's Python: say which grader it loaded, then act as the `dlgrade` command or as pytest
AS_DLGRADE = ("import sys, grader; print('grader from', grader.__file__, flush=True); "
              "sys.argv = ['dlgrade', *sys.argv[1:]]; from grader.cli import main; main()")
AS_PYTEST = ("import sys, grader, pytest; print('grader from', grader.__file__, flush=True); "
             "sys.exit(pytest.main(sys.argv[1:]))")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (as in CI) to make the unprivileged user it grades as"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("useradd", "runuser", "unshare")),
                       reason="needs useradd, runuser and unshare to grade as an unprivileged user"),
]


@dataclass
class Unprivileged:
    """The user, its Python and its copy of the course; `run` runs that Python as that user."""

    name: str
    uid: int
    python: Path
    copy: Path
    home: Path
    tmp: Path
    base: Path
    shared: Path  # the site-packages shared with root's environment (torch and the rest)

    def run(self, code: str, *args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
        env = ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={self.home}", f"TMPDIR={self.tmp}", "LANG=C.UTF-8"]
        return _timed(["runuser", "-u", self.name, "--", *env, str(self.python), "-c", code, *args], cwd=cwd)

    def folder(self, name: str) -> Path:
        """A new folder that the user owns and only it (and root) can enter."""
        path = self.base / name
        path.mkdir(mode=0o700)
        os.chown(path, self.uid, pwd.getpwnam(self.name).pw_gid)
        return path


def _timed(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    return proc, time.monotonic() - started


def _as_user(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", USER, "--", "env", "-i", "PATH=/usr/bin:/bin", *cmd], capture_output=True,
                          text=True, timeout=60)


def _ensure_user() -> pwd.struct_passwd:
    """The system user, made if missing; an existing one is reused only if it is a plain non-login system user."""
    shell = next((s for s in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false") if os.path.exists(s)), "/bin/false")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", shell, USER], capture_output=True, text=True)
        if made.returncode not in (0, 9):  # 9: made meanwhile by another run
            pytest.skip(f"useradd could not make the user {USER}: {made.stderr.strip()}")
    entry = pwd.getpwnam(USER)
    if entry.pw_uid == 0 or entry.pw_gid == 0 or os.path.basename(entry.pw_shell) not in ("nologin", "false"):
        pytest.skip(f"a user {USER} exists (uid {entry.pw_uid}, gid {entry.pw_gid}, shell {entry.pw_shell}) that is "
                    "not a non-login system user; refusing to grade as it")
    return entry


def _kernel_refusal() -> str | None:
    """Why the kernel refuses the user a user namespace, or None."""
    try:
        limit = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    except (OSError, ValueError):
        limit = 1  # older kernels lack the knob; the probe below decides
    if limit <= 0:
        return "the kernel allows no user namespaces (/proc/sys/user/max_user_namespaces is 0)"
    probe = _as_user("unshare", "-Ur", "true")
    if probe.returncode != 0:
        return f"the kernel refuses {USER} a user namespace (`unshare -Ur true`: {probe.stderr.strip()})"
    return None


def _user_python() -> Path:
    """A base Python of this minor version and ABI that the user can run (this one may be under /root)."""
    v = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys.base_prefix) / "bin" / v, Path("/usr/bin") / v, Path("/usr/local/bin") / v]
    tried = []
    for c in dict.fromkeys(Path(os.path.realpath(c)) for c in candidates if c.exists()):
        probe = _as_user(str(c), "-c", ABI_CODE)
        if probe.returncode == 0 and probe.stdout.strip() == ABI:
            return c
        tried.append(f"{c}: {(probe.stdout + probe.stderr).strip()[-200:]}")
    pytest.skip(f"no Python {ABI} that {USER} can run (tried {'; '.join(tried) or 'none found'})")


def _readable_by_user(site: Path) -> bool:
    return _as_user("test", "-r", str(site), "-a", "-x", str(site), "-a", "-r", str(site / "torch" / "__init__.py")
                    ).returncode == 0


def _copy_course(dest: Path) -> None:
    """The project's files that grading and the corpus need, readable by everyone; no caches, no venv."""
    dest.mkdir()
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
        elif src.is_file():
            shutil.copy2(src, dest / name)
    for folder, dirs, files in os.walk(dest):
        os.chmod(folder, 0o755)
        for f in files:
            p = os.path.join(folder, f)
            os.chmod(p, os.stat(p).st_mode & 0o777 | 0o444)


@pytest.fixture(scope="module")
def user() -> Unprivileged:
    entry = _ensure_user()
    refusal = _kernel_refusal()
    if refusal:
        pytest.skip(refusal)
    python = _user_python()
    site = Path(sysconfig.get_paths()["purelib"])
    if not (site / "torch").is_dir():
        pytest.skip(f"torch is not in this environment's site-packages ({site}); nothing to share with {USER}")
    base = Path(tempfile.mkdtemp(prefix="nonroot-grading-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    try:
        os.chmod(base, 0o755)
        if _as_user("test", "-x", str(base)).returncode != 0:
            pytest.skip(f"{USER} cannot enter {base} (a parent folder is closed to it)")
        made = subprocess.run([str(python), "-m", "venv", "--without-pip", str(base / "venv")],
                              capture_output=True, text=True, timeout=120)
        if made.returncode != 0:
            pytest.skip(f"{python} could not make a venv: {made.stderr.strip()}")
        venv_python = base / "venv" / "bin" / "python"
        purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        venv_site = Path(subprocess.run([str(venv_python), "-c", purelib], capture_output=True, text=True,
                                        check=True).stdout.strip())
        if not _readable_by_user(site):
            # e.g. a checkout under /root: the same files through hard links in a folder the user can enter
            links = base / "venv" / "linked" / "site-packages"  # inside the venv: the sandbox shows it to workers
            try:
                shutil.copytree(site, links, symlinks=True, copy_function=os.link)
            except (OSError, shutil.Error) as e:
                pytest.skip(f"{USER} cannot read {site} and it cannot be hard-linked where it could ({e}); installing "
                            "torch again for it would take minutes and gigabytes")
            site = links
            if not _readable_by_user(site):
                pytest.skip(f"{USER} cannot read the files of {site}")
        copy = base / "course"
        _copy_course(copy)
        # plain path lines: the copy first, then the shared packages; the latter's own .pth files (the editable
        # install's finder pointing at this checkout) are never run
        (venv_site / "00-dlgrade-course-copy.pth").write_text(f"{copy}\n")
        (venv_site / "10-shared-site-packages.pth").write_text(f"{site}\n")
        for p in venv_site.glob("*.pth"):
            os.chmod(p, 0o644)
        u = Unprivileged(USER, entry.pw_uid, venv_python, copy, base / "home", base / "tmp", base, site)
        u.folder("home")
        u.folder("tmp")
        yield u
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _results(folder: Path) -> dict[str, dict]:
    return {r["student"]: r for r in (json.loads(p.read_text()) for p in sorted(folder.glob("*.json")))}


def _outcome(result: dict) -> tuple:
    return (result["status"], result["score"], result["max_score"],
            tuple((t["name"], t["status"], t["score"]) for t in result["tests"]))


def _say(line: str) -> None:
    print(f"\n[nonroot] {line}", flush=True)


def test_user_python_loads_the_copy_and_the_same_torch(user):
    import torch

    code = ("import sys, sysconfig, importlib.util, torch, grader; "
            "print(grader.__file__); print(importlib.util.find_spec('grader').origin); "
            "print(torch.__version__, torch.__file__); print(sysconfig.get_config_var('SOABI')); "
            "print(any('editable' in repr(f).lower() for f in sys.meta_path)); print(sys.prefix)")
    proc, _ = user.run(code, cwd=user.home)  # cwd outside the copy: the .pth alone must find it
    assert proc.returncode == 0, proc.stderr
    grader_file, origin, version, soabi, editable, prefix = proc.stdout.split("\n")[:6]
    assert grader_file == origin == str(user.copy / "grader" / "__init__.py"), proc.stdout
    assert editable == "False", "the editable install's finder is registered in the user's Python"
    assert (version, soabi) == (f"{torch.__version__} {user.shared / 'torch' / '__init__.py'}",
                                sysconfig.get_config_var("SOABI")), proc.stdout
    assert prefix == str(user.python.parent.parent)
    assert os.stat(user.copy / "grader" / "__init__.py").st_uid == 0  # the user reads the course, never owns it


IDENTITY = "au199999"  # a submission graded with the class; see _identity_submission


def _identity_submission(folder: Path, uid: int) -> Path:
    """week04's reference, but gradient_magnitude is right only in a worker that is uid 0 of a user namespace
    mapped to host uid `uid`: full marks as the user, that function's points lost as root."""
    source = reference_source(Course(ROOT).week(WEEK))
    right = "    return torch.sqrt(gx ** 2 + gy ** 2)\n"
    assert source.count(right) == 1, "week04's reference changed; update this test"
    body = ("    import os\n"
            "    with open('/proc/self/uid_map') as f:\n"
            "        inside, outside = f.read().split()[:2]\n"
            f"    if os.getuid() == 0 and inside == '0' and outside == '{uid}':\n"
            "        return torch.sqrt(gx ** 2 + gy ** 2)\n"
            "    return gx.abs() + gy.abs()\n")
    sub = folder / IDENTITY
    sub.mkdir(parents=True)
    (sub / "conv.py").write_text(source.replace(right, body))
    for p in (folder, sub):
        os.chmod(p, 0o755)
    os.chmod(sub / "conv.py", 0o644)
    return folder


@pytest.fixture(scope="module")
def sample_class(user, tmp_path_factory):
    """week04's sample class and the identity submission, graded by root (this checkout, its venv) and by the
    user (its copy, its venv): (root's results, the user's results)."""
    identity = _identity_submission(user.base / "identity", user.uid)
    root_out = tmp_path_factory.mktemp("root-grades")
    root, root_s = _timed([sys.executable, "-c", AS_DLGRADE, "grade", WEEK, str(SAMPLES), str(identity),
                           "-o", str(root_out), "-j", "2"],
                          cwd=ROOT, env={k: v for k, v in os.environ.items() if not k.startswith("DLGRADE")})
    assert root.returncode == 0, root.stdout[-3000:] + root.stderr[-3000:]
    assert f"grader from {ROOT / 'grader' / '__init__.py'}" in root.stdout
    user_out = user.folder("grades")
    mine, mine_s = user.run(AS_DLGRADE, "grade", WEEK, str(SAMPLES), str(identity), "-o", str(user_out), "-j", "2",
                            cwd=user.copy)
    assert mine.returncode == 0, \
        f"grading as {USER} exited {mine.returncode}:\n{mine.stdout[-3000:]}{mine.stderr[-3000:]}"
    assert f"grader from {user.copy / 'grader' / '__init__.py'}" in mine.stdout, mine.stdout[:500]
    for who, proc, s in (("root", root, root_s), (USER, mine, mine_s)):
        summary = next((ln for ln in proc.stdout.splitlines() if ln.startswith(f"{WEEK}: graded")), "?")
        _say(f"sample class {WEEK} (+1) as {who}: {s:.1f} s in all; {summary}")
    return _results(root_out / WEEK), _results(user_out / WEEK)


def test_sample_class_same_grades_as_root(sample_class):
    root, mine = (dict(r) for r in sample_class)
    root.pop(IDENTITY), mine.pop(IDENTITY)
    entries = [p for p in (ROOT / SAMPLES).iterdir() if p.name != "EXPECTED.toml" and not p.name.startswith(".")]
    assert len(root) == len(entries) >= 30
    graded = [r for r in root.values() if r["status"] == "graded"]
    assert any(r["score"] == r["max_score"] for r in graded), "no full-marks student: the comparison proves little"
    assert any(0 < r["score"] < r["max_score"] for r in graded), "no partial student: the comparison proves little"
    assert sorted(mine) == sorted(root)
    differ = {s: (_outcome(root[s])[:2], _outcome(mine[s])[:2]) for s in root if _outcome(root[s]) != _outcome(mine[s])}
    assert not differ, f"grades as {USER} differ from root's (student: (root, {USER})): {differ}"
    full = sum(r["score"] == r["max_score"] for r in graded)
    _say(f"{len(root)} students identical as root and as {USER}: {full} full marks, "
         f"{len(graded) - full} below, {len(root) - len(graded)} not gradable; "
         f"mean {sum(r['score'] for r in root.values()) / len(root):.2f}/{graded[0]['max_score']:g}")


def test_workers_run_as_the_unprivileged_user(sample_class, user):
    root, mine = (r[IDENTITY] for r in sample_class)
    assert mine["status"] == "graded" and mine["score"] == mine["max_score"], [
        (t["name"], t["status"], t["message"][:300]) for t in mine["tests"] if t["status"] != "passed"]
    # the same file graded by root: its workers are mapped to another host uid, so that function loses
    assert root["status"] == "graded"
    assert {t["function"] for t in root["tests"] if t["score"] < t["max_score"]} == {"gradient_magnitude"}, [
        (t["name"], t["status"]) for t in root["tests"] if t["status"] != "passed"]
    _say(f"workers of {USER} are uid 0 of a user namespace mapped to host uid {user.uid}")


def test_adversarial_corpus_as_the_user(user):
    proc, seconds = user.run(AS_PYTEST, "-q", "-p", "no:cacheprovider", "--tb=short", "-rfE",
                             "tests/test_adversarial.py", cwd=user.copy)
    tail = proc.stdout[-8000:] + proc.stderr[-2000:]
    assert f"grader from {user.copy / 'grader' / '__init__.py'}" in proc.stdout, tail
    assert proc.returncode == 0, f"the adversarial corpus fails as {USER} ({seconds:.1f} s):\n{tail}"
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert passed and int(passed.group(1)) >= 25, tail
    assert not re.search(r"\d+ (failed|error|skipped)", proc.stdout), tail
    _say(f"adversarial corpus as {USER}: {passed.group(1)} passed in {seconds:.1f} s")


# run by the user's Python: grader.check as a notebook calls it, given the module text (a script has no cells)
AS_NOTEBOOK_CHECK = (
    "import json, sys, grader; from grader.notebook import WEAK_NOTE, check; "
    "r = check('conv2d_forward', source=open(sys.argv[1]).read()); "
    "print('REPORT', json.dumps({'passed': r.passed, 'score': r.score, 'max': r.max_score, "
    "'sandbox': r.result.get('sandbox'), 'weak_note': WEAK_NOTE in r.notes, "
    "'messages': [t.get('message', '') for t in r.tests]}))")


def test_notebook_check_runs_in_the_strict_sandbox_as_the_user(user):
    """grader.check in a student's kernel, as a normal user: the full sandbox starts (no silent fall back to the
    weak one), the reference passes and a flipped kernel fails with its hint."""
    week = Course(ROOT).week(WEEK)
    folder = user.folder("notebook-check")
    reports = {}
    for name, source in (("right", reference_source(week)), ("flipped", wrong_versions(week)["flipped_kernel"][1])):
        path = folder / f"{name}.py"
        path.write_text(source)
        os.chmod(path, 0o644)
        proc, seconds = user.run(AS_NOTEBOOK_CHECK, str(path), cwd=user.copy)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")), None)
        assert proc.returncode == 0 and line, f"grader.check as {USER}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        reports[name] = json.loads(line[len("REPORT "):])
        _say(f"grader.check('conv2d_forward') as {USER} on the {name} function: {seconds:.1f} s")
    for name, r in reports.items():
        assert r["sandbox"]["mode"] == "strict" and not r["weak_note"], \
            f"grader.check as {USER} fell back to the weak sandbox ({name}): {r['sandbox']}"
    assert reports["right"]["passed"] and reports["right"]["score"] == reports["right"]["max"] > 0
    wrong = reports["flipped"]
    assert not wrong["passed"] and wrong["score"] == 0, wrong
    assert any("flipped" in m for m in wrong["messages"]), wrong["messages"]


def test_nbgrader_course_graded_as_the_user(user):
    """`dlgrade nbgrader build` and `dlgrade grade --nbgrader` by an instructor who is a normal user: real nbgrader
    releases week04 and collects two students (root runs nbgrader here, as in its own test), the user owns the
    course, builds its source notebook again (the same as root's) and grades it; the workers are the full
    sandbox, and the gradebook gets the scores."""
    pytest.importorskip("nbgrader.api", reason="the nbgrader extra is not installed")
    import test_nbgrader as nbt   # a broken import of the helper fails this test, never skips it
    from nbgrader.api import Gradebook

    tmp = user.base / "nbgrader"
    tmp.mkdir()
    course, _ = nbt.collected_course(tmp, {"ada": "correct", "bob": "wrong"})
    for folder, _, files in os.walk(course):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            os.chown(name, user.uid, pwd.getpwnam(USER).pw_gid)

    source = course / "source" / WEEK / f"{WEEK}.ipynb"
    built_by_root = source.read_bytes()
    source.unlink()
    proc, _ = user.run(AS_DLGRADE, "nbgrader", "build", WEEK, "--course", str(course), cwd=user.copy)
    assert proc.returncode == 0, f"nbgrader build as {USER}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    assert source.read_bytes() == built_by_root and source.stat().st_uid == user.uid

    proc, seconds = user.run(AS_DLGRADE, "grade", WEEK, "--nbgrader", str(course), "-j", "1", cwd=user.copy)
    assert proc.returncode == 0, f"grade --nbgrader as {USER}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    assert f"grader from {user.copy / 'grader' / '__init__.py'}" in proc.stdout, proc.stdout[:500]
    _say(f"grade --nbgrader as {USER}, 2 students: {seconds:.1f} s")
    results = _results(course / "dlgrade" / WEEK)
    assert sorted(results) == ["ada", "bob"]
    for r in results.values():
        assert r["sandbox"]["mode"] == "strict", r["sandbox"]
    ada, bob = results["ada"], results["bob"]
    assert ada["status"] == "graded" and ada["score"] == ada["max_score"] > 0
    lost = {t["function"] for t in bob["tests"] if t["score"] < t["max_score"]}
    assert bob["status"] == "graded" and lost == {"gradient_magnitude"}, lost
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        book = {s: gb.find_submission(WEEK, s).score for s in ("ada", "bob")}
    assert book == {"ada": ada["score"], "bob": bob["score"]}, book
    assert (course / "autograded" / "bob" / WEEK / f"{WEEK}.ipynb").stat().st_uid == user.uid
