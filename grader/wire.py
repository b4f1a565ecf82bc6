"""Plain data across the trust boundary.

Both directions use one small format of its own: a JSON skeleton followed by
the raw bytes of the tensors (`dumps`, `loads`). It has no pickle in it, so a
message can only ever become tensors of known dtypes, numbers, strings,
bytes, None, and lists, tuples and dicts of them; anything else is refused
when it is sent and could not be expressed on arrival. It is also several
times faster than torch.save/torch.load for the small messages of a test.

Messages are framed as an 8-byte length and the payload; a reader never takes
more than `max_bytes`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import time
from collections import OrderedDict

import torch

HEADER = struct.Struct("!Q")
HANDLE_KEY = "__dlgrade_handle__"
SCALARS = (int, float, bool, str, bytes, complex, type(None))


class WireError(Exception):
    """A message that is not plain data, too large, or cut short."""


# The format: a 4-byte length, a JSON skeleton, then the raw bytes of every
# tensor. No pickle at all: decoding builds only JSON values and tensors of
# the dtypes below, so no object of the sender's choosing can come to life.
_HEAD = struct.Struct("!I")
# The JSON part of a message: plain answers are small; a huge skeleton (millions
# of empty containers) would cost the trusted process gigabytes to parse.
MAX_SKELETON = 1 << 20
DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex64, torch.complex128,
    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)}


def dumps(obj) -> bytes:
    buffers: list[bytes] = []
    skeleton = _encode(obj, buffers, 0)
    head = json.dumps(skeleton, separators=(",", ":")).encode()
    return _HEAD.pack(len(head)) + head + b"".join(buffers)


def _encode(obj, buffers: list, depth: int):
    if depth > 50:
        raise WireError("nested too deeply")
    t = type(obj)
    if isinstance(obj, torch.Tensor):
        x = obj.detach().to("cpu")
        name = str(x.dtype).removeprefix("torch.")
        if name not in DTYPES:
            raise WireError(f"a tensor of dtype {name}")
        if not x.is_contiguous() and x.numel() and _non_overlapping(list(x.shape), list(x.stride())):
            return _encode_view(x, name, buffers)
        x = x.contiguous()
        raw = x.reshape(-1).view(torch.uint8).numpy().tobytes() if x.numel() else b""  # 0-d too
        buffers.append(raw)
        return ["X", name, list(x.shape), len(raw)]
    if obj is None:
        return ["n"]
    if t is bool:
        return ["b", obj]
    if t is int:
        return ["i", obj]
    if t is float:
        return ["f", obj]
    if t is str:
        return ["s", obj]
    if t is bytes:
        return ["y", base64.b64encode(obj).decode()]
    if t is complex:
        return ["c", obj.real, obj.imag]
    if t is torch.dtype:
        return ["d", str(obj).removeprefix("torch.")]
    if t in (list, tuple):
        return ["L" if t is list else "T", [_encode(v, buffers, depth + 1) for v in obj]]
    if t in (dict, OrderedDict):
        return ["D", [[_encode(k, buffers, depth + 1), _encode(v, buffers, depth + 1)] for k, v in obj.items()]]
    raise WireError(f"an object of type {t.__name__}")


def _encode_view(x: torch.Tensor, name: str, buffers: list):
    """A view (transposed, sliced) keeps its strides: the span of storage it covers, then
    its size and strides in elements. The receiver rebuilds it with `as_strided`."""
    span = 1 + sum((n - 1) * st for n, st in zip(x.shape, x.stride()))
    base = torch.as_strided(x, (span,), (1,), x.storage_offset()).contiguous()
    raw = base.view(torch.uint8).numpy().tobytes()
    buffers.append(raw)
    return ["V", name, list(x.shape), list(x.stride()), len(raw)]


def _non_overlapping(shape: list, stride: list) -> bool:
    """No two elements share memory: sorted by stride, each dimension steps over the ones below it."""
    dims = sorted((st, n) for n, st in zip(shape, stride) if n > 1)
    reach = 1
    for st, n in dims:
        if st < reach:
            return False
        reach = st * n
    return True


def _decode_view(node, view: memoryview, offset: int):
    """The `V` tag, checked as strictly as `X`: every index it can reach lies in its own bytes."""
    _, name, shape, stride, size = node
    dtype = DTYPES[name]
    ints = (type(shape) is list and type(stride) is list and len(shape) == len(stride) <= 64
            and all(type(d) is int and d > 0 for d in shape) and all(type(d) is int and d >= 0 for d in stride))
    if not ints or type(size) is not int:
        raise WireError("a malformed tensor view")
    span = 1 + sum((n - 1) * st for n, st in zip(shape, stride))
    if not _non_overlapping(shape, stride) or span * torch.empty(0, dtype=dtype).element_size() != size \
            or offset + size > len(view):
        raise WireError("a tensor view whose strides do not match its bytes")
    raw = bytearray(view[offset:offset + size])
    base = torch.frombuffer(raw, dtype=torch.uint8).view(dtype)
    return torch.as_strided(base, shape, stride, 0), offset + size


def loads(data: bytes):
    try:
        (n,) = _HEAD.unpack_from(data)
        if n > MAX_SKELETON:
            raise WireError(f"a message whose structure takes over {MAX_SKELETON >> 20} MiB")
        skeleton = json.loads(data[_HEAD.size:_HEAD.size + n])
        view = memoryview(data)[_HEAD.size + n:]
        obj, used = _decode(skeleton, view, 0, 0)
    except WireError:
        raise
    except Exception as e:  # noqa: BLE001 - any malformed message is refused the same way
        raise WireError(f"a malformed message ({type(e).__name__})") from None
    if used != len(view):
        raise WireError("a malformed message (trailing bytes)")
    return obj


def _decode(node, view: memoryview, offset: int, depth: int):
    if depth > 50 or type(node) is not list or not node:
        raise WireError("a malformed message")
    tag = node[0]
    if tag == "X":
        _, name, shape, size = node
        dtype = DTYPES[name]
        if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape) or type(size) is not int:
            raise WireError("a malformed tensor")
        count = 1
        for d in shape:
            count *= d
        if count * torch.empty(0, dtype=dtype).element_size() != size or offset + size > len(view):
            raise WireError("a tensor whose size does not match its shape")
        if size == 0:
            return torch.empty(shape, dtype=dtype), offset
        raw = bytearray(view[offset:offset + size])
        return torch.frombuffer(raw, dtype=torch.uint8).view(dtype).reshape(shape), offset + size
    if tag == "V":
        return _decode_view(node, view, offset)
    if tag == "n":
        return None, offset
    if tag in ("b", "i", "f", "s"):
        value = node[1]
        want = {"b": bool, "i": int, "f": float, "s": str}[tag]
        if tag == "f" and type(value) is int:
            value = float(value)
        if type(value) is not want:
            raise WireError("a malformed scalar")
        return value, offset
    if tag == "y":
        return base64.b64decode(node[1], validate=True), offset
    if tag == "c":
        return complex(float(node[1]), float(node[2])), offset
    if tag == "d":
        return DTYPES[node[1]], offset
    if tag in ("L", "T"):
        out = []
        for item in node[1]:
            value, offset = _decode(item, view, offset, depth + 1)
            out.append(value)
        return (out if tag == "L" else tuple(out)), offset
    if tag == "D":
        out = {}
        for pair in node[1]:
            k, offset = _decode(pair[0], view, offset, depth + 1)
            if type(k) not in (str, int):
                raise WireError("a dict key that is not a str or int")
            out[k], offset = _decode(pair[1], view, offset, depth + 1)
        return out, offset
    raise WireError("a malformed message (unknown tag)")


def send(sock: socket.socket, payload: bytes, deadline: float | None = None) -> None:
    """Send one framed message; with a deadline (time.monotonic()), raise TimeoutError past it."""
    data = memoryview(HEADER.pack(len(payload)) + payload)
    if deadline is None:
        sock.settimeout(None)
        sock.sendall(data)
        return
    while data:
        _wait(sock, deadline)
        sent = sock.send(data[: 1 << 20])
        data = data[sent:]


def recv(sock: socket.socket, max_bytes: int, deadline: float | None = None) -> bytes:
    """One framed message; raises EOFError when the peer is gone, TimeoutError past the deadline.

    The deadline covers the whole message: a peer that sends it in slow pieces
    does not get more time. A message over `max_bytes` is refused from its
    header, before any of it is read; one whose skeleton is over
    `MAX_SKELETON` is refused before it is parsed.
    """
    head = _recv_exact(sock, HEADER.size, deadline)
    (n,) = HEADER.unpack(head)
    if n > max_bytes:
        raise WireError(f"an answer of {n / 2**20:.1f} MiB, over the limit of {max_bytes / 2**20:.1f} MiB")
    data = _recv_exact(sock, n, deadline)
    if len(data) >= _HEAD.size and _HEAD.unpack_from(data)[0] > MAX_SKELETON:
        raise WireError(f"an answer whose structure takes over {MAX_SKELETON >> 20} MiB")
    return data


def _wait(sock: socket.socket, deadline: float | None) -> None:
    if deadline is None:
        sock.settimeout(None)
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    sock.settimeout(left)


def _recv_exact(sock: socket.socket, n: int, deadline: float | None = None) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        _wait(sock, deadline)
        k = sock.recv_into(view[got:], min(n - got, 1 << 20))
        if not k:
            raise EOFError
        got += k
    return bytes(buf)


def canonical_hash(obj) -> str:
    """A stable digest of plain data, used to key recorded reference answers."""
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()


def _feed(h, obj) -> None:
    t = type(obj)
    if isinstance(obj, torch.Tensor):
        x = obj.detach().cpu().contiguous()
        h.update(f"T{x.dtype}{tuple(x.shape)}".encode())
        h.update(x.reshape(-1).view(torch.uint8).numpy().tobytes() if x.numel() else b"")  # 0-d too
    elif t in (list, tuple):
        h.update(f"{t.__name__}{len(obj)}[".encode())
        for x in obj:
            _feed(h, x)
        h.update(b"]")
    elif isinstance(obj, dict):
        h.update(f"d{len(obj)}{{".encode())
        for k in sorted(obj, key=repr):
            _feed(h, k)
            _feed(h, obj[k])
        h.update(b"}")
    else:
        h.update(f"{t.__name__}:{obj!r};".encode())
