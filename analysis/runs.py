"""Reading run folders back: the model a run saved, its metric records, a probe batch of its data.

:class:`m2pt.run_dir.RunDir` says what a run folder holds.
"""

from pathlib import Path
from typing import Any

import torch
from torch import nn

from data_tools.from_settings import probe_batch as data_probe_batch
from m2pt.run_dir import RunDir
from m2pt.saved import load_classifier

ModelSource = nn.Module | str | Path  # a model, or a fine-tuning run folder (or its model.safetensors)


def as_model(source: ModelSource) -> nn.Module:
    """``source`` itself if it is a model, else the classifier its run saved (re-parameterized or merged)."""
    return source if isinstance(source, nn.Module) else load_classifier(source)[0]


def metric_records(run_dir: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(train, evaluation)`` records of the run's metric log, in the order logged (empty before the first)."""
    records = RunDir(run_dir, writer=False).records(RunDir.METRICS)
    train = [r for r in records if r.get("split") == "train"]
    return train, [r for r in records if r.get("split") != "train"]


def probe_batch(run_dir: str | Path, size: int = 32) -> torch.Tensor:
    """The first ``size`` inputs of the validation split of the data the run trained on."""
    return data_probe_batch(RunDir(run_dir, writer=False).config()["data"], size)
