"""Single-label classification: cross-entropy (label smoothing, mixup), top-1 accuracy."""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from m2pt.tasks.base import Batch, Meter, Task, register_task


class AccuracyMeter(Meter):
    def __init__(self, device: torch.device | str) -> None:
        super().__init__(device)
        self.accuracy: MulticlassAccuracy | None = None

    def update(self, logits: Tensor, inputs: Any, target: Tensor, loss: Tensor) -> None:
        super().update(logits, inputs, target, loss)
        if self.accuracy is None:
            self.accuracy = MulticlassAccuracy(logits.shape[1], average="micro").to(self.device)
        self.accuracy.update(logits.argmax(dim=1), target)

    def compute(self) -> dict[str, float]:
        return {"acc": self.accuracy.compute().item(), **super().compute()}


@register_task
@dataclasses.dataclass
class Classification(Task):
    """Items ``(x, label)``: ``x`` the modality's input, ``label`` an int; the model gives ``[B,classes]``."""

    name = "classification"
    primary_metric = "acc"
    metrics = ("acc", "loss")

    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        """Plain cross-entropy: the loss that evaluation reports."""
        return F.cross_entropy(logits, target)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """Cross-entropy with label smoothing, on mixed-up inputs when ``mixup_alpha > 0``."""
        x, y = batch
        smoothed = partial(F.cross_entropy, label_smoothing=self.label_smoothing)
        if self.mixup_alpha <= 0:
            return smoothed(model(x), y), {}
        lam = torch.distributions.Beta(self.mixup_alpha, self.mixup_alpha).sample().item()
        order = torch.randperm(len(x), device=x.device)
        logits = model(lam * x + (1 - lam) * x[order])
        return lam * smoothed(logits, y) + (1 - lam) * smoothed(logits, y[order]), {}

    def meter(self, device: torch.device | str) -> Meter:
        return AccuracyMeter(device)
