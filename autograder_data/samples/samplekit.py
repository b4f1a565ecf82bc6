"""Shared pieces of the sample-class generators (make_week02_samples.py, make_week03_samples.py).

Standard library only; nothing here imports torch. A generator builds a list of
`Entry` and hands it to `write_class`, which rewrites the week's folder
deterministically (fixed zip timestamps, fixed notebook cell ids) and writes
EXPECTED.toml beside the submissions.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import shutil
import textwrap
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ZIP_TIME = (2026, 11, 20, 14, 0, 0)          # every zip member gets this timestamp
CREATED = "2026-11-20T14:00:00Z"              # the manifest's "created"
DLGRADE_VERSION = "0.1.0"


def src(text: str) -> str:
    """Module source from an indented triple-quoted string."""
    return textwrap.dedent(text).lstrip("\n")


def _top_function(tree: ast.Module, name: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise KeyError(name)


def replace_function(source: str, new_def: str) -> str:
    """source with the top-level function named in new_def replaced by new_def."""
    new_def = src(new_def).rstrip("\n") + "\n"
    name = ast.parse(new_def).body[0].name
    node = _top_function(ast.parse(source), name)
    lines = source.splitlines(keepends=True)
    return "".join(lines[:node.lineno - 1]) + new_def + "".join(lines[node.end_lineno:])


def replace_text(source: str, old: str, new: str) -> str:
    """source with the one occurrence of old replaced by new."""
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times"
    return source.replace(old, new)


def stub(source: str, *names: str) -> str:
    """Bodies of the named functions replaced by the release stub's TODO + NotImplementedError."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in sorted((_top_function(tree, n) for n in names), key=lambda n: -n.lineno):
        body = f'    # TODO: your code here\n    raise NotImplementedError("{node.name}")\n'
        lines[node.lineno:node.end_lineno] = [body]
    return "".join(lines)


def remove_function(source: str, name: str) -> str:
    node = _top_function(ast.parse(source), name)
    lines = source.splitlines(keepends=True)
    end = node.end_lineno
    while end < len(lines) and not lines[end].strip():
        end += 1
    return "".join(lines[:node.lineno - 1] + lines[end:])


@dataclass
class Entry:
    student: str
    form: str                  # "folder", "ipynb", "zip" (made like dlgrade submit)
    kind: str                  # correct | wrong | partial | broken
    broken: list[str]          # functions that must lose points
    note: str
    files: dict[str, str] = field(default_factory=dict)        # folder / zip: name -> text
    cells: list = field(default_factory=list)                 # ipynb: (cell type, source)

    @property
    def name(self) -> str:
        return {"folder": f"{self.student}/", "ipynb": f"{self.student}.ipynb", "zip": f"{self.student}.zip"}[self.form]


def notebook_cells_from_module(source: str, title: str, functions: list[str], tail: list) -> list:
    """Cells a student might have: title, pip, imports with a magic, one cell per top-level block, then tail."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    imports, blocks = [], []
    def start(node) -> int:  # a decorated definition starts at its first decorator
        return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])

    for i, node in enumerate(tree.body):
        end = start(tree.body[i + 1]) - 1 if i + 1 < len(tree.body) else len(lines)
        text = "".join(lines[start(node) - 1:end]).strip("\n")
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue                                            # the module docstring
        (imports if isinstance(node, (ast.Import, ast.ImportFrom)) else blocks).append((node, text))
    cells = [("markdown", title), ("code", "!pip install -q torch"),
             ("code", "%matplotlib inline\n" + "\n".join(t for _, t in imports))]
    for node, text in blocks:
        if isinstance(node, ast.FunctionDef) and node.name in functions:
            cells.append(("markdown", f"### `{node.name}`"))
        cells.append(("code", text))
    return cells + tail


def notebook_json(cells: list) -> str:
    """An nbformat 4.5 notebook as nbformat would write it (indent 1, sorted keys)."""
    nb_cells, count = [], 0
    for k, (kind, text) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"c{k:03d}", "metadata": {}, "source": text.splitlines(keepends=True)}
        if kind == "code":
            count += 1
            cell["execution_count"] = count
            cell["outputs"] = []
        nb_cells.append(cell)
    nb = {"cells": nb_cells,
          "metadata": {"colab": {"provenance": []},
                       "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                       "language_info": {"name": "python", "version": "3.11.9"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def submit_zip(week: str, student: str, files: dict[str, str]) -> bytes:
    """The zip `dlgrade submit` makes: the .py files plus manifest.json (fixed timestamps)."""
    names = sorted(n for n in files if n.endswith(".py"))
    manifest = {"student": student, "week": week,
                "files": {n: hashlib.sha256(files[n].encode()).hexdigest() for n in names},
                "created": CREATED, "dlgrade_version": DLGRADE_VERSION}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in [(n, files[n]) for n in names] + [("manifest.json", json.dumps(manifest, indent=2))]:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text)
    return buf.getvalue()


def _toml_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)    # a JSON string is a valid TOML basic string


def write_class(out: Path, week: str, functions: list[str], entries: list[Entry], generator: str,
                may_not_compile: tuple[str, ...] = ()) -> None:
    """Rewrite `out` with every entry and EXPECTED.toml."""
    assert len({en.student for en in entries}) == len(entries), "student ids must be unique"
    for en in entries:
        assert set(en.broken) <= set(functions), en.broken
        for name, text in en.files.items():
            if name.endswith(".py") and en.student not in may_not_compile:
                compile(text, f"{en.student}/{name}", "exec")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for en in entries:
        if en.form == "folder":
            (out / en.student).mkdir()
            for name, text in sorted(en.files.items()):
                (out / en.student / name).write_text(text)
        elif en.form == "ipynb":
            (out / en.name).write_text(notebook_json(en.cells))
        else:
            (out / en.name).write_bytes(submit_zip(week, en.student, en.files))
    lines = [f"# What each sample submission in this folder must score under `dlgrade grade {week}`.",
             f"# Written by ../{generator}; do not edit by hand, change the generator.",
             "#",
             "# [<entry>]          the folder (with /), .ipynb or .zip name",
             "# kind              correct | wrong | partial | broken",
             "# broken_functions  the functions that must lose points; every other function must score full marks",
             "# gradable          false only where intake cannot read the submission (status not_gradable)",
             "# note              what it shows, in one line", ""]
    for en in entries:
        lines += [f"[{_toml_string(en.name)}]", f"kind = {_toml_string(en.kind)}",
                  "broken_functions = [" + ", ".join(_toml_string(f) for f in en.broken) + "]",
                  "gradable = true", f"note = {_toml_string(en.note)}", ""]
    (out / "EXPECTED.toml").write_text("\n".join(lines))
    print(f"wrote {len(entries)} submissions and EXPECTED.toml to {out}")
