"""A dataset split from the plain data settings a run saves (``dataset``, ``root``, ``modality``,
``size``, ``options``): what the trainer builds, and what analysis rebuilds from a run folder."""

from collections.abc import Mapping
from typing import Any

from torch.utils.data import Dataset, default_collate

from data_tools.registry import LayoutInfo, build_dataset, list_datasets


def dataset_from_settings(settings: Mapping[str, Any], split: str) -> Dataset:
    """The ``split`` of a built-in dataset (``dataset: <name>``, ``size``), of a class-folder dataset
    (``dataset: folder``, ``root``, ``modality``) or of an upstream layout (``dataset: kinetics_list``,
    ``root``...), with the reader ``options``."""
    name = settings["dataset"]
    if name == "folder":
        where = {"root": settings["root"], "modality": settings["modality"]}
    elif name in layouts():
        where = {"root": settings["root"]}
    else:
        where = {"size": settings.get("size", "default")}
    return build_dataset(name, split, **where, **settings.get("options", {}))


def evaluation_settings(settings: Mapping[str, Any], *, augment: bool = False) -> dict[str, Any]:
    """The data settings an evaluation split is built from: ``settings`` with the reader's ``augment`` set
    (off unless asked: the evaluation split is read as it is)."""
    return dict(settings) | {"options": dict(settings.get("options", {})) | {"augment": augment}}


def probe_batch(settings: Mapping[str, Any], size: int = 32) -> Any:
    """The inputs of the first ``size`` items of the evaluation split of ``settings``, collated as a
    DataLoader does (a tensor, or a tuple of them): a fixed batch to check or probe a model on."""
    dataset = dataset_from_settings(evaluation_settings(settings), "val")
    return default_collate([dataset[i] for i in range(min(size, len(dataset)))])[0]


def layouts() -> set[str]:
    """The names of the upstream layouts (datasets read from the user's own files at ``root``)."""
    return {info.name for info in list_datasets() if isinstance(info, LayoutInfo)}
