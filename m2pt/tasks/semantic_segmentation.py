"""Semantic segmentation of images: a label per pixel, scored by mIoU and pixel accuracy."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from m2pt.models import build_model
from m2pt.models.grid_vit import GridViT
from m2pt.tasks.base import LOCAL, Meter, Task, register_task
from m2pt.tasks.pixel_decoder import PixelDecoder


class PixelMeter(Meter):
    """mIoU: the mean over classes present in the labels or predictions of the class IoU, over all
    evaluated pixels (as mmsegmentation's); pixel accuracy over all labelled pixels."""

    def __init__(self, device: torch.device | str, ignore_index: int | None) -> None:
        super().__init__(device)
        self.ignore_index = ignore_index
        self.iou: MulticlassJaccardIndex | None = None
        self.accuracy: MulticlassAccuracy | None = None

    def update(self, logits: Tensor, inputs: Any, target: Tensor, loss: Tensor) -> None:
        super().update(logits, inputs, target, loss)
        if self.iou is None:
            classes, ignore = logits.shape[1], self.ignore_index
            self.iou = MulticlassJaccardIndex(classes, average="macro", ignore_index=ignore, **LOCAL).to(self.device)
            self.accuracy = MulticlassAccuracy(classes, average="micro", ignore_index=ignore, **LOCAL).to(self.device)
        prediction = logits.argmax(dim=1)  # [B,H,W]
        self.iou.update(prediction, target)
        self.accuracy.update(prediction, target)

    def compute(self) -> dict[str, float]:
        return {"mIoU": self.iou.compute().item(), "pixel_acc": self.accuracy.compute().item(), **super().compute()}


@register_task
@dataclasses.dataclass
class SemanticSegmentation(Task):
    """Items ``(image [C,H,W], mask [H,W])``: ``mask`` int64 class ids, ``ignore_index`` for
    unlabelled pixels; the model gives ``[B,num_classes,H,W]``. The head is a :class:`PixelDecoder`
    of ``decoder_dim`` channels and ``upsample_steps`` x2 stages."""

    name = "semantic_segmentation"
    primary_metric = "mIoU"
    metrics = ("mIoU", "pixel_acc", "loss")

    ignore_index: int | None = 255
    decoder_dim: int = 128
    upsample_steps: int = 2

    def build_model(self, modality: str, size: str = "tiny", num_classes: int = 0, **settings: Any) -> GridViT:
        if modality != "image":
            raise ValueError(f"semantic_segmentation needs the image modality, not {modality!r}")
        if num_classes < 2:
            raise ValueError(f"semantic_segmentation needs num_classes >= 2, got {num_classes}")
        model = build_model(modality, size, num_classes=0, **settings)
        model.head = PixelDecoder(model.embed_dim, num_classes, dim=self.decoder_dim, steps=self.upsample_steps)
        model.num_classes = num_classes
        return model

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        ignore = -100 if self.ignore_index is None else self.ignore_index
        return F.cross_entropy(logits, target, ignore_index=ignore)

    def meter(self, device: torch.device | str) -> Meter:
        return PixelMeter(device, self.ignore_index)
