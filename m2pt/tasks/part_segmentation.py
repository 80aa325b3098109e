"""Part segmentation of point clouds (ShapeNetPart): a label per point, scored by class and instance mIoU."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.classification import MulticlassAccuracy

from m2pt.models import build_model
from m2pt.models.point_vit import PointViT
from m2pt.tasks.base import LOCAL, Meter, Task, register_task
from m2pt.tasks.part_metrics import category_part_mask, part_segmentation_mious, predict_parts, shape_ious
from m2pt.tasks.point_segmentation_head import PointSegmentationHead


class PartMeter(Meter):
    def __init__(self, device: torch.device | str, category_parts: list[list[int]]) -> None:
        super().__init__(device)
        self.category_parts = category_parts
        self.mask: Tensor | None = None  # [categories, parts], made at the first batch
        self.accuracy: MulticlassAccuracy | None = None
        self.ious: list[Tensor] = []
        self.categories: list[Tensor] = []

    def update(self, logits: Tensor, inputs: Any, target: Tensor, loss: Tensor) -> None:
        super().update(logits, inputs, target, loss)
        if self.mask is None:
            self.mask = category_part_mask(self.category_parts, logits.shape[-1]).to(self.device)
            self.accuracy = MulticlassAccuracy(logits.shape[-1], average="micro", **LOCAL).to(self.device)
        _, category = inputs
        prediction = predict_parts(logits, category, self.mask)
        self.accuracy.update(prediction, target)
        self.ious.append(shape_ious(prediction, target, category, self.mask))
        self.categories.append(category.reshape(-1))

    def compute(self) -> dict[str, float]:
        mious = part_segmentation_mious(torch.cat(self.ious), torch.cat(self.categories))
        return {**mious, "acc": self.accuracy.compute().item(), **super().compute()}


@register_task
@dataclasses.dataclass
class PartSegmentation(Task):
    """Items ``((points [P,3+c], category), parts [P])``: ``category`` an int64 object category,
    ``parts`` int64 part ids (global, as ShapeNetPart's 50); the model gives ``[B,P,num_classes]``.

    ``category_parts[c]`` lists the part ids of category ``c`` (a part dataset's
    ``category_parts``). ``use_category`` feeds the category to the head (Point-MAE does);
    evaluation always uses it to pick among the category's parts, as ShapeNetPart's does.
    """

    name = "part_segmentation"
    primary_metric = "instance_mIoU"
    metrics = ("instance_mIoU", "class_mIoU", "acc", "loss")

    category_parts: list[list[int]] = dataclasses.field(default_factory=list)
    use_category: bool = True
    hidden_dim: int = 256
    dropout: float = 0.5
    neighbours: int = 3  # centres each point interpolates from

    def __post_init__(self) -> None:
        if not self.category_parts or not all(self.category_parts):
            raise ValueError("part_segmentation needs category_parts: the part ids of each object category")
        self.category_parts = [sorted(int(p) for p in parts) for parts in self.category_parts]
        every = [p for parts in self.category_parts for p in parts]
        if len(every) != len(set(every)):
            raise ValueError(f"category_parts {self.category_parts} gives a part id to more than one category")

    @property
    def num_parts(self) -> int:
        return 1 + max(p for parts in self.category_parts for p in parts)

    def build_model(self, modality: str, size: str = "tiny", num_classes: int = 0, **settings: Any) -> PointViT:
        """A point ViT whose ``head`` is a :class:`PointSegmentationHead` with ``num_classes`` parts
        (default: as many as ``category_parts`` names)."""
        if modality != "point":
            raise ValueError(f"part_segmentation needs the point modality, not {modality!r}")
        num_classes = num_classes or self.num_parts
        if num_classes < self.num_parts:
            raise ValueError(f"num_classes={num_classes}, but category_parts uses part ids up to {self.num_parts - 1}")
        model = build_model(modality, size, num_classes=0, **settings)
        model.head = PointSegmentationHead(
            model.embed_dim,
            num_classes,
            in_channels=model.patch_embed.channels,
            num_categories=len(self.category_parts) if self.use_category else 0,
            hidden_dim=self.hidden_dim,
            dropout=self.dropout,
            k=self.neighbours,
        )
        model.num_classes = num_classes
        return model

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits.transpose(1, 2), target)  # [B,parts,P] against [B,P]

    def meter(self, device: torch.device | str) -> Meter:
        return PartMeter(device, self.category_parts)
