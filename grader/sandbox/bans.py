"""Banned calls at call time, in the worker (the static half is `grader/banned.py`).

Three guards, armed only while a function with bans runs:
- tripwires on banned Python names (`torch.nn.functional.conv2d`): a call made
  from the submission's own files is recorded;
- banned torch operators (`aten.convolution`; shell wildcards allowed): every
  spelling that leads to one (`F.conv2d`, `torch.convolution`,
  `torch.ops.aten.convolution`, `torch._C._VariableFunctions.conv2d`,
  `F.conv_transpose2d`, `nn.Conv3d`) reaches the same operator in torch's
  dispatcher. A Python kernel sits on each banned operator at the
  `PreDispatch` key, a key no tensor carries: it is switched on for the
  duration of the call only (thread-local), so every other operator runs at
  full speed, the banned ones pay one Python call, and nothing changes
  outside the call;
- where `torch.autograd` is banned, any gradient torch computes: a saved-tensor
  hook fires whenever the autograd engine reads back a tensor that an
  operation saved for the backward pass (every product, maximum, matrix
  multiply...), whatever started the engine (`.backward()`,
  `torch.autograd.grad`, the engine object itself). Recording a graph alone
  (an `nn.Parameter` of the student's own layer class) is not a gradient.

Nothing here is trusted by the grader: the student's code runs in the same
process and could undo it. The static scan flags code that reaches for it
(status `review`).
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import sys
import types

import torch

OP_PREFIX = "aten."
AUTOGRAD = "torch.autograd"
_KEY = torch._C.DispatchKey.PreDispatch
_KEYSET = torch._C.DispatchKeySet(_KEY)
_include_key = torch._C._IncludeDispatchKeyGuard
_exclude_key = torch._C._ExcludeDispatchKeyGuard
_push_hooks = torch._C._autograd._push_saved_tensors_default_hooks
_pop_hooks = torch._C._autograd._pop_saved_tensors_default_hooks


def is_op_ban(name: str) -> bool:
    """`aten.convolution`, `aten.*max_pool*`, `torchvision::nms`: a ban on an operator, not on a Python name.

    aten operators are written `aten.NAME`; those of another library's namespace `NAMESPACE::NAME`
    (`torchvision::*`), since `torchvision.ops` already names a Python module.
    """
    return name.startswith(OP_PREFIX) or "::" in name


def _split(pattern: str) -> tuple[str, str]:
    """(namespace, name pattern) of an operator ban."""
    if "::" in pattern:
        ns, _, rest = pattern.partition("::")
        return ns, rest
    return "aten", pattern[len(OP_PREFIX):]


def _label(ns: str, name: str) -> str:
    return OP_PREFIX + name if ns == "aten" else f"{ns}::{name}"


def _operators(pattern: str) -> list[str]:
    """The operators (`aten.convolution`, `torchvision::nms`) that a ban pattern names."""
    ns, pat = _split(pattern)
    if ns != "aten":
        try:  # a library registers its operators when it is imported
            importlib.import_module(ns)
        except ImportError:
            return []
    names = {n.split("::", 1)[1].split(".")[0] for n in torch._C._dispatch_get_all_op_names()
             if n.startswith(ns + "::")}
    return sorted(_label(ns, n) for n in names if fnmatch.fnmatchcase(n, pat))


def _student_on_stack(student_dir: str) -> bool:
    f = sys._getframe(2)
    while f is not None:
        if os.path.realpath(f.f_code.co_filename).startswith(student_dir + os.sep):
            return True
        f = f.f_back
    return False


class Tripwires:
    """Record calls to banned names made from the student's own files.

    A wrapper replaces each banned callable (for a class, its `__init__`; for a
    module, each of its public functions). It records the call only while a
    function whose bans include it is running, and only when the calling frame
    belongs to a file of the submission, so torch's own internals and the
    scenario code stay free to use anything.
    """

    def __init__(self):
        self.student_dir = "/nonexistent"
        self.active: frozenset[str] = frozenset()
        self.hits: list[str] = []
        self.installed: set[str] = set()
        self.scenario = False
        self.active_ops: frozenset[str] = frozenset()  # operator names (`aten.convolution`) banned now
        self.op_patterns: dict[str, frozenset[str]] = {}  # ban pattern -> the operators it names
        self._libraries: dict = {}  # namespace -> the torch.library.Library keeping its kernels registered
        self.installed_ops: set[tuple[str, str]] = set()
        self._guards: list = []

    def install(self, names: list[str]) -> None:
        """Wrap each banned name once (the warm parent does it before forking)."""
        for name in names:
            if name in self.installed:
                continue
            self.installed.add(name)
            if is_op_ban(name):
                self._install_op_ban(name)
                continue
            for obj, parent, attr in _targets(name):
                self._install_name(name, obj, parent, attr)

    def _install_name(self, name: str, obj, parent, attr) -> None:
        """Wrap one banned object; `name` is the ban as week.toml writes it (a pattern, perhaps)."""
        if isinstance(obj, types.ModuleType):
            for k, v in list(vars(obj).items()):
                if callable(v) and not k.startswith("_") and not isinstance(v, type):
                    self._wrap(v, obj, k, name)
        elif isinstance(obj, type):
            self._wrap(obj.__init__, obj, "__init__", name)
        else:
            self._wrap(obj, parent, attr, name)

    def _wrap(self, fn, parent, attr, name) -> None:
        wires = self

        def tripwire(*args, **kwargs):
            if name in wires.active:
                caller = sys._getframe(1).f_code.co_filename
                if os.path.realpath(caller).startswith(wires.student_dir + os.sep):
                    wires.hits.append(name)
            return fn(*args, **kwargs)

        try:
            setattr(parent, attr, tripwire)
        except (AttributeError, TypeError):
            pass
        # torch.conv2d and torch.nn.functional.conv2d are one object: patch every alias
        if isinstance(parent, types.ModuleType) and parent is torch.nn.functional:
            if getattr(torch, attr, None) is fn:
                setattr(torch, attr, tripwire)

    def _install_op_ban(self, pattern: str) -> None:
        """A kernel at the PreDispatch key on every overload of each operator the pattern names."""
        ns, _ = _split(pattern)
        if ns not in self._libraries:
            self._libraries[ns] = torch.library.Library(ns, "IMPL")
        library = self._libraries[ns]
        ops = _operators(pattern)
        self.op_patterns[pattern] = frozenset(ops)
        for name in ops:
            packet = getattr(getattr(torch.ops, ns), _split(name)[1] if "::" in name else name[len(OP_PREFIX):])
            for overload in packet.overloads():
                op = getattr(packet, overload)
                if (name, overload) in self.installed_ops:
                    continue
                self.installed_ops.add((name, overload))
                try:
                    library.impl(op, self._kernel(op, name), "PreDispatch")
                except RuntimeError:  # an overload the dispatcher will not take a kernel for
                    pass

    def _kernel(self, op, name: str):
        wires = self

        def kernel(*args, **kwargs):
            if name in wires.active_ops:
                wires._record(f"operator {name}")
            with _exclude_key(_KEYSET):
                return op(*args, **kwargs)

        return kernel

    def _record(self, what: str) -> None:
        # in a scenario the test's own code runs here too: count only what the submission's code reached
        if self.scenario and not _student_on_stack(self.student_dir):
            return
        self.hits.append(what)

    def arm(self, names, scenario: bool = False) -> None:
        """Start recording the bans `names` (those of the function about to run)."""
        self.active = frozenset(names)
        self.hits = []
        self.scenario = scenario
        self.install(sorted(n for n in self.active if is_op_ban(n)))  # no-op when the warm parent did it
        self.active_ops = frozenset().union(*(self.op_patterns.get(n, ()) for n in self.active if is_op_ban(n)))
        self._guards = []
        if self.active_ops:
            guard = _include_key(_KEY)
            guard.__enter__()
            self._guards.append(guard)
        if AUTOGRAD in self.active:
            _push_hooks(self._saved, self._restored)
            self._guards.append(None)

    @staticmethod
    def _saved(tensor):
        return tensor

    def _restored(self, tensor):
        self._record("autograd (the autograd engine computed a gradient)")
        return tensor

    def disarm(self) -> list[str]:
        """Stop recording; the banned names and operators the call reached."""
        self.active = frozenset()
        self.active_ops = frozenset()
        for guard in reversed(self._guards):
            try:
                if guard is None:
                    _pop_hooks()
                else:
                    guard.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - the student's code undid it; the static scan flags that
                pass
        self._guards = []
        return sorted(set(self.hits))


TRIPWIRES = Tripwires()


WILDCARDS = "*?["


def _targets(name: str) -> list[tuple]:
    """(object, parent, attribute) of each object a name ban names: one, or every match of a pattern
    in its last part (`torch.nn.RNN*` is RNN, RNNBase, RNNCell, RNNCellBase)."""
    head, _, last = name.rpartition(".")
    if not any(c in last for c in WILDCARDS):
        found = _lookup(name)
        return [found] if found[0] is not None else []
    parent = _lookup(head)[0] if head else None
    if parent is None:
        return []
    return [(getattr(parent, a), parent, a) for a in sorted(dir(parent))
            if fnmatch.fnmatchcase(a, last) and getattr(parent, a, None) is not None]


def _lookup(dotted: str):
    parts = dotted.split(".")
    obj, parent = sys.modules.get(parts[0]), None
    for p in parts[1:]:
        parent = obj
        obj = getattr(obj, p, None)
        if obj is None:
            try:
                obj = importlib.import_module(".".join(parts[: parts.index(p) + 1]))
            except ImportError:
                return None, None, None
    return obj, parent, parts[-1]
