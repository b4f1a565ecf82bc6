"""What a test cell of a `dlgrade nbgrader build` notebook runs: one dlgrade test, in the notebook's kernel.

A generated test cell reads `run_test("week04", "test_public.py::test_conv2d_forward", globals())`.
It calls that test of the week's suite with the notebook's own definitions as
`student`, the reference (or, in a student release, the recorded public
answers) as `reference`, and the same `rng` as `dlgrade grade`, and raises
AssertionError with dlgrade's message when the test fails, which is how
nbgrader scores a test cell.

This is nbgrader's way, not dlgrade's: the student's code runs in the same
process as the test, with no sandbox. Students use it for instant feedback;
instructors grade with `dlgrade grade WEEK --nbgrader DIR`, which never runs
these cells (see docs/nbgrader.md).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
import warnings
from pathlib import Path

_suites: dict[Path, types.ModuleType] = {}
_references: dict[tuple[Path, str], object] = {}


def run_test(week: str, test: str, namespace: dict) -> None:
    """Run the dlgrade test `test` ("test_public.py::test_name") of `week` on the functions in `namespace`."""
    import torch

    from .. import testing
    from ..course import Course
    from ..errors import StudentFault
    from ..plugin import seed_of_test

    course = Course.find()
    w = course.week(week)
    file_name, _, name = test.partition("::")
    fn = getattr(_suite(w.data_dir / file_name), name, None)
    if fn is None:
        raise LookupError(f"{w.name} has no test {test}; rebuild the notebook with `dlgrade nbgrader build {w.name}`.")
    marks = {m.name: m for m in getattr(fn, "pytestmark", [])}
    public = "public" in marks
    seed = course.settings().seed
    fixtures = {"student": NotebookModule(namespace, w, seed), "reference": _reference(w), "device": "cpu"}
    rng = torch.Generator()
    rng.manual_seed(seed_of_test(file_name, name, public, seed))
    fixtures["rng"] = rng
    wanted = inspect.signature(fn).parameters
    unknown = [p for p in wanted if p not in fixtures]
    if unknown:
        raise LookupError(f"{test} asks for {', '.join(unknown)}, which a notebook test cell cannot give.")
    token = testing.visibility.set("public" if public else "hidden")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # a warning on stderr would cost the cell its points in nbgrader
            fn(**{p: fixtures[p] for p in wanted})
    except StudentFault as e:
        raise AssertionError(str(e)) from None
    except AssertionError as e:
        raise AssertionError(str(e).strip() or "the answer is wrong (assertion failed)") from None
    finally:
        testing.visibility.reset(token)


class NotebookModule:
    """The notebook's definitions as a test's `student`: missing names, changed inputs and `run` as in dlgrade."""

    def __init__(self, namespace: dict, week, seed: int):
        self._module = types.ModuleType(week.module)
        self._module.__dict__.update({k: v for k, v in namespace.items() if not k.startswith("__")})
        self._week, self._seed = week, seed
        self.last_call = None

    def __getattr__(self, name: str):
        from ..errors import MissingFunction

        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self._module.__dict__:
            raise MissingFunction(f"the notebook does not define {name}")
        value = self._module.__dict__[name]
        if not callable(value) or isinstance(value, type) or name in self._week.in_place:
            return value
        return lambda *args, **kwargs: self._call(name, value, args, kwargs)

    def _call(self, name: str, fn, args, kwargs):
        import torch

        from ..proxy import CallRecord
        from ..sandbox.worker import _seed, _tensor_leaves

        before = [(path, t, t.detach().clone()) for path, t in _tensor_leaves(args, kwargs)]
        _seed(self._seed)     # every call starts from the same random state, as in a worker
        value = fn(*args, **kwargs)
        mutated = [path for path, t, old in before if t.shape != old.shape or not torch.equal(t.detach(), old)]
        self.last_call = CallRecord(name, mutated)
        return value

    def run(self, scenario, *args, **kwargs):
        """Run `scenario(module, *args, **kwargs)` on the notebook's definitions, as a worker would."""
        from ..proxy import LocalReference

        return LocalReference(self._module).run(scenario, *args, **kwargs)


def _suite(path: Path) -> types.ModuleType:
    """The week's suite file, imported once per kernel."""
    path = path.resolve()
    if path not in _suites:
        if not path.is_file():
            raise LookupError(f"{path} does not exist: the test cells need the course's dlgrade suites.")
        name = f"_dlgrade_cell_suite_{len(_suites)}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _suites[path] = module
    return _suites[path]


def _reference(week):
    """The reference solution where the course has it, else the recorded public answers; once per kernel."""
    from ..runner import load_reference

    key = (week.data_dir.resolve(), week.name)
    if key not in _references:
        _references[key] = load_reference(week, "auto", {})
    return _references[key]
