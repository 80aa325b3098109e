"""Point-cloud tokenizer: farthest point sampling, kNN grouping, and a shared PointNet per group.

``[B,P,3+c]`` (xyz, then c optional feature channels such as normals or colour) becomes G
tokens. FPS picks G group centres; each centre's k nearest points form its group, with xyz
expressed relative to the centre; a small PointNet shared by all groups (two 1x1-conv stages
with max-pooling, Point-MAE's design and parameter names) turns each group into a D-dim token.

Two variants:

- ``"point-mae"``: tokens are the PointNet features (Point-MAE's encoder weights load).
- ``"adjacency"``: the paper's tokenizer adds a G x G adjacency between the groups, projected
  to D dims. The paper describes it only in words ("an adjacency matrix with the centre points
  of the grouped subsets"); here it is a Gaussian kernel of centre-to-centre distances,
  ``A_ij = exp(-|c_i - c_j|^2 / (2 r^2))`` with ``r`` the cloud's mean distance from a centre to
  its nearest other centre (so it does not depend on the cloud's scale), and row ``A_i`` is
  mapped to D dims by a linear layer added to token i. G is fixed at construction.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from m2pt.ops import farthest_point_sample, gather_points, knn
from m2pt.tokenizers.checks import check_input

POINT_VARIANTS = ("point-mae", "adjacency")


class PointwiseConv(nn.Conv1d):
    """A 1x1 ``Conv1d`` (Point-MAE's parameters, ``weight [out, in, 1]``) applied to channel-last
    points ``[..., in] -> [..., out]`` as one matrix product: the same function, several times
    faster on CPU than a convolution over ``[N, in, k]``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight[..., 0], self.bias)


class PointTokenizer(nn.Module):
    """``points [B,P,3+c] -> (tokens [B,G,D], centres [B,G,3], groups [B,G,k,3+c])``.

    ``G = num_groups``, or ``round(num_points * group_ratio)`` (the paper's 1/4) when not given;
    ``k = group_size``. Any cloud with at least max(G, k) points is accepted. ``widths`` are the
    PointNet's channel counts (Point-MAE's 128, 256, 512 by default, so its weights load).
    """

    def __init__(
        self,
        embed_dim: int,
        num_points: int = 1024,
        num_groups: int | None = None,
        group_ratio: float = 0.25,
        group_size: int = 32,
        in_features: int = 0,
        variant: str = "point-mae",
        widths: tuple[int, int, int] = (128, 256, 512),
    ):
        super().__init__()
        if variant not in POINT_VARIANTS:
            raise ValueError(f"unknown point tokenizer variant {variant!r}; choose from {POINT_VARIANTS}")
        self.num_points = num_points  # the configured cloud size (any size >= max(G, k) works)
        self.num_groups = num_groups or max(1, round(num_points * group_ratio))
        self.group_size = group_size
        self.channels = 3 + in_features
        self.variant = variant
        first, second, third = widths
        self.first_conv = nn.Sequential(
            PointwiseConv(self.channels, first),
            nn.BatchNorm1d(first),
            nn.ReLU(inplace=True),
            PointwiseConv(first, second),
        )
        self.second_conv = nn.Sequential(
            PointwiseConv(2 * second, third),
            nn.BatchNorm1d(third),
            nn.ReLU(inplace=True),
            PointwiseConv(third, embed_dim),
        )
        if variant == "adjacency":
            self.adjacency_proj = nn.Linear(self.num_groups, embed_dim, bias=False)

    @property
    def target_size(self) -> int:
        """Values per token that masked-autoencoder pretraining reconstructs (the group's xyz)."""
        return self.group_size * 3

    def check(self, points: Tensor) -> None:
        check_input(points, name="point cloud", layout="[B,P,3+c]", rank=3, channels=(2, self.channels))
        need = max(self.num_groups, self.group_size)
        if points.shape[1] < need:
            raise ValueError(
                f"point cloud has {points.shape[1]} points, fewer than the {self.num_groups} groups or "
                f"the group size {self.group_size} the tokenizer needs"
            )

    def group(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """``points [B,P,C] -> (centres [B,G,3], groups [B,G,k,C])``, group xyz relative to the centre."""
        xyz = points[..., :3].contiguous()
        with torch.no_grad():
            centre_index = farthest_point_sample(xyz, self.num_groups)  # [B,G]
            centres = gather_points(xyz, centre_index)  # [B,G,3]
            neighbours = knn(xyz, centres, self.group_size)  # [B,G,k]
        groups = gather_points(points, neighbours)  # [B,G,k,C]
        relative = groups[..., :3] - centres[:, :, None, :]
        return centres, torch.cat([relative, groups[..., 3:]], dim=-1)

    def encode(self, groups: Tensor) -> Tensor:
        """``groups [B,G,k,C] -> [B,G,D]``: PointNet per group, max-pooled over its points."""
        b, g, k, c = groups.shape
        local = self.first_conv(groups.reshape(b * g * k, c)).reshape(b * g, k, -1)  # [BG,k,256]
        pooled = local.amax(dim=1, keepdim=True)  # [BG,1,256]
        x = torch.cat([pooled.expand(-1, k, -1), local], dim=2).reshape(b * g * k, -1)  # [BGk,512]
        return self.second_conv(x).reshape(b * g, k, -1).amax(dim=1).reshape(b, g, -1)

    def adjacency(self, centres: Tensor) -> Tensor:
        """``centres [B,G,3] -> [B,G,G]`` Gaussian kernel of centre distances (see module doc)."""
        squared = (centres[:, :, None] - centres[:, None]).square().sum(dim=-1)  # [B,G,G], exact zeros on the diagonal
        eye = torch.eye(centres.shape[1], dtype=torch.bool, device=centres.device)
        nearest = squared.masked_fill(eye, float("inf")).amin(dim=2).sqrt()  # [B,G]
        radius = nearest.mean(dim=1).clamp_min(1e-6)[:, None, None]  # [B,1,1]
        return torch.exp(-squared / (2 * radius.square()))

    def forward(self, points: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        self.check(points)
        centres, groups = self.group(points)
        tokens = self.encode(groups)
        if self.variant == "adjacency":
            tokens = tokens + self.adjacency_proj(self.adjacency(centres))
        return tokens, centres, groups
