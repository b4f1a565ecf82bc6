"""The sandbox's own guards, seen from the trusted side (the corpus in test_adversarial.py attacks them from inside)."""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support import FIXTURE_COURSE, ROOT, grade_folders, make_submission
from grader import wire
from grader.errors import UserError
from grader.sandbox import Limits, Sandbox


# ---------------------------------------------------------------- the warm parent starts clean
def _memory_holds(pid: int | str, needles: list[bytes]) -> set[bytes]:
    """Which needles are anywhere in the writable memory or the stack of process `pid`."""
    found = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            if "r" not in parts[1] or ("w" not in parts[1] and not line.rstrip().endswith("[stack]")):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            found |= {n for n in needles if n in data}
    return found


def test_warm_parent_holds_no_secret_of_the_grader(monkeypatch):
    """Neither the grader's environment nor a file it read is in the warm parent's memory (so in no worker's)."""
    token = "DLGRADE_LMS_TOKEN=" + "tok-" + os.urandom(6).hex()
    canary = ("another student's code " + os.urandom(6).hex()).encode()
    monkeypatch.setenv("DLGRADE_LMS_TOKEN", token.split("=", 1)[1])
    held = bytearray(canary)  # what intake would hold after reading a class
    needles = [token.encode(), canary]
    # the search can find both: in this process's memory (the token only in the environment of a child)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env=dict(os.environ))
    try:
        assert _memory_holds(child.pid, needles) == {token.encode()}
    finally:
        child.kill()
        child.wait()
    assert canary in _memory_holds("self", needles)
    with Sandbox() as sandbox:
        sandbox._await_ready()
        assert _memory_holds(sandbox.pid, needles) == set()
    assert held  # kept alive until the warm parent was searched


# ---------------------------------------------------------------- deadlines and caps on the wire
def test_a_trickled_answer_gets_no_more_time():
    a, b = socket.socketpair()
    stop = threading.Event()

    def trickle():
        a.sendall(struct.pack("!Q", 100))
        while not stop.is_set():
            try:
                a.send(b"x")
            except OSError:
                return
            time.sleep(0.2)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        wire.recv(b, 1 << 20, deadline=time.monotonic() + 1.0)
    assert time.monotonic() - started < 1.5  # each piece came in time; the whole did not
    stop.set()
    a.close()
    b.close()


def test_an_answer_over_the_limit_is_refused_from_its_header():
    a, b = socket.socketpair()
    a.sendall(struct.pack("!Q", 128 << 20))  # the 128 MiB it announces never needs to come
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.recv(b, 16 << 20, deadline=time.monotonic() + 5)
    skeleton = b'["L",[' + b'["D",[]],' * 200_000 + b'["n"]]]'
    body = struct.pack("!I", len(skeleton)) + skeleton
    assert len(body) < 16 << 20
    sender = threading.Thread(target=a.sendall, args=(struct.pack("!Q", len(body)) + body,), daemon=True)
    sender.start()
    with pytest.raises(wire.WireError, match="structure"):
        wire.recv(b, 16 << 20, deadline=time.monotonic() + 5)
    sender.join(5)
    a.close()
    b.close()


def test_a_submission_has_an_overall_deadline(toy_week, toy_source, tmp_path):
    """Calls each within their own timeout still stop when the submission's budget is spent."""
    slow = toy_source.replace("    return a + b", "    import time\n    time.sleep(0.6)\n    return a + b")
    slow = slow.replace("def softplus(x):", "def softplus(x):\n    import time\n    time.sleep(0.6)", 1)
    assert slow.count("sleep") == 2
    limits = Limits(call_timeout_s=1.0, test_timeout_s=5.0, submission_timeout_s=2.0)
    r = grade_folders(toy_week, {"slow": make_submission(tmp_path, "slow", slow, "toy")}, limits=limits)["slow"]
    assert r["duration_s"] < 2.0 + 3.0, r["duration_s"]
    assert any("budget" in t["message"] for t in r["tests"]), [t["message"] for t in r["tests"]]


def test_limits_are_checked_on_the_way_in():
    for bad in ({"call_timeout_s": -1}, {"memory_bytes": 0}, {"test_timeout_s": float("nan")},
                {"scratch_bytes": "lots"}, {"gpu_memory_fraction": 2.0}):
        with pytest.raises(UserError):
            Limits(**bad)


# ---------------------------------------------------------------- where isolation cannot be had
NO_USERNS = r"""
import ctypes, os, sys
from grader.sandbox import seccomp
assert seccomp.available()
lib = seccomp._LIB
ctx = lib.seccomp_init(seccomp.SCMP_ACT_ALLOW)
deny = seccomp.SCMP_ACT_ERRNO(1)
for name, conds in (("unshare", ()), ("clone", ((0, 0x10000000, 0x10000000),))):
    arr = (seccomp._ArgCmp * 1)(*[seccomp._ArgCmp(a, seccomp.SCMP_CMP_MASKED_EQ, m, v) for a, m, v in conds])
    assert lib.seccomp_rule_add_array(ctx, deny, lib.seccomp_syscall_resolve_name(name.encode()), len(conds), arr) == 0
assert lib.seccomp_rule_add_array(ctx, seccomp.SCMP_ACT_ERRNO(38), lib.seccomp_syscall_resolve_name(b"clone3"), 0, None) == 0
assert lib.seccomp_load(ctx) == 0
sys.argv = ["dlgrade", *sys.argv[1:]]
from grader.cli import main
main()
"""


def _dlgrade_without_user_namespaces(*args: str) -> subprocess.CompletedProcess:
    """The CLI on a machine whose kernel refuses user namespaces (a filter inherited by every process it starts)."""
    return subprocess.run([sys.executable, "-c", NO_USERNS, *args], capture_output=True, text=True,
                          cwd=FIXTURE_COURSE, timeout=300)


def test_without_isolation_check_stops_in_one_sentence(tmp_path):
    out = _dlgrade_without_user_namespaces("check", "week99", str(FIXTURE_COURSE / "solutions" / "week99"))
    assert out.returncode == 2, out.stdout + out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "user namespaces" in lines[0] and "--weak-sandbox" in lines[0], out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_weak_sandbox_grades_and_says_what_was_missing(tmp_path):
    report = tmp_path / "r.json"
    out = _dlgrade_without_user_namespaces("check", "week99", str(FIXTURE_COURSE / "solutions" / "week99"),
                                           "--weak-sandbox", "--json", str(report))
    assert out.returncode == 0, out.stdout + out.stderr
    import json

    r = json.loads(report.read_text())
    assert r["score"] == r["max_score"] > 0
    assert r["sandbox"]["mode"] == "weak" and "user-namespace" not in r["sandbox"]["features"]
    assert any(re.search(r"weak sandbox.*user-namespace", n) for n in r["notes"]), r["notes"]
    if os.geteuid() == 0:
        assert "unprivileged" in r["sandbox"]["features"]  # still not root: nobody


def test_doctor_says_when_grading_would_not_be_isolated():
    out = _dlgrade_without_user_namespaces("doctor")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "missing user-namespace" in out.stderr
    ok = subprocess.run([sys.executable, "-m", "grader.cli", "doctor"], capture_output=True, text=True,
                        cwd=ROOT, timeout=120)
    assert ok.returncode == 0 and "fully isolated" in ok.stdout, ok.stdout + ok.stderr


def test_without_isolation_grade_stops_and_records_nobody(tmp_path):
    """A broken sandbox is the machinery's fault: exit 2, one sentence, and no student gets a result."""
    import shutil

    subs = tmp_path / "subs"
    for name in ("au1", "au2"):
        shutil.copytree(FIXTURE_COURSE / "solutions" / "week99", subs / name)
    out = _dlgrade_without_user_namespaces("grade", "week99", str(subs), "-o", str(tmp_path / "out"), "-j", "2")
    assert out.returncode == 2, out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "user namespaces" in errors[0] and "Traceback" not in out.stderr, out.stderr
    assert not list((tmp_path / "out").rglob("au*.json"))


def test_temporary_files_work_in_the_worker(toy_week, toy_source, tmp_path):
    """tempfile finds the worker's scratch folder (the warm parent's /tmp is not the worker's)."""
    uses_tmp = toy_source.replace("    return a + b", """    import os, tempfile
    with tempfile.NamedTemporaryFile(suffix=".pt") as f:
        torch.save(a + b, f.name)
        out = torch.load(f.name)
    assert os.path.dirname(f.name) == os.getcwd() == os.environ["TMPDIR"]
    return out""")
    assert uses_tmp != toy_source
    r = grade_folders(toy_week, {"tmp": make_submission(tmp_path, "tmp", uses_tmp, "toy")})["tmp"]
    assert {t["status"] for t in r["tests"] if t["function"] == "add"} == {"passed"}, \
        [t["message"] for t in r["tests"] if t["function"] == "add"]


def test_a_name_ban_may_be_a_pattern(tmp_path):
    """`torch.nn.RNN*` bans every class it matches, in the source and at call time, and nothing else."""
    import torch

    from grader.banned import scan
    from grader.sandbox.bans import Tripwires

    bans = {"f": ("torch.nn.RNN*",)}
    assert scan("import torch.nn as nn\ndef f(x):\n    return nn.RNNCell(3, 4)(x)\n", bans).banned == \
        {"f": ["torch.nn.RNN*"]}
    assert scan("import torch.nn as nn\ndef f(x):\n    return nn.GRUCell(3, 4)(x)\n", bans).banned == {}
    wires = Tripwires()
    wires.student_dir = str(tmp_path)
    wires.install(["torch.nn.RNN*"])
    student = compile("def f(kind):\n    return kind(3, 4)\n", str(tmp_path / "sequence.py"), "exec")
    namespace = {}
    exec(student, namespace)
    for kind, banned in ((torch.nn.RNNCell, True), (torch.nn.RNN, True), (torch.nn.GRUCell, False)):
        wires.arm(["torch.nn.RNN*"])
        try:
            namespace["f"](kind)
        finally:
            hits = wires.disarm()
        assert hits == (["torch.nn.RNN*"] if banned else []), (kind, hits)


def test_zero_dimensional_tensors_cross_the_wire_and_key_recordings():
    import torch

    for t in (torch.tensor(3), torch.tensor(2.5, dtype=torch.float64), torch.tensor(True)):
        back = wire.loads(wire.dumps(t))
        assert back.shape == () and back.dtype == t.dtype and back.item() == t.item()
    assert wire.canonical_hash(torch.tensor(3)) != wire.canonical_hash(torch.tensor(4))
    assert wire.canonical_hash([torch.tensor(3)]) != wire.canonical_hash([torch.tensor([3])])
