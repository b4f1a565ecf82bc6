"""The one comparison helper of the suites, and what it says on a mismatch.

`check` explains a difference the way a teaching assistant would: what kind
of object came back, then shape and dtype, then how large the error is and
where, then hints (transposed, off by a constant factor, sign flipped, NaN,
input modified, or any alternative the test names). On a hidden test it never
prints expected values or inputs, only the size and place of the error.

Every failure also carries what went wrong as data, for the class report's
common mistakes: its `kind` (type, shape, dtype, values, mutated, check) and,
when one was recognised, a named `mistake` with a stable key and a sentence.
A suite names a hint's key with `Mistake(key, text)`; otherwise the key is a
slug of the hint's text. The engine's own hints have fixed keys (`GENERIC`).
"""

from __future__ import annotations

import contextvars
import math
import re

import torch

visibility = contextvars.ContextVar("dlgrade_visibility", default="public")
# True while a hint's alternative answer is computed: the reference's time then is not the test's
hinting = contextvars.ContextVar("dlgrade_hinting", default=False)

# The engine's own hints: key -> the sentence the class report shows (a message says it with its numbers).
GENERIC = {
    "sign_flipped": "the sign is flipped",
    "transposed": "the last two dimensions are transposed",
    "constant_factor": "off by a constant factor (a missing or extra division by the batch size or a count?)",
    "constant_offset": "off by a constant everywhere (a bias added twice or missing?)",
    "all_zeros": "the result is all zeros",
    "nan": "NaN where the answer is finite (a division by zero, log of 0 or exp overflow)",
    "inf": "inf where the answer is finite (an overflow: subtract the max before exp?)",
    "shape_transposed": "the output's shape is transposed",
    "reshape_order": "the right number of elements in the wrong shape (reshape/view or the order of dimensions)",
    "returned_none": "returns None (a missing return?)",
    "input_modified_in_place": "modifies its input in place",
}


class Mistake(str):
    """A hint's sentence with a stable key: `hints={Mistake("kernel_flipped", "the kernel is flipped"): alt}`.

    It is a str, so a suite can use it wherever it used the sentence.
    """

    key: str

    def __new__(cls, key: str, text: str):
        obj = super().__new__(cls, text)
        obj.key = key
        return obj


def mistake_key(text: str) -> str:
    """A hint's stable key: the one a `Mistake` names, else a slug of its first words (numbers left out)."""
    key = getattr(text, "key", None)
    if key:
        return str(key)
    words = re.findall(r"\b[a-z][a-z0-9_]*", str(text).lower())
    return "_".join(words[:8]) or "unnamed"


class GradingFailure(AssertionError):
    """A mismatch, with the sentence that explains it.

    kind: what differs (type, shape, dtype, values, mutated, check); mistake:
    {"key", "text"} of the mistake recognised, or None.
    """

    def __init__(self, message: str, *, kind: str = "check", mistake: dict | None = None):
        super().__init__(message)
        self.kind, self.mistake = kind, mistake


def fail(message: str, *, mistake: str | None = None) -> None:
    """A suite's own check failed; `message` is what the student reads.

    The sentence is the mistake the class report counts, keyed by `mistake`
    when given, else by a slug of the message.
    """
    raise GradingFailure(message, kind="check", mistake={"key": mistake or mistake_key(message), "text": message})


def _fail(message: str, kind: str, key: str | None = None, text: str | None = None) -> None:
    """A mismatch the engine found itself; `key` names a mistake (text defaults to its GENERIC sentence)."""
    mistake = {"key": key, "text": text or GENERIC.get(key, key)} if key else None
    raise GradingFailure(message, kind=kind, mistake=mistake)


def tolerances(dtype: torch.dtype) -> tuple[float, float]:
    """Default (rtol, atol): float64 is held tight, float32 and below looser."""
    if dtype == torch.float64:
        return 1e-7, 1e-9
    if dtype in (torch.float16, torch.bfloat16):
        return 1e-2, 1e-3
    return 1e-4, 1e-5


def check(actual, expected, *, name: str = "output", rtol: float | None = None, atol: float | None = None,
          hints: dict | None = None, check_dtype: bool = True) -> None:
    """Fail with a teaching message unless `actual` matches `expected`.

    hints: {sentence: alternative answer}; when `actual` equals an alternative,
    the sentence is the hint. An alternative may be a function of no
    arguments, called only when the answer is wrong (costly hints stay free
    for right answers).
    """
    _check(actual, expected, name, rtol, atol, hints or {}, check_dtype)


def _resolve(alt):
    """An alternative, computed now if it was given as a function; None if it cannot be."""
    if callable(alt) and not isinstance(alt, torch.Tensor):
        token = hinting.set(True)
        try:
            return alt()
        except Exception:  # noqa: BLE001 - a hint that cannot be computed is no hint
            return None
        finally:
            hinting.reset(token)
    return alt


def check_unmodified(student) -> None:
    """The last call into the student's code left its inputs as they were."""
    call = student.last_call
    if call is not None and call.mutated:
        names = ", ".join(_path_name(p) for p in call.mutated)
        _fail(f"{call.name} modified its input {names} in place; work on a copy (x = x.clone()) "
              "or build new tensors instead", "mutated", "input_modified_in_place")


def _path_name(path) -> str:
    head, *rest = path
    if head == "args":
        return f"argument {rest[0] + 1}" + "".join(f"[{r!r}]" for r in rest[1:])
    return f"{rest[0]}" + "".join(f"[{r!r}]" for r in rest[1:])


def _check(actual, expected, name, rtol, atol, hints, check_dtype) -> None:
    if isinstance(expected, torch.Tensor):
        _check_tensor(actual, expected, name, rtol, atol, hints, check_dtype)
    elif isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)):
            _fail(f"{name} should be a {type(expected).__name__} of {len(expected)} items, got {_kind(actual)}",
                  "type", _none_key(actual))
        if len(actual) != len(expected):
            _fail(f"{name} should have {len(expected)} items, got {len(actual)}", "shape")
        for i, (a, e) in enumerate(zip(actual, expected)):
            sub_hints = {k: (lambda v=v, i=i: _item(_resolve(v), i, len(expected))) for k, v in hints.items()}
            _check(a, e, f"{name}[{i}]", rtol, atol, sub_hints, check_dtype)
    elif isinstance(expected, dict):
        if not isinstance(actual, dict):
            _fail(f"{name} should be a dict, got {_kind(actual)}", "type", _none_key(actual))
        missing = [k for k in expected if k not in actual]
        if missing:
            _fail(f"{name} is missing the key(s) {', '.join(map(repr, missing))}", "shape")
        for k in expected:
            _check(actual[k], expected[k], f"{name}[{k!r}]", rtol, atol, {}, check_dtype)
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if type(actual) is not type(expected) or actual != expected:
            _fail(f"{name} is {_show(actual)}, expected {_show(expected)}" if _public()
                  else f"{name} is not the expected value", "values", _none_key(actual))
    elif isinstance(expected, int):
        a = _as_number(actual, name)
        if a != expected or (isinstance(a, float) and not float(a).is_integer()):
            _fail(f"{name} is {a}, expected {expected}" if _public()
                  else f"{name} is {a}, which is not the expected value", "values")
    elif isinstance(expected, float):
        a = float(_as_number(actual, name))
        r = 1e-5 if rtol is None else rtol
        t = 1e-8 if atol is None else atol
        if not (math.isclose(a, expected, rel_tol=r, abs_tol=t) or (math.isnan(a) and math.isnan(expected))):
            msg = f"{name} is {a:.6g}, expected {expected:.6g}" if _public() else f"{name} is {a:.6g}, which is not the expected value"
            key, text = _scalar_hint(a, expected, hints, r, t)
            _fail(msg + (f". Hint: {text}" if text else ""), "values", key, _mistake_text(key, text))
    else:
        raise TypeError(f"check() cannot compare {type(expected).__name__}")


def _check_tensor(actual, expected, name, rtol, atol, hints, check_dtype) -> None:
    if not isinstance(actual, torch.Tensor):
        _fail(f"{name} should be a torch.Tensor of shape {list(expected.shape)}, got {_kind(actual)}", "type",
              _none_key(actual))
    if actual.shape != expected.shape:
        msg, key = f"{name} has shape {list(actual.shape)}, expected {list(expected.shape)}", None
        if actual.dim() >= 2 and tuple(actual.shape[::-1]) == tuple(expected.shape) or (
                actual.dim() == expected.dim() >= 2 and actual.transpose(-1, -2).shape == expected.shape):
            msg, key = msg + "; it looks transposed", "shape_transposed"
        elif actual.numel() == expected.numel():
            msg += "; same number of elements, so check your reshape/view and the order of dimensions"
            key = "reshape_order"
        _fail(msg, "shape", key)
    if check_dtype and actual.dtype != expected.dtype:
        _fail(f"{name} has dtype {_dt(actual.dtype)}, expected {_dt(expected.dtype)} "
              "(return the input's dtype: create new tensors with dtype=x.dtype)", "dtype")
    if expected.dtype == torch.bool or not (expected.is_floating_point() or expected.is_complex()):
        if not torch.equal(actual, expected.to(actual.dtype)):
            bad = (actual != expected.to(actual.dtype)).nonzero()
            _fail(f"{name} differs in {bad.shape[0]} of {expected.numel()} entries, the first at {_idx(bad[0])}",
                  "values")
        return
    d_rtol, d_atol = tolerances(expected.dtype)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol * max(1.0, float(expected.abs().max()) if expected.numel() else 1.0) if atol is None else atol
    a = actual.detach().to(torch.float64)
    e = expected.detach().to(torch.float64)
    nan_a, nan_e = torch.isnan(a), torch.isnan(e)
    if (nan_a & ~nan_e).any():
        where = _idx((nan_a & ~nan_e).nonzero()[0])
        _fail(f"{name} has NaN at {where} (and {int((nan_a & ~nan_e).sum())} entries in all) where the answer is "
              "finite: look for a division by zero, log of 0 or exp overflow", "values", "nan")
    if (torch.isinf(a) & ~torch.isinf(e)).any():
        _fail(f"{name} has inf where the answer is finite: look for an overflow (subtract the max before exp?)",
              "values", "inf")
    ok = torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(ok.all()):
        return
    err = (a - e).abs().nan_to_num(0.0)
    flat = int(err.argmax())
    where = _idx(torch.tensor(_unravel(flat, tuple(e.shape))))
    max_abs = float(err.max())
    ref = float(e.abs().flatten()[flat])
    rel = f"relative {max_abs / ref:.3g}; " if ref > atol else ""
    nbad = int((~ok).sum())
    msg = (f"{name} values differ in {nbad} of {e.numel()} entries: max abs error {max_abs:.3g} at {where} "
           f"({rel}tolerance rtol={rtol:g}, atol={atol:.2g})")
    if _public():
        msg += f"; got {float(a.flatten()[flat]):.6g}, expected {float(e.flatten()[flat]):.6g}"
    key, hint = _tensor_hint(a, e, hints, rtol, atol)
    _fail(msg + (f". Hint: {hint}" if hint else ""), "values", key, _mistake_text(key, hint))


def _item(seq, i, n):
    return seq[i] if isinstance(seq, (tuple, list)) and len(seq) == n else None


def _none_key(actual) -> str | None:
    return "returned_none" if actual is None else None


def _mistake_text(key, hint: str) -> str | None:
    """The sentence the class report shows: a suite's hint as it is, an engine hint without its numbers."""
    return GENERIC.get(key, hint) if key else None


def _tensor_hint(a, e, hints, rtol, atol) -> tuple[str | None, str]:
    """(mistake key, hint sentence), or (None, "")."""
    for text, alt in hints.items():
        alt = _resolve(alt)
        if isinstance(alt, torch.Tensor) and alt.shape == a.shape and torch.allclose(
                a, alt.detach().to(torch.float64), rtol=rtol, atol=atol):
            return mistake_key(text), str(text)
    if torch.allclose(a, -e, rtol=rtol, atol=atol):
        return "sign_flipped", "the sign is flipped"
    if a.dim() >= 2 and a.shape[-1] == a.shape[-2] and torch.allclose(a.transpose(-1, -2), e, rtol=rtol, atol=atol):
        return "transposed", "the last two dimensions are transposed"
    mask = e.abs() > atol
    if mask.any():
        ratio = a[mask] / e[mask]
        c = float(ratio.median())
        if abs(c - 1) > 1e-3 and abs(c) > 1e-6 and torch.allclose(a, c * e, rtol=rtol, atol=atol):
            near = round(c) if abs(c - round(c)) < 1e-6 else (1 / round(1 / c) if abs(1 / c - round(1 / c)) < 1e-6 else None)
            extra = " (a missing or extra division by the batch size or a count?)" if near else ""
            return "constant_factor", f"off by a constant factor of {c:.4g}{extra}"
    if torch.allclose(a, e + float((a - e).mean()), rtol=rtol, atol=atol):
        return "constant_offset", (f"off by a constant {float((a - e).mean()):.3g} everywhere "
                                   "(a bias added twice or missing?)")
    if (a == 0).all() and not (e == 0).all():
        return "all_zeros", "the result is all zeros"
    return None, ""


def _scalar_hint(a, e, hints, rtol, atol) -> tuple[str | None, str]:
    """(mistake key, hint sentence), or (None, "")."""
    for text, alt in hints.items():
        alt = _resolve(alt)
        if isinstance(alt, (int, float)) and math.isclose(a, float(alt), rel_tol=rtol, abs_tol=atol):
            return mistake_key(text), str(text)
    if e and math.isclose(a, -e, rel_tol=rtol, abs_tol=atol):
        return "sign_flipped", "the sign is flipped"
    if e and a and abs(a / e - 1) > 1e-3:
        c = a / e
        if abs(c - round(c)) < 1e-6 or abs(1 / c - round(1 / c)) < 1e-6:
            return "constant_factor", (f"off by a factor of {c:.4g} (a mean where a sum is asked, "
                                       "or the other way round?)")
    return None, ""


def _as_number(x, name):
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            _fail(f"{name} should be a number, got a tensor of shape {list(x.shape)}", "shape")
        return x.item()
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return x
    _fail(f"{name} should be a number, got {_kind(x)}", "type", _none_key(x))


def _public() -> bool:
    return visibility.get() == "public"


def _kind(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {list(x.shape)}"
    if x is None:
        return "None (did the function forget to return?)"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)} items"
    return f"a {type(x).__name__}"


def _show(x) -> str:
    return repr(x) if len(repr(x)) < 80 else repr(x)[:77] + "..."


def _dt(dt) -> str:
    return str(dt).replace("torch.", "")


def _idx(t) -> str:
    return "[" + ", ".join(str(int(v)) for v in t.tolist()) + "]"


def _unravel(flat: int, shape: tuple) -> list[int]:
    out = []
    for s in reversed(shape):
        out.append(flat % s)
        flat //= s
    return list(reversed(out))
