"""A class-balanced sampler for multi-label data, as AudioMAE samples AudioSet's unbalanced set."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import WeightedRandomSampler


def class_balanced_weights(targets: Tensor) -> Tensor:
    """``targets [N,K]`` multi-hot -> ``[N]`` sampling weights: the sum over an item's labels of
    1 / (that label's count), so rare labels are drawn about as often as common ones (AudioMAE
    weights items by the sum of ``1000 / (label count + 0.01)``: the same up to scale). An item
    without labels gets the smallest weight any labelled item has."""
    targets = targets.float()
    counts = targets.sum(dim=0)  # [K]
    weights = targets @ (1 / counts.clamp_min(1))  # [N]
    floor = weights[weights > 0].min() if (weights > 0).any() else torch.tensor(1.0)
    return torch.where(weights > 0, weights, floor)


def class_balanced_sampler(targets: Tensor, seed: int = 0, num_samples: int | None = None) -> WeightedRandomSampler:
    """Draws ``num_samples`` (default N) items with replacement, weighted by :func:`class_balanced_weights`."""
    generator = torch.Generator().manual_seed(seed)
    weights = class_balanced_weights(targets)
    return WeightedRandomSampler(weights, num_samples or len(weights), replacement=True, generator=generator)
