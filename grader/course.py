"""One object owns every path convention of a course.

A course root is a folder holding `autograder_data/`; `solutions/` and
`assignments/` sit beside it. A student release has the same shape without
`solutions/` and without hidden suites.
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

WEEK_RE = re.compile(r"^week\d{2}$")


@dataclass(frozen=True)
class Week:
    """A week's metadata (`autograder_data/weekNN/week.toml`) and its paths."""

    name: str
    title: str
    module: str
    functions: tuple[str, ...]
    banned: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warm: tuple[str, ...] = ()
    in_place: tuple[str, ...] = ()
    answer_mb: int = 16  # the largest answer a worker may send back (week.toml answer_mb)
    course: "Course | None" = None

    def banned_for(self, function: str) -> tuple[str, ...]:
        """Every banned dotted name that applies to `function`."""
        return tuple(dict.fromkeys(self.banned.get("*", ()) + self.banned.get(function, ())))

    @property
    def data_dir(self) -> Path:
        return self.course.data_dir / self.name

    @property
    def solution_file(self) -> Path:
        return self.course.root / "solutions" / self.name / f"{self.module}.py"

    @property
    def stub_file(self) -> Path:
        return self.course.root / "assignments" / self.name / f"{self.module}.py"

    @property
    def expected_file(self) -> Path:
        return self.data_dir / "public_expected.pt"

    def suite_files(self, visibility: str) -> list[Path]:
        """`public` gives the public suite; `all` adds the hidden one."""
        if visibility not in ("public", "all"):
            raise ValueError(f"visibility must be 'public' or 'all', not {visibility!r}")
        names = ["test_public.py"] + (["test_hidden.py"] if visibility == "all" else [])
        return [self.data_dir / n for n in names if (self.data_dir / n).exists()]

    def has_reference(self) -> bool:
        return self.solution_file.exists()


@dataclass(frozen=True)
class Course:
    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "autograder_data"

    @classmethod
    def find(cls, start: Path | None = None) -> "Course":
        """The course around `start` (default: `$DLGRADE_COURSE`, else the cwd upwards)."""
        env = os.environ.get("DLGRADE_COURSE")
        here = Path(env) if env and start is None else (start or Path.cwd())
        here = here.resolve()
        for d in [here, *here.parents]:
            if (d / "autograder_data").is_dir():
                return cls(d)
        raise UserError(
            f"No course found at {here} or above it: dlgrade runs inside the course folder (the one holding "
            "autograder_data/), which students get as the course's public repository or its zip "
            "(git clone it or unzip it, `pip install .` there, then cd into it), or set DLGRADE_COURSE to it."
        )

    def settings(self) -> "Settings":
        """The course's `dlgrade.toml` (section [grading]); every key is optional."""
        path = self.root / "dlgrade.toml"
        data = {}
        if path.exists():
            try:
                data = tomllib.loads(path.read_text()).get("grading", {})
            except tomllib.TOMLDecodeError as e:
                raise UserError(f"{path} is not valid TOML ({e}); fix the file.") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: [grading] must be a table of settings; fix the file.")
        known = set(Settings.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        for name, value in data.items():
            check_setting(name, value, f"{path.name} [grading] {name}")
        return Settings(**data)

    def weeks(self) -> list[str]:
        return sorted(p.name for p in self.data_dir.iterdir() if WEEK_RE.match(p.name) and (p / "week.toml").exists())

    def week(self, name: str) -> Week:
        name = normalize_week(name)
        meta = self.data_dir / name / "week.toml"
        if not meta.exists():
            known = ", ".join(self.weeks()) or "none"
            raise UserError(f"Unknown week '{name}': this course has {known}.")
        try:
            data = tomllib.loads(meta.read_text())
        except tomllib.TOMLDecodeError as e:
            raise UserError(f"{meta} is not valid TOML ({e}); fix the file.") from None
        banned = {k: tuple(v) for k, v in data.get("banned", {}).items()}
        return Week(
            name=name,
            title=data.get("title", name),
            module=data["module"],
            functions=tuple(data.get("functions", ())),
            banned=banned,
            warm=tuple(data.get("warm", ())),
            in_place=tuple(data.get("in_place", ())),
            answer_mb=_answer_mb(data.get("answer_mb", 16), meta),
            course=self,
        )


@dataclass(frozen=True)
class Settings:
    """Grading settings with their defaults; `dlgrade.toml` [grading] overrides them."""

    seed: int = 0
    jobs: int | None = None
    id_pattern: str | None = None
    call_timeout_s: float = 20.0
    cpu_s: float = 120.0
    memory_mb: int = 2048
    output_kb: int = 1024
    test_timeout_s: float = 60.0
    submission_timeout_s: float = 600.0
    sandbox: str = "strict"

    def limits(self, **overrides):
        """The sandbox limits, with any non-None override (from the command line) taking precedence."""
        from dataclasses import replace

        from .sandbox import Limits

        given = {k: v for k, v in overrides.items() if v is not None}
        for name, value in given.items():
            check_setting(name, value, OPTION_NAMES.get(name, name))
        merged = replace(self, **given)
        return Limits(call_timeout_s=merged.call_timeout_s, cpu_s=merged.cpu_s,
                      memory_bytes=int(merged.memory_mb) << 20, output_bytes=int(merged.output_kb) << 10,
                      test_timeout_s=merged.test_timeout_s, submission_timeout_s=merged.submission_timeout_s,
                      weak_sandbox=merged.sandbox == "weak")


# Each setting: (kind, lowest, highest, what it is, in words). Timeouts and CPU seconds may be fractions.
SETTING_RULES: dict[str, tuple[type, float, float, str]] = {
    "seed": (int, 0, 2**63 - 1, "a whole number from 0"),
    "jobs": (int, 1, 1024, "a whole number of graders from 1 to 1024"),
    "call_timeout_s": (float, 0.01, 86400, "a number of seconds from 0.01 to 86400"),
    "test_timeout_s": (float, 0.01, 86400, "a number of seconds from 0.01 to 86400"),
    "submission_timeout_s": (float, 0.01, 86400, "a number of seconds from 0.01 to 86400"),
    "cpu_s": (float, 0.01, 86400, "a number of CPU seconds from 0.01 to 86400"),
    "memory_mb": (int, 64, 1 << 22, "a whole number of MiB from 64"),
    "output_kb": (int, 1, 1 << 20, "a whole number of KiB from 1"),
    "id_pattern": (str, 0, 0, "a regular expression in quotes"),
    "sandbox": (str, 0, 0, '"strict" or "weak"'),
}
# The command-line option behind a setting, to name it in an error.
OPTION_NAMES = {"call_timeout_s": "--timeout", "test_timeout_s": "--test-timeout",
                "submission_timeout_s": "--submission-timeout", "memory_mb": "--memory-mb",
                "output_kb": "--output-kb", "jobs": "--jobs", "seed": "--seed", "id_pattern": "--id-pattern"}


def check_setting(name: str, value, where: str) -> None:
    """Refuse a setting of the wrong type, out of range or not finite, with one sentence naming `where`."""
    kind, low, high, words = SETTING_RULES[name]
    shown = repr(value) if isinstance(value, str) else str(value)
    if name == "sandbox":
        ok = value in ("strict", "weak")
    elif kind is str:
        ok = isinstance(value, str) and bool(value)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        ok = False
    elif kind is int:
        ok = isinstance(value, int) and low <= value <= high
    else:
        ok = math.isfinite(value) and low <= value <= high
    if not ok:
        raise UserError(f"{where} must be {words}, not {shown}; fix the setting.")


def _answer_mb(value, meta: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise UserError(f"{meta}: answer_mb must be a whole number of MiB from 1 to 4096, not {value!r}; fix the file.")
    return value


def normalize_week(name: str) -> str:
    """`4`, `04`, `week4` and `week04` all name week04."""
    m = re.fullmatch(r"(?:week)?0*(\d{1,2})", name.strip().lower())
    if not m:
        raise UserError(f"'{name}' is not a week name; use the form week04.")
    return f"week{int(m.group(1)):02d}"
