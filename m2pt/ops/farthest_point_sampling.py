"""Farthest point sampling (FPS): a well-spread subset of each point cloud."""

from __future__ import annotations

import torch
from torch import Tensor

from . import cpu_kernels
from .validation import (
    check_count,
    check_enough_points,
    check_finite,
    check_points,
    check_start,
    cloud_lengths,
)


def farthest_point_sample(xyz: Tensor, n: int, start: int = 0, lengths: Tensor | None = None) -> Tensor:
    """Picks ``n`` points of each cloud by farthest point sampling; returns their indices in pick order.

    The first pick is ``start``; each next one is the point farthest (Euclidean) from those already picked,
    the lowest index among ties. Distances are computed in float64 whatever the input dtype, so on points in
    general position the picks are those of Open3D's ``farthest_point_down_sample(n, start_index=start)``
    (which returns them in index order). Once every point is at distance 0 from the picks (a cloud with
    fewer than ``n`` distinct points), the remaining picks are index 0. No gradient.

    Args:
        xyz: [B, N, 3] float coordinates, on any device.
        n: points to pick per cloud, at most the length of every cloud.
        start: index of the first pick, the same for every cloud.
        lengths: optional [B] integer tensor: cloud b is ``xyz[b, :lengths[b]]``; the points after it
            are padding (any values) and are never picked.

    Returns:
        [B, n] int64 indices into dim 1 of ``xyz``, on its device, with ``[:, 0] == start``.
    """
    check_points("xyz", xyz)
    n = check_count("n", n)
    lengths = cloud_lengths(xyz, lengths)
    check_enough_points("n", n, lengths)
    start = check_start(start, lengths)
    check_finite("xyz", xyz, lengths)
    with torch.no_grad():
        if xyz.device.type == "cpu" and cpu_kernels.available():
            return cpu_kernels.farthest_point_sample(xyz, n, start, lengths)
        return farthest_point_sample_reference(xyz, n, start, lengths)


def farthest_point_sample_reference(xyz: Tensor, n: int, start: int, lengths: Tensor) -> Tensor:
    """Pure-torch farthest point sampling on checked input (any device): n - 1 steps over the whole batch.

    xyz [B, N, 3] float, lengths [B] int64 on the same device -> [B, n] int64.
    """
    batch, n_points, _ = xyz.shape
    padding = torch.arange(n_points, device=xyz.device) >= lengths[:, None]  # [B, N]
    coords = xyz.to(torch.float64).transpose(1, 2).contiguous()  # [B, 3, N]
    coords.masked_fill_(padding[:, None, :], 0.0)
    nearest = torch.full((batch, n_points), torch.inf, dtype=torch.float64, device=xyz.device)
    nearest.masked_fill_(padding, -1.0)  # below every real squared distance: never the farthest
    difference = torch.empty_like(coords)
    distance = torch.empty_like(nearest)
    batch_index = torch.arange(batch, device=xyz.device)
    picks = torch.empty(batch, n, dtype=torch.int64, device=xyz.device)
    picks[:, 0] = start
    for step in range(1, n):
        last = coords[batch_index, :, picks[:, step - 1]]  # [B, 3]
        torch.sub(coords, last[:, :, None], out=difference)
        difference.mul_(difference)
        torch.add(difference[:, 0], difference[:, 1], out=distance)  # (dx² + dy²) + dz², as in the C++
        distance.add_(difference[:, 2])
        torch.minimum(nearest, distance, out=nearest)
        picks[:, step] = nearest.argmax(dim=1)
    return picks
