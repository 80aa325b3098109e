"""Single-label classification: cross-entropy (label smoothing; Mixup and CutMix through a batch
mixer, :mod:`m2pt.train.recipes`), top-1 accuracy, over one view of each example or the mean of
several (:mod:`m2pt.train.evaluation`). The trainer's classifiers train and evaluate here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from m2pt.tasks.base import LOCAL, Batch, Meter, Task, register_task

Mixer = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]  # (x [B,...], labels [B]) -> (mixed x, soft targets [B,K])


class AccuracyMeter(Meter):
    def __init__(self, device: torch.device | str) -> None:
        super().__init__(device)
        self.accuracy: MulticlassAccuracy | None = None

    def update(self, logits: Tensor, inputs: Any, target: Tensor, loss: Tensor) -> None:
        super().update(logits, inputs, target, loss)
        if self.accuracy is None:
            self.accuracy = MulticlassAccuracy(logits.shape[1], average="micro", **LOCAL).to(self.device)
        self.accuracy.update(logits.argmax(dim=1), target)

    def compute(self) -> dict[str, float]:
        return {"acc": self.accuracy.compute().item(), **super().compute()}


class ViewMean(nn.Module):
    """A classifier of ``[B, V, ...]`` inputs, V views of each example: the mean of the views'
    logits (in float32), ``[B, K]``."""

    def __init__(self, model: nn.Module, views: int) -> None:
        super().__init__()
        self.model, self.views = model, views

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.flatten(0, 1)).float().unflatten(0, (len(x), self.views)).mean(dim=1)


@register_task
@dataclasses.dataclass
class Classification(Task):
    """Items ``(x, label)``: ``x`` the modality's input, ``label`` an int; the model gives ``[B,classes]``."""

    name = "classification"
    primary_metric = "acc"
    metrics = ("acc", "loss")

    label_smoothing: float = 0.0

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        """Plain cross-entropy: the loss that evaluation reports."""
        return F.cross_entropy(logits, target)

    def loss(self, model: nn.Module, batch: Batch, mixer: Mixer | None = None) -> tuple[Tensor, dict[str, float]]:
        """Cross-entropy with label smoothing; with a ``mixer``, the soft-target cross-entropy of the
        mixed batch (the mixer's targets carry the smoothing)."""
        x, y = batch
        if mixer is None:
            return F.cross_entropy(model(x), y, label_smoothing=self.label_smoothing), {}
        x, target = mixer(x, y)
        return torch.sum(-target * F.log_softmax(model(x), dim=-1), dim=-1).mean(), {}

    def meter(self, device: torch.device | str) -> Meter:
        return AccuracyMeter(device)

    def evaluate(
        self, model: nn.Module, loader: Iterable[Batch], device: torch.device | str, views: int = 1
    ) -> dict[str, float]:
        """Top-1 accuracy and mean cross-entropy over ``loader``; with ``views > 1`` its inputs are
        ``[B, views, ...]`` and each example's logits are the mean of its views' (:class:`ViewMean`)."""
        return super().evaluate(ViewMean(model, views) if views > 1 else model, loader, device)
