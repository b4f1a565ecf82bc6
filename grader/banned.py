"""Banned calls and hiding code, found by reading the source (the call-time half
is `grader/sandbox/bans.py`, in the worker).

The source is parsed, never run. Import aliases are followed
(`import torch.nn.functional as F` makes `F.conv2d` mean
`torch.nn.functional.conv2d`, `getattr(F, "conv2d")` too), and a function is
charged with what the module-level helpers it calls use, transitively. Names
the submission defines itself (its functions, classes and their methods) never
match a ban: `Conv.backward(dout, cache)` of the student's own class is not
`torch.Tensor.backward`.

The scan also flags code that could undo the call-time guard or hide a call
from it: the grader's own modules, `sys.modules`, `gc`, `ctypes`, torch's
private modules (`torch._C`, `torch.ops`), `importlib`/`__import__`,
`exec`/`eval`, threads, interpreter internals (`__closure__`, `__globals__`)
and names built at run time for `getattr`. Such a function gets the status
`review`: its points are withheld until a person has looked.

Nothing here may raise on any input: a source that cannot be read puts every
function up for review.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass, field

OP_PREFIX = "aten."  # `aten.convolution`: a torch operator (see grader/sandbox/bans.py)

# (prefix of a dotted name, why it is held for review)
_REVIEW_PREFIXES = (
    ("grader", "the grader's own modules"),
    ("sys.modules", "sys.modules"),
    ("sys._getframe", "the interpreter's frames"),
    ("sys.settrace", "a trace hook"),
    ("sys.setprofile", "a profile hook"),
    ("inspect", "the interpreter's frames (inspect)"),
    ("gc", "the garbage collector (gc)"),
    ("ctypes", "ctypes"),
    ("importlib", "importlib"),
    ("__import__", "__import__"),
    ("__builtins__", "__builtins__"),
    ("exec", "exec"),
    ("eval", "eval"),
    ("compile", "compile"),
    ("globals", "globals()"),
    ("threading", "threads"),
    ("_thread", "threads"),
    ("multiprocessing", "other processes"),
    ("concurrent", "threads (concurrent.futures)"),
    ("operator.attrgetter", "operator.attrgetter"),
    ("operator.methodcaller", "operator.methodcaller"),
    ("torch.ops", "torch.ops"),
    ("torch.library", "torch.library"),
    ("torch.overrides", "torch.overrides"),
    ("torch.profiler", "the torch profiler"),
)
_REVIEW_DUNDERS = {"__closure__", "__globals__", "__code__", "__subclasses__", "__dict__", "__getattribute__",
                   "__builtins__", "__wrapped__", "__self__", "__func__"}
_ATTR_FUNCTIONS = {"getattr", "setattr", "delattr", "hasattr"}
# spellings of torch's own namespaces that name the same functions
_CANONICAL = (("torch._C._VariableFunctions.", "torch."), ("torch._VF.", "torch."),
              ("torch._C._nn.", "torch.nn.functional."), ("torch.ops.aten.", OP_PREFIX))


@dataclass
class Scan:
    """What the source shows: banned names per function, and reasons to hold a function for review."""

    banned: dict[str, list[str]] = field(default_factory=dict)
    review: dict[str, list[str]] = field(default_factory=dict)


def find_banned(source: str, bans: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Map each function in `bans` to the banned dotted names its code reaches."""
    return scan(source, bans).banned


def scan(source: str, bans: dict[str, tuple[str, ...]], helpers: list[str] = ()) -> Scan:
    """Banned names and review reasons for each function in `bans`; never raises.

    helpers: the sources of the submission's other files, whose functions and
    methods are the student's own too (a layer class with its own `backward`
    in `layers.py`).
    """
    try:
        return _scan(source, bans, helpers)
    except SyntaxError:
        return Scan()  # the worker's import reports it, with the line
    except Exception as e:  # noqa: BLE001 - RecursionError on deep nesting, null bytes, anything else
        why = ("the source is nested too deeply to read" if isinstance(e, RecursionError)
               else "the source could not be read")
        return Scan(review={f: [why] for f in bans})


def _scan(source: str, bans: dict[str, tuple[str, ...]], helpers: list[str] = ()) -> Scan:
    tree = ast.parse(source)
    aliases = _aliases(tree)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    own_methods = {n.name for d in defs.values() for n in ast.walk(d)
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n is not d}
    for text in helpers:
        try:
            own_methods |= {n.name for n in ast.walk(ast.parse(text))
                            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        except (SyntaxError, ValueError, RecursionError):
            continue  # the worker's import reports a helper that does not load
    uses = {name: _names_used(node, aliases) for name, node in defs.items()}
    assigned = module_level_assignments(tree, aliases)
    module_uses = set().union(set(), *(_names_used(n, aliases) for n in _import_time(tree.body)))
    imported = {v.split(".")[0] for v in aliases.values()}
    module_review = _review_reasons(module_uses, imported)
    result = Scan()
    for function, names in bans.items():
        review = list(module_review)
        if function in defs:
            reach = _reachable(function, uses, defs)
            used = set().union(*(uses[f] for f in reach))
            # module-level aliases such as `conv = F.conv2d` count for whoever uses them
            used |= {v for k, v in assigned.items() if any(k in uses[f] for f in reach)}
            used = {u for u in used if not _own(u, defs, aliases)}
            # an operator ban is reported by the spelling that reached it (`torch.convolution`)
            hits = sorted({u if b.startswith(OP_PREFIX) or "::" in b else b
                           for b in names for u in used if _matches(u, b, own_methods)})
            if hits:
                result.banned[function] = hits
            review += [r for r in _review_reasons(used, imported) if r not in review]
        if review:
            result.review[function] = review
    return result


def _import_time(body: list) -> list:
    """The parts of a module that run when it is imported: statements outside functions, class
    bodies, and the decorators, defaults and annotations of every def."""
    out = []
    for n in body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = n.args
            out += [*n.decorator_list, *a.defaults, *(d for d in a.kw_defaults if d is not None),
                    *(x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                      if x is not None and x.annotation is not None)]
            if n.returns is not None:
                out.append(n.returns)
        elif isinstance(n, ast.ClassDef):
            out += [*n.decorator_list, *n.bases, *n.keywords, *_import_time(n.body)]
        else:
            out.append(n)
    return out


def _own(used: str, defs, aliases) -> bool:
    """A name the submission defines itself (and did not import under that name)."""
    head = used.split(".")[0]
    return head in defs and head not in aliases


def _canonical(name: str) -> str:
    for prefix, to in _CANONICAL:
        if name.startswith(prefix):
            return to + name[len(prefix):]
    return name


def _matches(used: str, banned: str, own_methods: set[str] = frozenset()) -> bool:
    if "::" in banned:  # another library's operator (`torchvision::nms`), reached as torch.ops.torchvision.nms
        ns, _, pat = banned.partition("::")
        parts = used.split(".")
        return parts[:3] == ["torch", "ops", ns] and len(parts) >= 4 and fnmatch.fnmatchcase(parts[3], pat)
    if banned.startswith(OP_PREFIX):
        # an operator: reached as torch.ops.aten.X(.overload), or as torch.X / F.X of the same name
        name = _canonical(used)
        for prefix in ("torch.nn.functional.", "torch."):
            if name.startswith(prefix) and name.count(".") == prefix.count("."):
                name = OP_PREFIX + name[len(prefix):]
        if not name.startswith(OP_PREFIX):
            return False
        op = ".".join(name.split(".")[:2])
        return fnmatch.fnmatchcase(op, banned)
    used = _canonical(used)
    if banned == "torch.Tensor.backward":
        if used == banned:
            return True
        # `x.backward()` on something that is not a module: a tensor's, unless the submission has a
        # `backward` of its own (then the call-time guard decides: it sees autograd whatever the spelling)
        return (used.endswith(".backward") or used == "backward") and "backward" not in own_methods
    if any(c in banned for c in "*?["):  # a pattern in the last part: `torch.nn.RNN*`
        head, _, last = banned.rpartition(".")
        parts = used.split(".")
        return used.startswith(head + ".") and len(parts) > head.count(".") + 1 and \
            fnmatch.fnmatchcase(parts[head.count(".") + 1], last)
    return used == banned or used.startswith(banned + ".")


_BUILTIN_NAMES = {"__import__", "__builtins__", "exec", "eval", "compile", "globals"}


def _review_reasons(used: set[str], imported: set[str]) -> list[str]:
    """Why these names hold a function for review. A module counts only where the source imports it:
    a variable of the student's own called `gc` or `inspect` is just a variable."""
    out = []
    for u in sorted(used):
        root = u.split(".")[0]
        internals = any(p in _REVIEW_DUNDERS for p in u.split(".")[1:])
        if root not in imported and root not in _BUILTIN_NAMES and root != "torch" and not internals \
                and not u.startswith("dynamic:"):
            continue
        why = None
        if u.startswith("dynamic:"):
            why = "a name built at run time (" + u.split(":", 1)[1] + ")"
        elif any(p in _REVIEW_DUNDERS for p in u.split(".")[1:]):
            why = "interpreter internals (" + next(p for p in u.split(".")[1:] if p in _REVIEW_DUNDERS) + ")"
        else:
            for prefix, reason in _REVIEW_PREFIXES:
                if u == prefix or u.startswith(prefix + "."):
                    why = reason
                    break
            else:
                parts = u.split(".")
                if parts[0] == "torch" and any(p.startswith("_") and not p.startswith("__") for p in parts[1:]):
                    why = "torch's private internals (" + ".".join(parts[: 1 + next(
                        i for i, p in enumerate(parts[1:], 1) if p.startswith("_"))]) + ")"
        if why and why not in out:
            out.append(why)
    return out


def _aliases(tree: ast.AST) -> dict[str, str]:
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    out[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str)):
            parts.append(node.args[1].value)  # getattr(F, "conv2d") is F.conv2d
            node = node.args[0]
        else:
            break
    if isinstance(node, ast.Name):
        head = aliases.get(node.id, node.id)
        return ".".join([head, *reversed(parts)])
    if parts:  # x.backward() on any expression
        return ".".join(["?", *reversed(parts)])
    return None


def _names_used(node: ast.AST, aliases: dict[str, str]) -> set[str]:
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Attribute, ast.Name, ast.Call)):
            d = _dotted(sub, aliases)
            if d:
                names.add(d)
                names.add(d.split(".")[0])
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in _ATTR_FUNCTIONS:
            if len(sub.args) >= 2 and not (isinstance(sub.args[1], ast.Constant) and isinstance(sub.args[1].value, str)):
                names.add(f"dynamic:{sub.func.id} with a computed name")
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            base = sub.module if isinstance(sub, ast.ImportFrom) else None
            for a in sub.names:
                names.add(f"{base}.{a.name}" if base else a.name)
    return names


def module_level_assignments(tree: ast.Module, aliases: dict[str, str]) -> dict[str, str]:
    out = {}
    for n in tree.body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            d = _dotted(n.value, aliases)
            if d:
                out[n.targets[0].id] = d
    return out


def _reachable(start: str, uses: dict[str, set[str]], defs) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        f = todo.pop()
        for name in uses.get(f, ()):
            head = name.split(".")[0]
            if head in defs and head not in seen:
                seen.add(head)
                todo.append(head)
    return seen
