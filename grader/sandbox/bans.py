"""Banned calls at call time, in the worker (the static half is `grader/banned.py`).

Nothing here is trusted by the grader: the student's code runs in the same
process and could undo it. The static scan flags code that reaches for it.
"""

from __future__ import annotations

import importlib
import os
import sys
import types

import torch


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

    def install(self, names: list[str]) -> None:
        """Wrap each banned name once (the warm parent does it before forking)."""
        for name in names:
            if name in self.installed:
                continue
            self.installed.add(name)
            obj, parent, attr = _lookup(name)
            if obj is None:
                continue
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

    def arm(self, names) -> None:
        self.active = frozenset(names)
        self.hits = []

    def disarm(self) -> list[str]:
        self.active = frozenset()
        return sorted(set(self.hits))


TRIPWIRES = Tripwires()


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
