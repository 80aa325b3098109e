"""Multi-label classification (AudioSet-style): sigmoid + binary cross-entropy, mAP and mean AUC."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset, Sampler
from torchmetrics.classification import MultilabelAUROC, MultilabelAveragePrecision

from m2pt.tasks.balanced_sampler import class_balanced_sampler
from m2pt.tasks.base import LOCAL, Meter, Task, register_task


class MultilabelMeter(Meter):
    """Per-class average precision and ROC AUC, averaged over the classes they are defined for:
    AP over classes with a positive in the evaluated set, AUC over classes with a positive and a
    negative (AudioMAE's sklearn metrics are undefined for the others)."""

    def __init__(self, device: torch.device | str) -> None:
        super().__init__(device)
        self.ap: MultilabelAveragePrecision | None = None
        self.auc: MultilabelAUROC | None = None
        self.positives: Tensor | None = None
        self.count = 0

    def update(self, logits: Tensor, inputs: Any, target: Tensor, loss: Tensor) -> None:
        super().update(logits, inputs, target, loss)
        if self.ap is None:
            num_labels = logits.shape[1]
            self.ap = MultilabelAveragePrecision(num_labels, average=None, **LOCAL).to(self.device)
            self.auc = MultilabelAUROC(num_labels, average=None, **LOCAL).to(self.device)
            self.positives = torch.zeros(num_labels, device=self.device)
        labels = target.round().long()
        self.ap.update(logits, labels)
        self.auc.update(logits, labels)
        self.positives += labels.sum(dim=0)
        self.count += len(labels)

    def compute(self) -> dict[str, float]:
        has_positive = self.positives > 0
        has_both = has_positive & (self.positives < self.count)
        with warnings.catch_warnings():  # torchmetrics warns of the undefined classes, left out here
            warnings.filterwarnings("ignore", message="No (positive|negative) samples", category=UserWarning)
            ap, auc = self.ap.compute(), self.auc.compute()
        return {"mAP": ap[has_positive].mean().item(), "mAUC": auc[has_both].mean().item(), **super().compute()}


@register_task
@dataclasses.dataclass
class Multilabel(Task):
    """Items ``(x, target)``: ``target`` a float multi-hot ``[K]``; the model gives ``[B,K]`` logits.

    ``balanced_sampling`` trains with :func:`class_balanced_sampler` (the dataset needs a
    ``targets [N,K]`` attribute, as :class:`data_tools.AudioListDataset` has).
    """

    name = "multilabel"
    primary_metric = "mAP"
    metrics = ("mAP", "mAUC", "loss")

    balanced_sampling: bool = False

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target.float())

    def meter(self, device: torch.device | str) -> Meter:
        return MultilabelMeter(device)

    def sampler(self, dataset: Dataset, seed: int = 0) -> Sampler | None:
        if not self.balanced_sampling:
            return None
        targets = getattr(dataset, "targets", None)
        if not isinstance(targets, Tensor) or targets.dim() != 2:
            raise ValueError(
                f"balanced_sampling needs a dataset with a multi-hot `targets [N,K]` tensor; {type(dataset).__name__} has none"
            )
        return class_balanced_sampler(targets, seed)
