"""Banned calls, found by reading the source (the run-time half is in the worker).

The source is parsed, never run. Import aliases are followed
(`import torch.nn.functional as F` makes `F.conv2d` mean
`torch.nn.functional.conv2d`), and a function is charged with what the
module-level helpers it calls use, transitively.
"""

from __future__ import annotations

import ast


def find_banned(source: str, bans: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Map each function in `bans` to the banned dotted names its code reaches."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    aliases = _aliases(tree)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    uses = {name: _names_used(node, aliases) for name, node in defs.items()}
    assigned = module_level_assignments(tree, aliases)
    found = {}
    for function, names in bans.items():
        if function not in defs:
            continue
        reach = _reachable(function, uses, defs)
        used = set().union(*(uses[f] for f in reach))
        # module-level aliases such as `conv = F.conv2d` count for whoever uses them
        used |= {v for k, v in assigned.items() if any(k in uses[f] for f in reach)}
        hits = sorted({b for b in names for u in used if _matches(u, b)})
        if hits:
            found[function] = hits
    return found


def _matches(used: str, banned: str) -> bool:
    if banned == "torch.Tensor.backward":
        return used == banned or used.endswith(".backward") or used == "backward"
    return used == banned or used.startswith(banned + ".")


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
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        head = aliases.get(node.id, node.id)
        return ".".join([head, *reversed(parts)])
    if parts:  # x.backward() on any expression
        return ".".join(["?", *reversed(parts)])
    return None


def _names_used(node: ast.AST, aliases: dict[str, str]) -> set[str]:
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Attribute, ast.Name)):
            d = _dotted(sub, aliases)
            if d:
                names.add(d)
                names.add(d.split(".")[0])
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value.isidentifier():
            names.add("getattr:" + sub.value)
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
