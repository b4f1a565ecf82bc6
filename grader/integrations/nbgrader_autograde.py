"""nbgrader's autograde with one step replaced: dlgrade's results instead of running the notebook.

Imported only by `grader.integrations.nbgrader.grade`, with nbgrader installed.
Every other step is nbgrader's own and runs as in `nbgrader autograde`:
sanitising (outputs cleared, locked cells restored from the source),
`SaveAutoGrades` (a test cell with an error output scores 0, any other its
points), `AssignLatePenalties` and the `autograded/` copy with its timestamp.
"""

from __future__ import annotations

import json
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.converters import Autograde
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, LimitOutput,
                                    NbGraderPreprocessor, SaveAutoGrades)
from traitlets import Dict, List, Unicode


class DlgradeResults(NbGraderPreprocessor):
    """Give each test cell dlgrade's verdict as its output, and remove its hidden test region."""

    results_dir = Unicode("", help="The folder of dlgrade's <student>.json results.").tag(config=True)
    cell_tests = Dict({}, help="grade_id -> the test it runs (index into the result's tests, name).").tag(config=True)
    ids = Dict({}, help="nbgrader's student id -> the id of its dlgrade result.").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        self.result = json.loads((Path(self.results_dir) / f"{self.ids.get(student, student)}.json").read_text())
        self.hidden = ClearHiddenTests(parent=self)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        self.hidden._remove_hidden_test_region(cell)
        info = self.cell_tests.get(cell.metadata.nbgrader["grade_id"])
        if info is None:      # not one of dlgrade's cells: it cannot score
            cell.outputs = [_error("not graded", "this cell is not a dlgrade test; grade it by hand")]
            return cell, resources
        tests = self.result.get("tests") or []
        test = tests[info["index"]] if self.result.get("status") == "graded" and info["index"] < len(tests) else None
        if test is not None and test["name"] != info["name"]:
            raise ValueError(f"the result of {self.result.get('student')} does not match the source notebook's "
                             f"test cells ({test['name']!r} where {info['name']!r} belongs)")
        if test is None:
            cell.outputs = [_error("not graded", f"not graded: {self.result.get('error') or 'no result'}")]
        elif test["status"] == "passed":
            cell.outputs = [new_output("stream", name="stdout", text=f"passed: {test['name']}\n")]
        else:
            cell.outputs = [_error(test["status"], f"{test['status']}: {test['name']}\n{test.get('message') or ''}")]
        cell.execution_count = None
        return cell, resources


def _error(status: str, text: str):
    return new_output("error", ename=status, evalue=text.splitlines()[-1] if text else "", traceback=text.split("\n"))


class DlgradeAutograde(Autograde):
    """`nbgrader autograde` with dlgrade's results where nbgrader would execute the notebook."""

    autograde_preprocessors = List([
        DlgradeResults,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]).tag(config=True)
