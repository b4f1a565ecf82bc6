"""week04's bans on real evasions (tests/week04/evasions/<case>/: conv.py and expected.toml),
the static scan on its own, and the call-time operator guard on its own."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from support import ROOT, by_function, grade_folders
from grader.banned import scan
from grader.course import Course
from grader.sandbox.bans import Tripwires

EVASIONS = Path(__file__).parent / "evasions"
CASES = sorted(p.name for p in EVASIONS.iterdir() if (p / "expected.toml").is_file())
WEEK = Course(ROOT).week("week04")
BANS = {f: WEEK.banned_for(f) for f in WEEK.functions}


@pytest.fixture(scope="module")
def graded():
    return grade_folders(WEEK, {name: EVASIONS / name for name in CASES}, seed=3)


def test_every_case_is_here():
    assert len(CASES) >= 17


@pytest.mark.parametrize("case", CASES)
def test_evasion(graded, case):
    expected = tomllib.loads((EVASIONS / case / "expected.toml").read_text())
    result = graded[case]
    for t in result["tests"]:
        if t["function"] in expected["functions"]:
            assert t["status"] == expected["status"], (t["name"], t["status"], t["message"])
            assert t["score"] == 0.0 and t["message"]
        else:
            assert t["status"] == "passed", (t["name"], t["status"], t["message"])
    assert set(by_function(result)) == set(WEEK.functions)


def test_unreadable_source_is_graded_and_held(graded):
    tests = graded["deep_expression"]["tests"]
    assert tests and all("could not be checked for banned calls" in t["message"] for t in tests)


def test_messages_say_what_was_banned(graded):
    msgs = {t["message"] for t in graded["torch_convolution"]["tests"] if t["status"] == "banned"}
    assert msgs and all("torch.convolution" in m and "bans" in m for m in msgs)
    msgs = {t["message"] for t in graded["own_backward_calls_autograd"]["tests"] if t["status"] == "banned"}
    assert msgs and all("autograd" in m for m in msgs)
    review = [t for t in graded["tripwire_replaced_at_import"]["tests"] if t["function"] == "conv2d_forward"]
    assert all("sys.modules" in t["message"] and "a name built at run time" in t["message"]
               and "the test itself passed" in t["message"] for t in review)


# ---------------------------------------------------------------- the static scan alone
def test_scan_own_methods_never_banned():
    src = (EVASIONS / "own_backward_method" / "conv.py").read_text()
    assert scan(src, BANS).banned == {} and scan(src, BANS).review == {}


def test_scan_tensor_backward_still_found():
    src = "def conv2d_backward(dout, x, w, b):\n    out = (x * w).sum()\n    out.backward(dout)\n    return x.grad\n"
    assert scan(src, BANS).banned == {"conv2d_backward": ["torch.Tensor.backward"]}


@pytest.mark.parametrize("src, found", [
    ("import torch.nn.functional as F\ndef sobel(i):\n    return getattr(F, 'conv2d')(i, i)\n",
     "torch.nn.functional.conv2d"),
    ("import torch\ndef sobel(i):\n    return torch.ops.aten.convolution.default(i)\n", "torch.ops.aten.convolution.default"),
    ("import torch\ndef sobel(i):\n    return torch._C._VariableFunctions.max_pool2d(i, 2)\n", "torch.max_pool2d"),
    ("from torch.nn import functional as nnf\nconv = nnf.conv3d\ndef sobel(i):\n    return conv(i, i)\n",
     "torch.nn.functional.conv3d"),
])
def test_scan_spellings(src, found):
    assert found in scan(src, BANS).banned["sobel"]


@pytest.mark.parametrize("src, reason", [
    ("import sys\ndef sobel(i):\n    return sys.modules['torch'](i)\n", "sys.modules"),
    ("import torch.nn.functional as F\ndef sobel(i):\n    return getattr(F, 'con' + 'v2d')(i, i)\n",
     "a name built at run time"),
    ("def sobel(i):\n    import grader.sandbox.bans\n    return i\n", "the grader's own modules"),
    ("import gc\ndef sobel(i):\n    gc.get_objects()\n    return i\n", "gc"),
    ("import ctypes\ndef sobel(i):\n    return i\n", "ctypes"),
    ("import torch\ndef sobel(i):\n    return torch._C._nn.pad(i, (1, 1))\n", "torch._C"),
    ("import torch\ndef sobel(i):\n    return torch.ops.aten.add(i, i)\n", "torch.ops"),
    ("def sobel(i):\n    return __import__('torch').relu(i)\n", "__import__"),
    ("import importlib\ndef sobel(i):\n    return importlib.import_module('torch').relu(i)\n", "importlib"),
    ("def sobel(i):\n    return eval('i')\n", "eval"),
    ("def sobel(i, fn=None):\n    return fn.__closure__[0].cell_contents(i)\n", "__closure__"),
])
def test_scan_flags_what_tampers_or_hides(src, reason):
    review = scan(src, BANS).review
    assert any(reason in r for r in review["sobel"]), review


@pytest.mark.parametrize("src", [
    "import sys\nsys.modules['grader'] = None\ndef sobel(i):\n    return i\n",
    "import sys\nclass A:\n    hold = sys.modules.pop('grader', None)\ndef sobel(i):\n    return i\n",
    "import sys\ndef sobel(i, keep=sys.modules.clear()):\n    return i\n",
    "import torch\n@torch._C._disabled_torch_function_impl\ndef sobel(i):\n    return i\n",
], ids=["statement", "class-body", "default", "decorator"])
def test_scan_import_time_tampering_holds_every_function(src):
    assert set(scan(src, BANS).review) == set(BANS)


def test_scan_variables_named_like_modules_are_variables():
    src = "def sobel(images):\n    gc = images * 2\n    inspect = gc + 1\n    return gc.abs(), inspect\n"
    assert scan(src, BANS).review == {}


def test_scan_method_bodies_hold_only_who_calls_them():
    src = ("import sys\nclass A:\n    def m(self):\n        return sys.modules\n"
           "def sobel(i):\n    return A().m()\ndef gradient_magnitude(gx, gy):\n    return gx\n")
    assert set(scan(src, BANS).review) == {"sobel"}


def test_scan_never_raises():
    deep = "def sobel(images):\n    return " + "+".join(["1"] * 10000) + "\n"
    assert scan(deep, BANS).review["sobel"] == ["the source is nested too deeply to read"]
    assert scan("def sobel(:\n", BANS).banned == {}
    assert scan("x = '\0'\n", BANS) is not None
    assert scan("", BANS).banned == {}


def test_scan_reference_is_clean():
    assert scan(WEEK.solution_file.read_text(), BANS).banned == {}
    assert scan(WEEK.solution_file.read_text(), BANS).review == {}


# ---------------------------------------------------------------- the call-time guard alone
def _run(names, fn):
    wires = Tripwires()
    wires.student_dir = str(EVASIONS)
    wires.install([n for n in names if n.startswith("aten.")])  # operators only: names stay unwrapped here
    wires.arm(names)
    try:
        fn()
    finally:
        hits = wires.disarm()
    return hits


X = torch.randn(1, 2, 6, 6, dtype=torch.float64)
W = torch.randn(3, 2, 3, 3, dtype=torch.float64)


@pytest.mark.parametrize("call", [
    lambda: F.conv2d(X, W),
    lambda: torch.convolution(X, W, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1),
    lambda: torch._C._VariableFunctions.conv2d(X, W),
    lambda: torch.ops.aten.convolution.default(X, W, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1),
    lambda: F.conv_transpose2d(X, W.transpose(0, 1)),
    lambda: F.max_pool2d(X, 2),
    lambda: torch._C._VariableFunctions.max_pool2d(X, 2),
    lambda: torch.ops.aten.max_pool2d_with_indices(X, [2, 2]),
    lambda: F.unfold(X, 3),
    lambda: F.fold(torch.randn(1, 18, 16, dtype=torch.float64), (6, 6), 3),
], ids=["F.conv2d", "torch.convolution", "VF.conv2d", "aten.convolution", "conv_transpose2d", "F.max_pool2d",
        "VF.max_pool2d", "aten.max_pool2d_with_indices", "F.unfold", "F.fold"])
def test_guard_sees_every_spelling(call):
    assert _run(WEEK.banned_for("sobel"), call), "no banned operator recorded"


def test_guard_sees_autograd_only_where_banned():
    def autograd():
        x = X.clone().requires_grad_()
        (x * x).sum().backward()

    assert any("autograd" in h for h in _run(WEEK.banned_for("conv2d_backward"), autograd))
    assert _run(WEEK.banned_for("conv2d_forward"), autograd) == []


def test_guard_leaves_correct_code_alone():
    def correct():
        xp = F.pad(X, (1, 1, 1, 1))
        cols = xp.unfold(2, 3, 1).unfold(3, 3, 1)
        out = torch.einsum("nchwij,fcij->nfhw", cols, W)
        out.as_strided((1, 3, 2, 2), (48, 16, 4, 1)).amax()
        with torch.no_grad():
            torch.nn.Parameter(W.clone()) * 2
        (torch.nn.Parameter(W.clone()) * W).sum()  # a graph recorded (a layer class of its own), never run
        return out

    assert _run(WEEK.banned_for("conv2d_backward"), correct) == []
    # and it is off again afterwards
    assert not torch._C._dispatch_tls_is_dispatch_key_included(torch._C.DispatchKey.PreDispatch)
