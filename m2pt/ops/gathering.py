"""Gathering points (or their features) by index, cloud by cloud."""

from __future__ import annotations

import torch
from torch import Tensor


def gather_points(points: Tensor, idx: Tensor) -> Tensor:
    """Picks points by index in each cloud: ``out[b, i, ...] = points[b, idx[b, i, ...]]``.

    Differentiable with respect to ``points``. For example, each neighbourhood relative to its centre:
    ``gather_points(xyz, knn(xyz, centers, k)) - centers[:, :, None]`` is [B, G, k, 3].

    Args:
        points: [B, N, C] coordinates or features.
        idx: [B, ...] integer indices into dim 1 of ``points``, on its device.

    Returns:
        [B, ..., C], the dtype and device of ``points``.
    """
    if not isinstance(points, Tensor) or points.dim() != 3:
        raise ValueError(f"points must be a tensor [B, N, C], got {_shape(points)}")
    if not isinstance(idx, Tensor) or idx.dim() < 1 or idx.shape[0] != points.shape[0]:
        raise ValueError(f"idx must be a tensor [B, ...] with B = {points.shape[0]}, got {_shape(idx)}")
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError(f"idx must be an integer tensor, got {idx.dtype}")
    batch, _, channels = points.shape
    flat = idx.reshape(batch, -1, 1).to(torch.int64).expand(-1, -1, channels)  # [B, M, C]
    return points.gather(1, flat).reshape(*idx.shape, channels)


def _shape(value: object) -> str:
    return str(list(value.shape)) if isinstance(value, Tensor) else type(value).__name__
