"""A light semantic-segmentation decoder over a ViT's patch tokens: progressive upsampling (SETR-PUP)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from m2pt.models.grid_vit import GridViT


def upsampling_stage(in_dim: int, out_dim: int) -> nn.Sequential:
    """3x3 conv, group norm, GELU, then x2 bilinear upsampling: ``[B,in,h,w] -> [B,out,2h,2w]``."""
    return nn.Sequential(
        nn.Conv2d(in_dim, out_dim, 3, padding=1),
        nn.GroupNorm(min(8, out_dim), out_dim),
        nn.GELU(),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
    )


class PixelDecoder(nn.Module):
    """``images [B,C,H,W] -> [B,num_classes,H,W]`` logits, given the model it heads.

    The patch tokens ``[B,N,D]`` are laid out on their ``h x w`` grid, upsampled ``steps`` times
    by :func:`upsampling_stage` (``dim`` channels, as SETR-PUP's 256), classified per position by
    a 1x1 conv, and resized bilinearly to the input's size.
    """

    dense = True  # ViTEncoder.forward hands this head the model and the input

    def __init__(self, embed_dim: int, num_classes: int, *, dim: int = 128, steps: int = 2):
        super().__init__()
        widths = [embed_dim] + [dim] * steps
        self.stages = nn.Sequential(*(upsampling_stage(a, b) for a, b in zip(widths, widths[1:])))
        self.classifier = nn.Conv2d(widths[-1], num_classes, 1)

    def forward(self, model: GridViT, images: Tensor) -> Tensor:
        h, w = model.patch_embed.grid_of(images)
        tokens = model.forward_features(images)[:, 1:]  # [B,N,D], class token dropped
        grid = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)  # [B,D,h,w]
        logits = self.classifier(self.stages(grid))  # [B,classes,h*2^steps,w*2^steps]
        return F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
