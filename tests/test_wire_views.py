"""Tensor views cross the wire with their strides (tag V), checked strictly on arrival."""

from __future__ import annotations

import json
import struct

import pytest
import torch

from grader import wire

X = torch.arange(2 * 3 * 5 * 7, dtype=torch.float64).reshape(2, 3, 5, 7)


@pytest.mark.parametrize("view", [
    X.transpose(-1, -2), X[:, :, 1::2, ::3], X.permute(0, 2, 3, 1), X[..., 2:5], X[1:, ::2],
    torch.arange(12.0).reshape(4, 3).t()[1:],
], ids=["transposed", "strided", "permuted", "sliced", "batch-slice", "2d"])
def test_views_keep_their_strides(view):
    assert not view.is_contiguous()
    got = wire.loads(wire.dumps({"v": [view]}))["v"][0]
    assert torch.equal(got, view) and got.stride() == view.stride() and got.dtype == view.dtype


def test_other_tensors_arrive_as_before():
    for t in (X, torch.tensor(2.5), torch.empty(0, 3), X[:1].expand(4, 3, 5, 7), torch.ones(3, dtype=torch.bool)):
        got = wire.loads(wire.dumps([t]))[0]
        assert torch.equal(got, t) and got.is_contiguous() and got.shape == t.shape


def _message(node, raw: bytes) -> bytes:
    head = json.dumps([node] if node[0] != "L" else node).encode()
    return struct.pack("!I", len(head)) + head + raw


@pytest.mark.parametrize("node, nbytes", [
    (["V", "float64", [2, 2], [1, 1], 24], 24),        # two elements share memory
    (["V", "float64", [3, 2], [0, 1], 16], 16),        # stride 0 (an expanded tensor)
    (["V", "float64", [2, 2], [2, 1], 32], 24),        # says more bytes than it has
    (["V", "float64", [2, 2], [2, 1], 24], 24),        # bytes do not match the span
    (["V", "float64", [2, 2], [-2, 1], 32], 32),       # negative stride
    (["V", "float64", [0], [1], 8], 8),                # empty: never sent as a view
    (["V", "float64", [2], [1.5], 16], 16),            # not an int
    (["V", "float64", [2, 3], [3], 48], 48),           # sizes and strides disagree
    (["V", "object", [2], [1], 16], 16),               # unknown dtype
], ids=["overlap", "stride0", "short", "span", "negative", "empty", "float", "rank", "dtype"])
def test_hostile_views_are_refused(node, nbytes):
    with pytest.raises(wire.WireError):
        wire.loads(_message(node, b"\0" * nbytes))
