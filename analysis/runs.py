"""Reading run folders back: the model a run saved, its metric records, the seeds of an arm.

See :mod:`m2pt.train.run_dir` for what a run folder holds.
"""

import re
from pathlib import Path
from typing import Any

from torch import nn

from m2pt.train.classifier import classifier_from_file
from m2pt.train.run_dir import RunDir

ModelSource = nn.Module | str | Path  # a model, or a fine-tuning run folder (or its model.safetensors)


def as_model(source: ModelSource) -> nn.Module:
    """``source`` itself if it is a model, else the classifier its run saved (re-parameterized or merged)."""
    return source if isinstance(source, nn.Module) else classifier_from_file(source)[0]


def metric_records(run_dir: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(train, evaluation)`` records of ``metrics.jsonl``, in the order logged (empty before the first)."""
    records = RunDir(run_dir, writer=False).records("metrics.jsonl")
    train = [r for r in records if r.get("split") == "train"]
    return train, [r for r in records if r.get("split") != "train"]


def seed_runs(arm_dir: str | Path) -> list[Path]:
    """The finished ``seed<k>`` runs of one arm of a comparison, by increasing k."""
    found = [(int(m.group(1)), p) for p in Path(arm_dir).glob("seed*") if (m := re.fullmatch(r"seed(\d+)", p.name))]
    return [p for _, p in sorted(found) if (p / "model.safetensors").exists()]
