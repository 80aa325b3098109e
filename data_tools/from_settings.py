"""A dataset split from the plain data settings a run saves (``dataset``, ``root``, ``modality``,
``size``, ``options``): what the trainer builds, and what analysis rebuilds from a run folder."""

from collections.abc import Mapping
from typing import Any

from torch.utils.data import Dataset

from data_tools.registry import build_dataset


def dataset_from_settings(settings: Mapping[str, Any], split: str) -> Dataset:
    """The ``split`` of a built-in dataset (``dataset: <name>``, ``size``) or of a class-folder dataset
    (``dataset: folder``, ``root``, ``modality``), with the reader ``options``."""
    if settings["dataset"] == "folder":
        where = {"root": settings["root"], "modality": settings["modality"]}
    else:
        where = {"size": settings.get("size", "default")}
    return build_dataset(settings["dataset"], split, **where, **settings.get("options", {}))
