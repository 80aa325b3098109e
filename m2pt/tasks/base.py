"""What every task gives a trainer: its model, its loss, its evaluation and the metric to compare by.

A task is a dataclass of its own settings, registered by name (``TASKS``), so a run can save
``(task.name, dataclasses.asdict(task))`` and rebuild it with ``get_task(name, **settings)``.
Batches are ``(inputs, target)`` pairs as a DataLoader collates them; ``inputs`` may be a tuple
of tensors (e.g. points and object category), which :func:`to_device` moves as a whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, Sampler
from torchmetrics import MeanMetric

from m2pt.batches import to_device
from m2pt.models import build_model
from m2pt.models.vit import ViTEncoder

Batch = tuple[Any, Tensor]
# The settings of every metric a meter keeps: evaluation runs on the main process alone, over the
# whole split (m2pt.train.engine.fit), so a metric must not wait for the other processes' states.
LOCAL = {"sync_on_compute": False}


class Meter:
    """Accumulates one task's evaluation over batches: ``update`` per batch, ``compute`` at the end."""

    def __init__(self, device: torch.device | str) -> None:
        self.device = device
        self.mean_loss = MeanMetric(**LOCAL).to(device)

    def update(self, logits: Tensor, inputs: Any, target: Tensor, loss: Tensor) -> None:
        self.mean_loss.update(loss, weight=len(target))

    def compute(self) -> dict[str, float]:
        return {"loss": self.mean_loss.compute().item()}


@dataclasses.dataclass
class Task:
    """One kind of prediction: ``build_model``, ``loss``, ``evaluate``, ``primary_metric``, ``sampler``."""

    name: ClassVar[str]
    primary_metric: ClassVar[str]  # a key of evaluate()'s result; higher is better
    metrics: ClassVar[tuple[str, ...]]  # every key of evaluate()'s result

    def build_model(self, modality: str, size: str = "tiny", num_classes: int = 0, **settings: Any) -> ViTEncoder:
        """The model of this task: an m2pt ViT (``blocks`` and encoder keys unchanged) with this task's head."""
        return build_model(modality, size, num_classes=num_classes, **settings)

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        """The mean loss of a batch's outputs: what evaluation reports, and what ``loss`` trains with
        unless the task adds to it."""
        raise NotImplementedError

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """``(model, (inputs, target)) -> (loss, extra metrics to log)`` for one training step."""
        inputs, target = batch
        return self.criterion(model(inputs), target), {}

    def meter(self, device: torch.device | str) -> Meter:
        return Meter(device)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: Iterable[Batch], device: torch.device | str) -> dict[str, float]:
        """Every metric of ``metrics`` over ``loader`` (the model is left in eval mode)."""
        model.eval()
        meter = self.meter(device)
        for batch in loader:
            inputs, target = to_device(batch, device)
            logits = model(inputs).float()
            meter.update(logits, inputs, target, self.criterion(logits, target))
        return meter.compute()

    def sampler(self, dataset: Dataset, seed: int = 0) -> Sampler | None:
        """A training sampler this task's settings ask for, or None for the loader's seeded shuffle."""
        return None

    def settings(self) -> dict[str, Any]:
        """This task's settings: ``get_task(task.name, **task.settings())`` rebuilds it."""
        return dataclasses.asdict(self)


TASKS: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: register a task under its ``name``."""
    TASKS[cls.name] = cls
    return cls


def get_task(name: str, **settings: Any) -> Task:
    """The task ``name`` with ``settings`` (each task's dataclass fields)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; registered: {sorted(TASKS)}")
    cls = TASKS[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(settings) - known
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)} for the task {name!r}; its settings: {sorted(known)}")
    return cls(**settings)
