"""A Point-MAE-style part-segmentation head: group-token features propagated back to every point."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from m2pt.models.point_vit import PointViT
from m2pt.tasks.feature_propagation import propagate_features

PointInput = Tensor | tuple[Tensor, Tensor]  # points [B,P,3+c], or (points, category [B])


class PointSegmentationHead(nn.Module):
    """``(points [B,P,3+c], category [B]) -> [B,P,num_parts]`` logits, given the model it heads.

    As Point-MAE's segmentation head: the encoder's group tokens are propagated to every point by
    inverse-distance interpolation over the ``k`` nearest group centres, joined with the point's
    own channels and a global feature (max- and mean-pooled tokens, plus an embedding of the
    object category when ``num_categories`` is set), then mapped point-wise to part logits.
    The first layer over that concatenation is computed in parts, the same function for less
    work: tokens are projected before propagation (interpolation is linear and its weights sum
    to 1), the global feature once per cloud. Point-MAE concatenates the tokens of three
    intermediate blocks; this head uses the encoder's output, so the encoder's forward is the
    plain one.
    """

    dense = True  # ViTEncoder.forward hands this head the model and the input

    def __init__(
        self,
        embed_dim: int,
        num_parts: int,
        *,
        in_channels: int = 3,
        num_categories: int = 0,
        category_dim: int = 64,
        hidden_dim: int = 256,
        dropout: float = 0.5,
        k: int = 3,
    ):
        super().__init__()
        self.num_categories, self.k = num_categories, k
        self.category_embed = nn.Embedding(num_categories, category_dim) if num_categories else None
        global_dim = 2 * embed_dim + (category_dim if num_categories else 0)
        self.token_proj = nn.Linear(embed_dim, hidden_dim)  # the first layer, in three parts
        self.point_proj = nn.Linear(in_channels, hidden_dim, bias=False)
        self.global_proj = nn.Linear(global_dim, hidden_dim, bias=False)
        self.mlp = nn.Sequential(
            nn.LayerNorm(hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim // 2),
            nn.LayerNorm(hidden_dim // 2),
            nn.GELU(),
            nn.Linear(hidden_dim // 2, num_parts),
        )

    def split_input(self, x: PointInput) -> tuple[Tensor, Tensor | None]:
        points, category = x if isinstance(x, (tuple, list)) else (x, None)
        if self.num_categories and category is None:
            raise ValueError("this part-segmentation model takes (points, category): the object category is missing")
        return points, category

    def forward(self, model: PointViT, x: PointInput) -> Tensor:
        points, category = self.split_input(x)
        tokens, centres, _ = model.patch_embed(points)  # [B,G,D], [B,G,3]
        features = model.encode(tokens, model.pos_embed(centres))[:, 1:]  # [B,G,D], class token dropped
        pooled = [features.amax(dim=1), features.mean(dim=1)]  # 2 x [B,D]
        if self.category_embed is not None:
            pooled.append(self.category_embed(category.long().reshape(-1)))  # [B,E]
        overall = self.global_proj(torch.cat(pooled, dim=1))  # [B,H]
        per_point = propagate_features(points[..., :3].contiguous(), centres, self.token_proj(features), self.k)
        hidden = per_point + self.point_proj(points.to(per_point.dtype)) + overall[:, None]  # [B,P,H]
        return self.mlp(hidden)  # [B,P,parts]
