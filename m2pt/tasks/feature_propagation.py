"""Feature propagation (PointNet++): features of a few centres interpolated back to every point."""

from __future__ import annotations

import torch
from torch import Tensor

from m2pt.ops import gather_points, knn


def propagate_features(points: Tensor, centres: Tensor, features: Tensor, k: int = 3, eps: float = 1e-8) -> Tensor:
    """``points [B,P,3]``, ``centres [B,G,3]``, ``features [B,G,D] -> [B,P,D]``.

    Each point gets the mean of its ``k`` nearest centres' features weighted by inverse squared
    distance, ``w_i = 1 / (d_i^2 + eps)`` normalised to sum 1 (PointNet++'s interpolation, p = 2):
    a point at a centre gets that centre's feature.
    """
    k = min(k, centres.shape[1])
    nearest = knn(centres, points, k)  # [B,P,k] indices of centres
    neighbours = gather_points(centres, nearest)  # [B,P,k,3]
    weights = 1 / ((points[:, :, None] - neighbours).square().sum(dim=-1) + eps)  # [B,P,k]
    weights = weights / weights.sum(dim=-1, keepdim=True)
    # as one [B,P,G] interpolation matrix, k non-zeros a row: a batched matmul, not a [B,P,k,D] gather
    matrix = weights.new_zeros(*points.shape[:2], centres.shape[1]).scatter(2, nearest, weights)
    return torch.bmm(matrix.to(features.dtype), features)  # [B,P,D]
