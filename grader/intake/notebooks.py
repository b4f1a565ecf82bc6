"""Notebooks become modules: imports, definitions and constants are kept, all other top-level work dropped."""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re
from types import SimpleNamespace

from .common import IntakeError, _cap


def notebook_to_module(nb_json_text: str, name: str = "the notebook") -> tuple[str, list[str]]:
    """The importable Python source of a notebook, and notes saying what was left out.

    Kept from code cells, in order: imports, `def`, `class`, constants (an
    assignment to plain names of literals, of names kept before, of attributes
    of numeric libraries such as torch, numpy or math, or of calls of those with
    constant arguments, except loading, saving or downloading), and `try`
    blocks made only of such statements (optional imports). Dropped: markdown
    and raw cells, shell (`!pip`) and magic (`%matplotlib`, `%%time`) lines,
    imports of `grader` itself (what a notebook's `grader.check` cells use), and
    every other top-level statement (calls, prints, loops, `with` and `if`
    blocks, `if __name__ == "__main__"`), because importing the module must not
    train, download or print. A cell that does not parse is dropped with a note
    naming its number; the rest of the notebook is kept. Comments inside kept
    definitions survive. `name` names the notebook in error messages.

    Raises IntakeError when the text is not JSON or not a notebook.
    """
    try:
        nb = json.loads(nb_json_text)
    except json.JSONDecodeError as e:
        raise IntakeError(f"{_cap(name)} is not a valid Jupyter notebook (invalid JSON at line {e.lineno}: {e.msg}); "
                          "save or download it again from Jupyter or Colab.") from None
    except (ValueError, RecursionError):
        raise IntakeError(f"{_cap(name)} is not a valid Jupyter notebook (its JSON cannot be read); "
                          "save or download it again from Jupyter or Colab.") from None
    return _Converter(name).convert(_code_cells(nb, name))


# --------------------------------------------------------------------------- notebooks

def _code_cells(nb, name: str) -> list[tuple[int, str | None]]:
    """(cell number from 1, source) per cell; source None for markdown and raw cells."""
    if not isinstance(nb, dict):
        raise IntakeError(f"{_cap(name)} is not a valid Jupyter notebook (its JSON holds no notebook); "
                          "save or download it again from Jupyter or Colab.")
    if "cells" not in nb and isinstance(nb.get("worksheets"), list):
        nb = _upgrade_v3(nb)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise IntakeError(f"{_cap(name)} is not a valid Jupyter notebook (it has no list of cells); "
                          "save or download it again from Jupyter or Colab.")
    out = []
    for i, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            out.append((i, None))
            continue
        src = cell.get("source", cell.get("input", ""))
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        out.append((i, src if isinstance(src, str) else ""))
    return out


def _upgrade_v3(nb: dict) -> dict:
    """A format-3 notebook as format 4: by nbformat when installed, else by hand (cells live in worksheets)."""
    try:
        import nbformat

        return json.loads(nbformat.writes(nbformat.convert(nbformat.from_dict(nb), 4)))
    except Exception:  # noqa: BLE001 - nbformat missing or the notebook off its schema: fall back
        cells = []
        for ws in nb.get("worksheets") or []:
            if isinstance(ws, dict) and isinstance(ws.get("cells"), list):
                cells.extend(ws["cells"])
        return {"cells": cells}


_CELL_MAGIC = re.compile(r"^\s*%%")
_LINE_MAGIC = re.compile(r"^\s*(?:[!%]|[\w.,\s\[\]()*]+=\s*[!%]|\?\??[\w.]+\s*$|[\w.]+\?\??\s*$)")
_SAFE_PACKAGES = {"torch", "numpy", "math", "cmath", "fractions", "decimal", "statistics", "collections",
                  "itertools", "functools", "operator", "string", "re", "enum", "typing", "dataclasses",
                  "einops", "random"}
_DENIED_ATTRS = {"load", "loads", "loadtxt", "genfromtxt", "fromfile", "save", "savez", "savez_compressed",
                 "savetxt", "memmap", "hub", "utils", "data", "compile", "open", "download", "from_pretrained",
                 "input", "breakpoint", "system", "exec", "eval", "tofile", "seed"}
_SAFE_CALLS = {"abs", "bool", "complex", "dict", "divmod", "enumerate", "float", "frozenset", "int", "len",
               "list", "max", "min", "pow", "range", "reversed", "round", "set", "slice", "sorted", "str", "sum",
               "tuple", "zip"}
_BUILTIN_NAMES = set(dir(builtins))


class _Converter:
    """Turns a notebook's code cells into a module of imports, definitions and constants."""

    def __init__(self, name: str):
        self.name = name
        self.modules: dict[str, str] = {}   # name bound by an import -> the module or object it names
        self.constants: set[str] = set()
        self.definitions: set[str] = set()
        self.kept = {"import": 0, "definition": 0, "constant": 0}
        self.dropped: dict[str, int] = {}
        self.dropped_names: list[str] = []
        self.magic: list[str] = []
        self.notes: list[str] = []

    @property
    def known(self) -> set[str]:
        return set(self.modules) | self.constants | self.definitions | _BUILTIN_NAMES

    def convert(self, cells: list[tuple[int, str | None]]) -> tuple[str, list[str]]:
        future, body = [], []   # body: (segment, is compound)
        for number, src in cells:
            if src is None or not src.strip():
                continue
            tree, src = self.parse_cell(number, src)
            if tree is None:
                continue
            for node in tree.body:
                try:
                    kind = self.keep(node)
                except (RecursionError, MemoryError):    # thousands of terms in one expression
                    self.notes.append(f"dropped the statement at line {node.lineno} of cell {number}: "
                                      "it is nested too deeply to check")
                    continue
                if kind is None:
                    self.drop(node)
                    continue
                segment = _segment(src, node)
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    future.append(segment)
                else:
                    body.append((segment, "\n" in segment))
        header = "# Converted from a Jupyter notebook: only imports, definitions and constants were kept.\n"
        parts = []
        for i, (segment, compound) in enumerate(body):
            if i:
                parts.append("\n\n\n" if compound or body[i - 1][1] else "\n")
            parts.append(segment)
        source = header + "".join(s + "\n" for s in future) + "\n" + "".join(parts) + "\n"
        try:
            ast.parse(source)
        except SyntaxError as e:
            raise IntakeError(f"{_cap(self.name)} could not be converted to a module (line {e.lineno}: {e.msg}); "
                              "submit the module as a .py file.") from None
        except (RecursionError, MemoryError):
            raise IntakeError(f"{_cap(self.name)} could not be converted to a module (an expression is nested too "
                              "deeply to read); split it into smaller ones.") from None
        return source, self.summary()

    def parse_cell(self, number: int, src: str) -> tuple[ast.Module | None, str]:
        first = next((ln for ln in src.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
        if _CELL_MAGIC.match(first):
            self.notes.append(f"dropped cell {number} ({first.strip()[:40]} cell magic)")
            return None, src
        try:
            return ast.parse(src), src
        except (SyntaxError, ValueError):
            pass
        except (RecursionError, MemoryError):
            self.notes.append(f"dropped cell {number}: it is nested too deeply to read "
                              f"(an expression of thousands of terms){_lost_names(src)}")
            return None, src
        cleaned = self.strip_magic(src)
        try:
            return ast.parse(cleaned), cleaned
        except (SyntaxError, ValueError) as e:
            where = f"line {e.lineno}: {e.msg}" if isinstance(e, SyntaxError) else str(e)
            if isinstance(e, SyntaxError) and e.text:
                where += f" in `{' '.join(e.text.split())[:60]}`"
            self.notes.append(f"dropped cell {number}: it does not parse ({where}){_lost_names(src)}")
            return None, src
        except (RecursionError, MemoryError):
            self.notes.append(f"dropped cell {number}: it is nested too deeply to read "
                              f"(an expression of thousands of terms){_lost_names(src)}")
            return None, src

    def strip_magic(self, src: str) -> str:
        """Shell and magic lines become `pass` at their indentation, continuation lines included."""
        out, continuing = [], False
        for line in src.splitlines():
            if continuing or _LINE_MAGIC.match(line):
                if not continuing:
                    self.magic.append(line.strip())
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}pass" if not continuing else "")
                continuing = line.rstrip().endswith("\\")
            else:
                out.append(line)
        return "\n".join(out)

    # ----------------------------------------------------------------- what stays

    def keep(self, node: ast.stmt) -> str | None:
        """The kind of a statement worth keeping ('import', 'definition', 'constant'), binding its names; else None."""
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if _imports_only_grader(node):   # the notebook's checking tool (grader.check), not its code
                return None
            self.bind_import(node)
            self.kept["import"] += 1
            return "import"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.definitions.add(node.name)
            self.kept["definition"] += 1
            return "definition"
        if isinstance(node, ast.Assign) and all(_plain_target(t) for t in node.targets) and self.const(node.value):
            for t in node.targets:
                self.constants.update(_target_names(t))
            self.kept["constant"] += 1
            return "constant"
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and (node.value is None or self.const(node.value))):
            self.constants.add(node.target.id)
            self.kept["constant"] += 1
            return "constant"
        if isinstance(node, ast.Try) and self.guarded(node):
            self.kept["import"] += 1
            return "import"
        return None

    def guarded(self, node: ast.Try) -> bool:
        """A try block made only of keepable statements (an optional import with its fallback)."""
        saved = (dict(self.modules), set(self.constants), set(self.definitions), dict(self.kept))
        blocks = [node.body, node.orelse, node.finalbody] + [h.body for h in node.handlers]
        ok = all(h.type is None or self.const(h.type) for h in node.handlers)
        for block in blocks:
            for stmt in block:
                if not ok:
                    break
                ok = isinstance(stmt, ast.Pass) or self.keep(stmt) is not None
        if ok:
            self.kept = saved[3]
        else:
            self.modules, self.constants, self.definitions, self.kept = saved
        return ok

    def bind_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    self.modules[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    self.modules[top] = top
            return
        base = "." * node.level + (node.module or "")
        for a in node.names:
            if a.name != "*":
                self.modules[a.asname or a.name] = f"{base}.{a.name}"

    def const(self, e: ast.expr, local: frozenset = frozenset()) -> bool:
        """Whether an expression is cheap and side-effect free: literals, kept names, numeric-library calls."""
        c = self.const
        if isinstance(e, ast.Constant):
            return True
        if isinstance(e, ast.Name):
            return e.id in local or e.id in self.known
        if isinstance(e, (ast.Tuple, ast.List, ast.Set)):
            return all(c(x, local) for x in e.elts)
        if isinstance(e, ast.Starred):
            return c(e.value, local)
        if isinstance(e, ast.Dict):
            return all(k is None or c(k, local) for k in e.keys) and all(c(v, local) for v in e.values)
        if isinstance(e, ast.UnaryOp):
            return c(e.operand, local)
        if isinstance(e, ast.BinOp):
            return c(e.left, local) and c(e.right, local)
        if isinstance(e, ast.BoolOp):
            return all(c(v, local) for v in e.values)
        if isinstance(e, ast.Compare):
            return c(e.left, local) and all(c(x, local) for x in e.comparators)
        if isinstance(e, ast.IfExp):
            return c(e.test, local) and c(e.body, local) and c(e.orelse, local)
        if isinstance(e, ast.Subscript):
            return c(e.value, local) and c(e.slice, local)
        if isinstance(e, ast.Slice):
            return all(x is None or c(x, local) for x in (e.lower, e.upper, e.step))
        if isinstance(e, ast.Attribute):
            return e.attr not in _DENIED_ATTRS and self.chain_ok(e.value, local)
        if isinstance(e, ast.JoinedStr):
            return all(c(v, local) for v in e.values)
        if isinstance(e, ast.FormattedValue):
            return c(e.value, local) and (e.format_spec is None or c(e.format_spec, local))
        if isinstance(e, ast.Lambda):
            return all(c(d, local) for d in e.args.defaults + [d for d in e.args.kw_defaults if d is not None])
        if isinstance(e, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = set(local)
            for g in e.generators:
                if g.is_async or not c(g.iter, frozenset(inner)):
                    return False
                inner |= set(_target_names(g.target))
                if not all(c(x, frozenset(inner)) for x in g.ifs):
                    return False
            elts = [e.key, e.value] if isinstance(e, ast.DictComp) else [e.elt]
            return all(c(x, frozenset(inner)) for x in elts)
        if isinstance(e, ast.Call):
            if any(k.arg == "download" for k in e.keywords):
                return False
            args_ok = all(c(a, local) for a in e.args) and all(c(k.value, local) for k in e.keywords)
            return args_ok and self.callable_ok(e.func, local)
        return False

    def chain_ok(self, e: ast.expr, local: frozenset) -> bool:
        """The object an attribute is read from: a safe module, a kept constant, or a constant expression."""
        if isinstance(e, ast.Name):
            if e.id in self.modules:
                return self.modules[e.id].split(".")[0] in _SAFE_PACKAGES
            return e.id in self.constants or e.id in local
        if isinstance(e, ast.Attribute):
            return e.attr not in _DENIED_ATTRS and self.chain_ok(e.value, local)
        return self.const(e, local)

    def callable_ok(self, func: ast.expr, local: frozenset) -> bool:
        """A call worth running at import: a pure builtin, or a function of a numeric library or a constant."""
        if isinstance(func, ast.Name):
            if func.id in self.modules:
                path = self.modules[func.id]
                return path.split(".")[0] in _SAFE_PACKAGES and path.rsplit(".", 1)[-1] not in _DENIED_ATTRS
            return func.id in _SAFE_CALLS and func.id not in self.constants | self.definitions
        if isinstance(func, ast.Attribute):
            return func.attr not in _DENIED_ATTRS and self.chain_ok(func.value, local)
        return False

    # ----------------------------------------------------------------- what goes, and saying so

    def drop(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Pass) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            return
        kind = _statement_kind(node)
        self.dropped[kind] = self.dropped.get(kind, 0) + 1
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                self.dropped_names += [n for n in _target_names(t) if n not in self.dropped_names]

    def summary(self) -> list[str]:
        kept = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in self.kept.items() if n)
        named = "" if self.name == "the notebook" else f" {self.name}"
        line = f"converted from notebook{named}: kept {kept or 'nothing'}"
        total = sum(self.dropped.values())
        if total:
            by_count = sorted(self.dropped.items(), key=lambda kv: -kv[1])
            kinds = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in by_count)
            line += f"; dropped {total} top-level statement{'s' if total != 1 else ''} ({kinds})"
        notes = [line]
        missing = [n for n in self.dropped_names if n not in self.known]
        if missing:
            shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
            notes.append(f"not defined in the module (computed by top-level work): {shown}")
        if self.magic:
            shown = ", ".join(m[:40] for m in self.magic[:3]) + (", ..." if len(self.magic) > 3 else "")
            notes.append(f"removed {len(self.magic)} shell or magic line{'s' if len(self.magic) != 1 else ''} "
                         f"({shown})")
        if not self.kept["definition"]:
            notes.append("the notebook defines no functions or classes")
        return notes + self.notes


_DEFINITION = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)


def _lost_names(src: str) -> str:
    """', so f and g are not defined': what a dropped cell would have defined, for the student to look for."""
    names = list(dict.fromkeys(_DEFINITION.findall(src)))
    if not names:
        return ""
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    return f", so {shown} {'is' if len(names) == 1 else 'are'} not defined; fix that cell"


def _imports_only_grader(node: ast.Import | ast.ImportFrom) -> bool:
    """`import grader` or `from grader import check`: what a student notebook runs its checks with."""
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and (node.module or "").split(".")[0] == "grader"
    return all(a.name.split(".")[0] == "grader" for a in node.names)


def _plain_target(t: ast.expr) -> bool:
    if isinstance(t, ast.Name):
        return True
    if isinstance(t, (ast.Tuple, ast.List)):
        return all(_plain_target(x) for x in t.elts)
    if isinstance(t, ast.Starred):
        return _plain_target(t.value)
    return False


def _target_names(t: ast.expr) -> list[str]:
    if isinstance(t, ast.Name):
        return [t.id]
    if isinstance(t, (ast.Tuple, ast.List)):
        return [n for x in t.elts for n in _target_names(x)]
    if isinstance(t, ast.Starred):
        return _target_names(t.value)
    return []


def _statement_kind(node: ast.stmt) -> str:
    """A short name for a dropped statement, for the note a student reads."""
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return "for loop"
    if isinstance(node, ast.While):
        return "while loop"
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return "with block"
    if isinstance(node, ast.If):
        test = ast.dump(node.test)
        return "if __name__ block" if "__name__" in test else "if block"
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        f = node.value.func
        return "print" if isinstance(f, ast.Name) and f.id == "print" else "call"
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return "assignment"
    if isinstance(node, ast.Try):
        return "try block"
    return type(node).__name__.lower()


def _segment(src: str, node: ast.stmt) -> str:
    """A statement's source text with its decorators, the comment lines just above it and one ending it.

    Taken from the cell's text rather than unparsed, so comments inside definitions survive.
    """
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    end_col = node.end_col_offset
    lines = src.splitlines()
    while first > 1 and lines[first - 2].lstrip().startswith("#") and node.col_offset == 0:
        first -= 1                                           # the comment lines just above it
    if node.end_lineno is not None and node.end_lineno <= len(lines):
        last = lines[node.end_lineno - 1].encode("utf-8")
        if end_col is not None and last[end_col:].strip().startswith(b"#"):
            end_col = len(last.rstrip())
    start_col = 0 if first != node.lineno else node.col_offset
    text = _slice(src, first, start_col, node.end_lineno, end_col)
    if text is None:
        span = SimpleNamespace(lineno=first, col_offset=start_col, end_lineno=node.end_lineno, end_col_offset=end_col)
        text = ast.get_source_segment(src, span)
    return text if text is not None else ast.unparse(node)


@functools.lru_cache(maxsize=8)
def _lines(src: str) -> tuple[str, ...]:
    return tuple(src.splitlines(keepends=True))


def _slice(src: str, lineno: int, col: int, end_lineno: int | None, end_col: int | None) -> str | None:
    """Like ast.get_source_segment, without splitting the whole cell again for every statement
    (that made a long notebook quadratic). Offsets are in UTF-8 bytes, as ast gives them."""
    lines = _lines(src)
    if end_lineno is None or end_col is None or end_lineno > len(lines) or any(
            ch in src for ch in "\f\v\x1c\x1d\x1e\x85\u2028\u2029"):
        return None  # line breaks that str.splitlines and the parser count differently
    if lineno == end_lineno:
        return lines[lineno - 1].encode()[col:end_col].decode()
    head = lines[lineno - 1].encode()[col:].decode()
    tail = lines[end_lineno - 1].encode()[:end_col].decode()
    return head + "".join(lines[lineno:end_lineno - 1]) + tail
