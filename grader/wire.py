"""Plain data across the trust boundary.

Both directions use torch's weights-only loader, which refuses arbitrary
pickles and Tensor subclasses. On arrival in the trusted process every object
is checked for exact types (`check_plain`): tensors, numbers, strings, bytes,
None, and lists, tuples and dicts of them. Nothing else crosses.

Messages are framed as an 8-byte length and the payload; a reader never takes
more than `max_bytes`.
"""

from __future__ import annotations

import hashlib
import io
import socket
import struct
from collections import OrderedDict

import torch

HEADER = struct.Struct("!Q")
HANDLE_KEY = "__dlgrade_handle__"
SCALARS = (int, float, bool, str, bytes, complex, type(None))


class WireError(Exception):
    """A message that is not plain data, too large, or cut short."""


def dumps(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def loads(data: bytes):
    try:
        obj = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as e:  # the weights-only unpickler refuses anything unusual
        raise WireError(f"refused by the safe loader ({type(e).__name__})") from None
    check_plain(obj)
    return obj


def check_plain(obj, _depth: int = 0) -> None:
    """Raise WireError unless obj is built only of exact plain types."""
    if _depth > 50:
        raise WireError("nested too deeply")
    t = type(obj)
    if t is torch.Tensor:
        if obj.layout != torch.strided or obj.is_quantized or obj.device.type != "cpu":
            raise WireError("an unusual tensor (sparse, quantized or not on the CPU)")
    elif t in SCALARS or t is torch.dtype:
        pass
    elif t in (list, tuple):
        for x in obj:
            check_plain(x, _depth + 1)
    elif t in (dict, OrderedDict):
        for k, v in obj.items():
            if type(k) not in (str, int):
                raise WireError("a dict key that is not a str or int")
            check_plain(v, _depth + 1)
    else:
        raise WireError(f"an object of type {t.__name__}")


def send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(HEADER.pack(len(payload)) + payload)


def recv(sock: socket.socket, max_bytes: int) -> bytes:
    """One framed message; raises EOFError when the peer is gone."""
    head = _recv_exact(sock, HEADER.size)
    (n,) = HEADER.unpack(head)
    if n > max_bytes:
        raise WireError(f"an answer of {n / 2**20:.0f} MiB, over the limit of {max_bytes / 2**20:.0f} MiB")
    return _recv_exact(sock, n)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


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
        h.update(x.view(torch.uint8).numpy().tobytes() if x.numel() else b"")
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
