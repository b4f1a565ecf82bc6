"""The engine on a tiny fixture week that has one function of each shape the
real weeks need: a plain call, an in-place update, a class loaded with the
reference's weights, a whole training epoch, a forward hook, and a ban."""

from __future__ import annotations

import pytest

from support import by_function, grade_folders, lost, make_submission
from grader.release import make_stub, verify
from grader.sandbox import Limits

# Each variant: (description, old text, new text, the functions that must lose points)
VARIANTS = {
    "not_in_place": ("momentum_step builds new tensors instead of updating in place",
                     "        v.mul_(momentum).add_(g)\n        p.sub_(lr * v)",
                     "        v = momentum * v + g\n        p = p - lr * v", {"momentum_step"}),
    "scale_factor_ignored": ("Scale forgets its factor", "return x @ self.weight.T * self.factor",
                             "return x @ self.weight.T", {"Scale"}),
    "no_zero_grad": ("train_epoch never zeroes the gradients", "        optimizer.zero_grad()\n", "", {"train_epoch"}),
    "mean_not_weighted": ("train_epoch averages batch means", "total += loss.item() * x.shape[0]",
                          "total += loss.item() * 6", {"train_epoch"}),
    "hook_output_of_model": ("mean_activation averages the model output, not the layer's",
                             "    return seen[0].mean(0)", "    return model(x).detach().mean(0)", {"mean_activation"}),
    "softplus_unstable": ("softplus overflows for large logits",
                          "return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))",
                          "return torch.log(1 + torch.exp(x))", {"softplus"}),
    "softplus_banned": ("softplus calls the banned F.softplus",
                        "return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))",
                        "return torch.nn.functional.softplus(x)", {"softplus"}),
    "softplus_banned_hidden": ("softplus reaches F.softplus through getattr, caught at call time",
                               "return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))",
                               "return getattr(torch.nn.functional, 'soft' + 'plus')(x)", {"softplus"}),
    "add_modifies_input": ("add writes into its first argument",
                           "    return a + b\n", "    a += b\n    return a\n", {"add"}),
}


@pytest.fixture(scope="module")
def variant_results(toy_week, toy_source, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("variants")
    folders = {"reference": toy_week.solution_file.parent,
               "stub": make_submission(tmp, "stub", make_stub(toy_source), "toy")}
    for name, (_, old, new, _) in VARIANTS.items():
        assert old in toy_source, name
        folders[name] = make_submission(tmp, name, toy_source.replace(old, new), "toy")
    return grade_folders(toy_week, folders)


def test_reference_full_marks_and_stub_zero(variant_results):
    ref, stub = variant_results["reference"], variant_results["stub"]
    assert ref["score"] == ref["max_score"] == 10.0
    assert all(t["status"] == "passed" for t in ref["tests"])
    assert stub["score"] == 0.0 and stub["max_score"] == 10.0
    assert {t["status"] for t in stub["tests"]} == {"error"}
    assert "not implemented yet" in stub["tests"][0]["message"]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_loses_exactly_its_function(variant_results, name):
    result = variant_results[name]
    assert lost(result) == VARIANTS[name][3], by_function(result)


def test_bans_static_and_at_call_time(variant_results):
    static = [t for t in variant_results["softplus_banned"]["tests"] if t["function"] == "softplus"]
    assert {t["status"] for t in static} == {"banned"}
    assert "torch.nn.functional.softplus" in static[0]["message"]
    hidden = [t for t in variant_results["softplus_banned_hidden"]["tests"] if t["function"] == "softplus"]
    assert {t["status"] for t in hidden} == {"banned"}


def test_in_place_modification_is_reported(variant_results):
    msgs = [t["message"] for t in variant_results["add_modifies_input"]["tests"] if t["function"] == "add"]
    assert any("modified its input argument 1 in place" in m for m in msgs), msgs


def test_in_place_contract_needs_real_mutation(variant_results):
    [t] = [t for t in variant_results["not_in_place"]["tests"] if t["function"] == "momentum_step"]
    assert t["status"] == "failed" and "params" in t["message"]


def test_verify_fixture_week(toy_week):
    v = verify(toy_week)
    assert v.ok, v.problems


WORKER_FAULTS = {
    # name: (replacement for add's body, expected status of add's tests, words in the message);
    # where two outcomes are right, {status: words in the message} for each
    "endless_loop": ("    while True:\n        pass\n", "timeout", "timed out"),
    "sleeps": ("    import time\n    time.sleep(60)\n", "timeout", "timed out"),
    "exits": ("    import os\n    os._exit(0)\n", "crashed", "ended abruptly"),
    "sys_exit": ("    import sys\n    sys.exit(3)\n", "error", "SystemExit"),
    "segfault": ("    import ctypes\n    ctypes.string_at(0)\n", "crashed", "SIGSEGV"),
    # PID 1 of its namespace where the kernel allows one: a signal to itself is then ignored and the
    # call returns None; elsewhere the worker dies. Never a pass either way, and each says why.
    "kills_itself": ("    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n",
                     {"crashed": "ended abruptly", "failed": "got None"}, None),
    "tensor_subclass": ("    class Liar(torch.Tensor):\n        def __eq__(self, o): return True\n"
                        "    return (a + b).as_subclass(Liar)\n", "error", "Tensor subclass"),
    "numpy_answer": ("    return (a + b).numpy()\n", "error", "numpy"),
    "returns_object": ("    class Any:\n        def __eq__(self, o): return True\n    return Any()\n", "failed", "should be a torch.Tensor"),
}


@pytest.fixture(scope="module")
def fault_results(toy_week, toy_source, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    folders = {"before": toy_week.solution_file.parent}
    for name, (body, _, _) in WORKER_FAULTS.items():
        folders[name] = make_submission(tmp, name, toy_source.replace("    return a + b\n", body), "toy")
    folders["import_loop"] = make_submission(tmp, "import_loop", "while True:\n    pass\n" + toy_source, "toy")
    folders["import_error"] = make_submission(tmp, "import_error", "import no_such_module\n" + toy_source, "toy")
    folders["after"] = toy_week.solution_file.parent
    return grade_folders(toy_week, folders, limits=Limits(call_timeout_s=1.5))


@pytest.mark.parametrize("name", sorted(WORKER_FAULTS))
def test_worker_fault_costs_only_that_function(fault_results, name):
    result = fault_results[name]
    _, status, words = WORKER_FAULTS[name]
    expected = status if isinstance(status, dict) else {status: words}
    assert all(expected.values()), "every outcome names words its message must hold"
    add_tests = [t for t in result["tests"] if t["function"] == "add"]
    assert add_tests
    for t in add_tests:
        assert t["status"] in expected and expected[t["status"]] in t["message"], add_tests
    assert lost(result) == {"add"}, by_function(result)


def test_import_failures_cost_everything_and_say_why(fault_results):
    for name, words in (("import_loop", "timed out"), ("import_error", "no_such_module")):
        r = fault_results[name]
        assert r["score"] == 0 and r["status"] == "graded"
        assert all(words in t["message"] for t in r["tests"]), r["tests"][0]


def test_honest_submissions_around_faults_keep_full_marks(fault_results):
    for name in ("before", "after"):
        assert fault_results[name]["score"] == fault_results[name]["max_score"]


def test_verify_notices_stale_recordings_and_stub(tmp_path):
    import shutil

    import torch

    from grader.course import Course
    from support import FIXTURE_COURSE

    course = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, course)
    week = Course(course).week("week99")
    torch.save({}, week.expected_file)
    week.stub_file.write_text(week.stub_file.read_text() + "\n# edited by hand\n")
    problems = " ".join(verify(week).problems)
    assert "public_expected.pt is out of date" in problems and "toy.py is missing or out of date" in problems
