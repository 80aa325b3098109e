"""Fixed sine-cosine position embeddings over a token grid of any number of axes."""

import torch
from torch import Tensor


def sincos_position_embedding(grid: tuple[int, ...], dim: int) -> Tensor:
    """``[prod(grid), dim]``: each axis gets ``dim / len(grid)`` channels, half sines and half
    cosines of the coordinate at geometrically spaced frequencies (as MAE and VideoMAE)."""
    per_axis = dim // len(grid)
    if per_axis * len(grid) != dim or per_axis % 2:
        raise ValueError(f"sin-cos positions need dim divisible by 2 x {len(grid)} axes, got dim {dim}")
    frequencies = 1.0 / 10000 ** (torch.arange(per_axis // 2, dtype=torch.float64) / (per_axis // 2))
    axes = torch.meshgrid(*(torch.arange(n, dtype=torch.float64) for n in grid), indexing="ij")
    parts = []
    for coordinate in axes:
        angles = coordinate.reshape(-1, 1) * frequencies  # [N, per_axis/2]
        parts += [angles.sin(), angles.cos()]
    return torch.cat(parts, dim=1).float()
