"""ShapeNetPart's part-segmentation metrics: instance mIoU and class (category) mIoU."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.functional.segmentation import mean_iou


def category_part_mask(category_parts: list[list[int]], num_parts: int) -> Tensor:
    """``[num_categories, num_parts]`` bool: which part ids belong to each category."""
    mask = torch.zeros(len(category_parts), num_parts, dtype=torch.bool)
    for category, parts in enumerate(category_parts):
        mask[category, list(parts)] = True
    return mask


def predict_parts(logits: Tensor, category: Tensor, mask: Tensor) -> Tensor:
    """``logits [B,P,parts]``, ``category [B] -> [B,P]``: the best part among the category's own
    (ShapeNetPart's evaluation never predicts a part of another category)."""
    allowed = mask.to(logits.device)[category.long().reshape(-1)]  # [B,parts]
    return logits.masked_fill(~allowed[:, None, :], float("-inf")).argmax(dim=-1)


def shape_ious(prediction: Tensor, target: Tensor, category: Tensor, mask: Tensor) -> Tensor:
    """``[B]`` IoU of each shape: the mean over its category's parts of the part IoU, where a part
    absent from both the prediction and the labels counts as 1 (ShapeNetPart's definition)."""
    num_parts = mask.shape[1]
    part_iou = mean_iou(
        prediction[..., None],
        target[..., None],
        num_parts,
        include_background=True,
        per_class=True,
        input_format="index",
    )  # [B,parts], -1 where the part is in neither
    part_iou = torch.where(part_iou < 0, torch.ones_like(part_iou), part_iou)
    own = mask.to(part_iou.device)[category.long().reshape(-1)].to(part_iou.dtype)  # [B,parts]
    return (part_iou * own).sum(dim=1) / own.sum(dim=1)


def part_segmentation_mious(ious: Tensor, category: Tensor) -> dict[str, float]:
    """``ious [S]`` of all evaluated shapes, ``category [S]`` -> instance mIoU (mean over shapes)
    and class mIoU (mean over the categories present of their shapes' mean)."""
    category = category.long().reshape(-1)
    per_category = [ious[category == c].mean() for c in category.unique()]
    return {"instance_mIoU": ious.mean().item(), "class_mIoU": torch.stack(per_category).mean().item()}
