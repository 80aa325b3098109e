"""Input checks shared by the point-cloud operations: each failure raises an error that says what is wrong."""

from __future__ import annotations

import operator

import torch
from torch import Tensor

_INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def check_points(name: str, points: object) -> Tensor:
    """Checks that ``points`` is a float tensor [B, M, 3]; returns it."""
    if not isinstance(points, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(points).__name__}")
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f"{name} must have shape [B, M, 3], got {list(points.shape)}")
    if not points.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {points.dtype}")
    if points.numel() == 0:
        raise ValueError(f"{name} is empty: shape {list(points.shape)}")
    return points


def check_count(name: str, value: object) -> int:
    """Checks that ``value`` is a positive integer; returns it as an int."""
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if isinstance(value, bool) or count < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return count


def check_start(start: object, lengths: Tensor) -> int:
    """Checks that ``start`` indexes a point of every cloud; returns it as an int."""
    try:
        index = operator.index(start)
    except TypeError:
        raise TypeError(f"start must be an integer, got {type(start).__name__}") from None
    cloud, length = _shortest(lengths)
    if not 0 <= index < length:
        raise ValueError(f"start={index} is out of range: cloud {cloud} has {length} points")
    return index


def cloud_lengths(points: Tensor, lengths: Tensor | None) -> Tensor:
    """Checked ``lengths`` as int64 [B] on ``points.device``; without it, every cloud has all N points.

    Cloud b is ``points[b, :lengths[b]]``; the points after it are padding.
    """
    batch, n_points, _ = points.shape
    if lengths is None:
        return torch.full((batch,), n_points, dtype=torch.int64, device=points.device)
    if not isinstance(lengths, Tensor) or lengths.dtype not in _INTEGER_DTYPES:
        raise TypeError(f"lengths must be an integer tensor [B], got {_describe(lengths)}")
    if lengths.shape != (batch,):
        raise ValueError(f"lengths must have shape [B] = [{batch}], got {list(lengths.shape)}")
    lengths = lengths.to(device=points.device, dtype=torch.int64)
    smallest, largest = int(lengths.min()), int(lengths.max())
    if smallest < 1 or largest > n_points:
        raise ValueError(f"lengths must lie in [1, N] = [1, {n_points}], got values in [{smallest}, {largest}]")
    return lengths


def check_enough_points(name: str, count: int, lengths: Tensor) -> None:
    """Checks that every cloud has at least ``count`` points (``name`` says what needs them)."""
    cloud, length = _shortest(lengths)
    if count > length:
        raise ValueError(f"{name}={count} but cloud {cloud} has only {length} points")


def check_finite(name: str, points: Tensor, lengths: Tensor) -> None:
    """Checks that the real points (not the padding) have finite coordinates."""
    low, high = torch.aminmax(points)  # NaN if there is one
    if torch.isfinite(low) and torch.isfinite(high):
        return
    real = torch.arange(points.shape[1], device=points.device) < lengths[:, None]
    bad = real & ~torch.isfinite(points).all(dim=-1)
    if bad.any():
        cloud, point = (int(i) for i in bad.nonzero()[0])
        raise ValueError(f"{name} has a NaN or infinite coordinate (cloud {cloud}, point {point})")


def _shortest(lengths: Tensor) -> tuple[int, int]:
    """(index, length) of the first shortest cloud."""
    cloud = int(lengths.argmin())
    return cloud, int(lengths[cloud])


def _describe(value: object) -> str:
    return f"{value.dtype} tensor" if isinstance(value, Tensor) else type(value).__name__
