"""From reference solution to student release, and the checks that keep them true.

`make_stub` replaces each `# BEGIN SOLUTION` ... `# END SOLUTION` block by a
`raise NotImplementedError`. `release` writes the stub into `assignments/`,
records the reference's answers to the public tests, and assembles a student
bundle that holds no hidden test and no reference. `verify` proves the
reference scores full marks, the stubs score zero and the recordings are
current.
"""

from __future__ import annotations

import ast
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .course import Week
from .errors import UserError

BEGIN = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
STUB_LINE = "{indent}# TODO: your code here\n{indent}raise NotImplementedError(\"{name}\")\n"


def make_stub(source: str, filename: str = "solution") -> str:
    """The student version of a solution file."""
    out, inside, indent = [], False, ""
    lines = source.splitlines(keepends=True)
    for lineno, line in enumerate(lines, 1):
        if BEGIN.match(line):
            if inside:
                raise UserError(f"{filename}, line {lineno}: BEGIN SOLUTION inside another solution block.")
            inside, indent = True, BEGIN.match(line).group(1)
            out.append(STUB_LINE.format(indent=indent, name=_enclosing_def(lines, lineno)))
        elif END.match(line):
            if not inside:
                raise UserError(f"{filename}, line {lineno}: END SOLUTION without BEGIN SOLUTION.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise UserError(f"{filename}: a BEGIN SOLUTION block is never closed.")
    stub = "".join(out)
    try:
        ast.parse(stub)
    except SyntaxError as e:
        raise UserError(f"{filename}: the generated stub does not parse (line {e.lineno}): {e.msg}.") from None
    return stub


def _enclosing_def(lines: list[str], lineno: int) -> str:
    for line in reversed(lines[: lineno - 1]):
        m = re.match(r"\s*(?:async\s+)?def\s+(\w+)|\s*class\s+(\w+)", line)
        if m:
            return m.group(1) or m.group(2)
    return "solution"


def write_stub(week: Week) -> Path:
    if not week.has_reference():
        raise UserError(f"{week.name} has no reference solution at {week.solution_file}.")
    stub = make_stub(week.solution_file.read_text(), str(week.solution_file))
    week.stub_file.parent.mkdir(parents=True, exist_ok=True)
    week.stub_file.write_text(stub)
    return week.stub_file


def record_public(week: Week, **run_options) -> tuple[dict, dict]:
    """Run the public suite with the reference; return every answer it gave, and its result."""
    from .plugin import Target
    from .runner import run_week

    store: dict = {}
    results = run_week(week, [Target("reference", week.solution_file.parent)], visibility="public",
                       reference="record", recorded=store, **run_options)
    return store, results[0]


def release(week: Week, out_dir: Path | None = None, **run_options) -> dict:
    """Stub, recorded public answers and a student bundle (folder and zip)."""
    import torch

    stub = write_stub(week)
    store, ref_result = record_public(week, **run_options)
    if ref_result["score"] != ref_result["max_score"]:
        raise UserError(f"The reference does not pass its own public tests ({ref_result['score']:g}/"
                        f"{ref_result['max_score']:g}); fix the solution or the suite first.")
    torch.save(store, week.expected_file)
    out_dir = out_dir or week.course.root / "release"
    bundle = out_dir / week.name
    if bundle.exists():
        shutil.rmtree(bundle)
    (bundle / "assignments" / week.name).mkdir(parents=True)
    data = bundle / "autograder_data" / week.name
    data.mkdir(parents=True)
    shutil.copy(stub, bundle / "assignments" / week.name / stub.name)
    for name in ("week.toml", "test_public.py", week.expected_file.name):
        shutil.copy(week.data_dir / name, data / name)
    archive = out_dir / f"{week.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(bundle))
    return {"stub": stub, "expected": week.expected_file, "bundle": bundle, "zip": archive,
            "recorded": len(store)}


@dataclass
class Verification:
    week: str
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(week: Week, **run_options) -> Verification:
    """Reference full marks, stubs zero, stub and recordings current, tests well formed."""
    from .plugin import Target
    from .runner import run_week

    v = Verification(week.name)
    if not week.has_reference():
        v.problems.append(f"no reference solution at {week.solution_file}")
        return v
    expected_stub = make_stub(week.solution_file.read_text(), str(week.solution_file))
    if not week.stub_file.exists() or week.stub_file.read_text() != expected_stub:
        v.problems.append(f"{week.stub_file} is missing or out of date: run `dlgrade release {week.name}`")
    if "BEGIN SOLUTION" in expected_stub:
        v.problems.append("the stub still holds a solution marker")
    store: dict = {}  # the public answers, recorded in the same run
    ref, stub = run_week(week, [Target("reference", week.solution_file.parent),
                                Target("stub", week.stub_file.parent)], visibility="all", reference="record",
                         recorded=store, **run_options)
    v.lines.append(f"reference: {ref['score']:g}/{ref['max_score']:g} over {len(ref['tests'])} tests")
    v.lines.append(f"stubs:     {stub['score']:g}/{stub['max_score']:g}")
    for t in ref["tests"]:
        if t["status"] != "passed":
            v.problems.append(f"the reference fails '{t['name']}': {t['message']}")
        if not t["function"]:
            v.problems.append(f"'{t['name']}' has no @pytest.mark.function(...)")
        elif t["function"] not in week.functions:
            v.problems.append(f"'{t['name']}' grades {t['function']}, which week.toml does not list")
    if stub["score"] != 0:
        passed = [t["name"] for t in stub["tests"] if t["status"] == "passed"]
        v.problems.append(f"the stubs score {stub['score']:g}, not 0 (passing: {', '.join(passed)})")
    untested = sorted(set(week.functions) - {t["function"] for t in ref["tests"]})
    if untested:
        v.problems.append(f"no test grades {', '.join(untested)}")
    if week.expected_file.exists():
        import torch

        from .testing import GradingFailure, check

        old = torch.load(week.expected_file, weights_only=True)
        stale = set(store) != set(old)
        if not stale:
            try:
                for k in store:
                    check(old[k], store[k], name="recorded answer")
            except GradingFailure:
                stale = True
        if stale:
            v.problems.append(f"{week.expected_file.name} is out of date: run `dlgrade release {week.name}`")
        else:
            v.lines.append(f"public recordings: {len(store)} answers, current")
    else:
        v.problems.append(f"{week.expected_file.name} is missing: run `dlgrade release {week.name}`")
    return v
