"""The task of a fine-tuning run (:mod:`m2pt.tasks`): what its model predicts, its loss and its metrics.

Classification takes its settings from the optimiser's (label smoothing; timm's Mixup and CutMix,
the only task that mixes batches); every other task from ``task.options``. Each trains with its own
loss and is evaluated by its own metrics. A task setting that the dataset carries as an attribute
of the same name (e.g. ``category_parts`` of a part-segmentation set) is taken from the dataset
unless the config gives it.
"""

import dataclasses
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

import data_tools
from m2pt.tasks import TASKS, Task, get_task
from m2pt.train.config import ConfigError, FinetuneRun

CLASSIFICATION = "classification"


def task_name(config: FinetuneRun) -> str:
    """The configured task, or the built-in dataset's own, or classification."""
    if config.task.name:
        return config.task.name
    known = {info.name: getattr(info, "task", CLASSIFICATION) for info in data_tools.list_datasets()}
    return known.get(config.data.dataset, CLASSIFICATION)


def run_task(config: FinetuneRun, train: Dataset) -> Task:
    """The task of ``config`` with its settings."""
    name = task_name(config)
    if name == CLASSIFICATION:
        if config.task.options:
            raise ConfigError("task.options: classification takes its settings from optim (label_smoothing, mixup)")
        return get_task(CLASSIFICATION, label_smoothing=config.optim.label_smoothing)
    if config.optim.mixup or config.optim.cutmix:
        raise ConfigError(f"optim.mixup / optim.cutmix are for classification, not {name}: set them to 0")
    if name not in TASKS:
        raise ConfigError(f"task.name: unknown task {name!r}; choose from {sorted(TASKS)}")
    cls = TASKS[name]
    source = whole(train)
    from_data = {f.name: getattr(source, f.name) for f in dataclasses.fields(cls) if hasattr(source, f.name)}
    try:
        task = get_task(name, **(from_data | config.task.options))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"task.options: {error}") from None
    return task


def sampling_weights(task: Task, train: Dataset) -> Tensor | None:
    """``[len(train)]`` weights of the task's own sampling (e.g. multilabel's class-balanced one), drawn
    by the trainer's resumable, sharded sampler; None for the plain seeded shuffle."""
    source = whole(train)
    try:
        sampler = task.sampler(source)
    except ValueError as error:
        raise ConfigError(f"task.options: {error}") from None
    if sampler is None:
        return None
    weights = torch.as_tensor(sampler.weights, dtype=torch.double)
    return weights[train.indices] if isinstance(train, Subset) else weights


def whole(train: Dataset) -> Dataset:
    """The whole split of a limited one (``data.train_limit``): what carries the dataset's attributes."""
    return train.dataset if isinstance(train, Subset) else train


def task_metadata(task: Task) -> dict[str, Any]:
    """What the saved model's metadata says of its task (rebuilt by :func:`m2pt.saved.load_classifier`)."""
    return {"name": task.name, "settings": task.settings()}
