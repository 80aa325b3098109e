"""k nearest neighbours: the neighbourhood of each centre in its point cloud."""

from __future__ import annotations

import torch
from torch import Tensor

from . import cpu_kernels
from .validation import check_count, check_enough_points, check_finite, check_points, cloud_lengths

_CHUNK_ELEMENTS = 1 << 20  # distances the reference holds at once: B * centres * N


def knn(xyz: Tensor, centers: Tensor, k: int, lengths: Tensor | None = None) -> Tensor:
    """Indices of the ``k`` points of each cloud nearest (Euclidean) to each of its centres, nearest first.

    Ties go to the lowest index. Distances are computed in float64 whatever the input dtype, so on points in
    general position the result is that of a KD-tree query such as scipy's
    ``cKDTree(xyz[b]).query(centers[b], k)``. A centre taken from the cloud (for example by
    :func:`farthest_point_sample`) finds itself first, at distance 0. No gradient.

    Args:
        xyz: [B, N, 3] float coordinates, on any device.
        centers: [B, G, 3] float coordinates on the same device; any points, not only points of ``xyz``.
        k: neighbours per centre, at most the length of every cloud.
        lengths: optional [B] integer tensor: cloud b is ``xyz[b, :lengths[b]]``; the points after it
            are padding (any values) and are never returned.

    Returns:
        [B, G, k] int64 indices into dim 1 of ``xyz``, on its device.
    """
    check_points("xyz", xyz)
    check_points("centers", centers)
    if centers.shape[0] != xyz.shape[0] or centers.device != xyz.device:
        raise ValueError(
            f"centers must be on xyz's device with the same batch size: xyz is [{xyz.shape[0]}, ...] on "
            f"{xyz.device}, centers [{centers.shape[0]}, ...] on {centers.device}"
        )
    k = check_count("k", k)
    lengths = cloud_lengths(xyz, lengths)
    check_enough_points("k", k, lengths)
    check_finite("xyz", xyz, lengths)
    check_finite("centers", centers, torch.full_like(lengths, centers.shape[1]))
    with torch.no_grad():
        if xyz.device.type == "cpu" and cpu_kernels.available():
            return cpu_kernels.knn(xyz, centers, k, lengths)
        return knn_reference(xyz, centers, k, lengths)


def knn_reference(xyz: Tensor, centers: Tensor, k: int, lengths: Tensor) -> Tensor:
    """Pure-torch k nearest neighbours on checked input (any device): all distances, in chunks of centres.

    xyz [B, N, 3] float, centers [B, G, 3] float, lengths [B] int64 on the same device -> [B, G, k] int64.
    """
    batch, n_points, _ = xyz.shape
    padding = torch.arange(n_points, device=xyz.device) >= lengths[:, None]  # [B, N]
    px, py, pz = xyz.to(torch.float64)[:, None].unbind(dim=-1)  # each [B, 1, N]
    chunk = max(1, _CHUNK_ELEMENTS // (batch * n_points))
    neighbours = []
    for part in centers.to(torch.float64).split(chunk, dim=1):
        cx, cy, cz = part[..., None].unbind(dim=-2)  # each [B, g, 1]
        distance = px - cx  # [B, g, N], becomes (dx² + dy²) + dz² as in the C++
        distance.mul_(distance)
        for p, c in ((py, cy), (pz, cz)):
            difference = p - c
            distance.add_(difference.mul_(difference))
        distance.masked_fill_(padding[:, None], torch.inf)
        neighbours.append(_k_smallest(distance, k))
    return torch.cat(neighbours, dim=1)


def _k_smallest(distance: Tensor, k: int) -> Tensor:
    """Indices of the k smallest distances along the last dim, in increasing (distance, index) order."""
    values, indices = distance.topk(k, dim=-1, largest=False)
    # topk keeps an arbitrary subset of the points tied at the k-th distance: redo rows where that mattered.
    kth = values[..., -1:]
    arbitrary = (distance == kth).sum(dim=-1) > (values == kth).sum(dim=-1)
    if arbitrary.any():
        indices[arbitrary] = distance[arbitrary].argsort(dim=-1, stable=True)[:, :k]
    indices = indices.sort(dim=-1).values  # then a stable sort by distance orders ties by index
    return indices.gather(-1, distance.gather(-1, indices).argsort(dim=-1, stable=True))
