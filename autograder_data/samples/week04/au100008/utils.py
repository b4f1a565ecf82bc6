"""Small helpers for my week 4 code."""
import torch


def as_pair(v):
    if isinstance(v, (list, tuple)):
        assert len(v) == 2, "expected an (h, w) pair"
        return int(v[0]), int(v[1])
    return int(v), int(v)


def out_size(n, k, s, p=0):
    """Output length of a sliding window: input n, window k, stride s, padding p."""
    return (n + 2 * p - k) // s + 1


def zero_pad(x, ph, pw):
    """x [N, C, H, W] with ph zero rows on top and bottom and pw zero columns left and right."""
    n, c, h, w = x.shape
    rows = x.new_zeros(n, c, ph, w)
    x = torch.cat([rows, x, rows], dim=2)
    cols = x.new_zeros(n, c, h + 2 * ph, pw)
    return torch.cat([cols, x, cols], dim=3)
