"""Datasets by name: built-in ones (built once into the cache, then read as folder datasets) and readers
of the upstream layouts that users' own copies of public datasets come in (Kinetics lists, ScanObjectNN,
ModelNet), plus "folder" for `root/<class>/<files>`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_tools.cache import build_once, cache_root, write_atomic
from data_tools.dataset import SampleDataset, Split
from data_tools.folder import folder_dataset

Builder = Callable[[Path, str, Path], dict[str, Any]]
Opener = Callable[..., SampleDataset]  # (root, split, **options) -> the split of the user's files
Reader = Callable[..., Any]  # (folder, split, **options) -> Dataset, for datasets not in class folders


@dataclass(frozen=True)
class DatasetInfo:
    """A built-in dataset: what it is, what building it needs, and how to build it.

    `build(dest, size, cache)` writes `dest/train/<class>/...` and `dest/val/<class>/...` and returns
    reader options (e.g. normalisation statistics) saved to `dest/meta.json`; `cache` is the cache root
    (for downloaded packages). `defaults` are reader options used unless the caller or the build says
    otherwise. A change to a build's output must bump `version`. `task` is the m2pt task its labels
    are for; a dataset of another layout than class folders gives the `reader` that opens a split.
    """

    name: str
    modality: str
    num_classes: int
    description: str
    needs: str
    sizes: tuple[str, ...]
    version: int
    defaults: dict[str, Any] = field(repr=False)
    build: Builder = field(repr=False)
    task: str = "classification"
    reader: Reader | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LayoutInfo:
    """A reader of an upstream dataset layout: the user's files at `root`, read as they are.

    `layout` says which files it expects under `root`; `options` names the options it takes besides the
    modality reader's. `open(root, split, **options)` returns the split.
    """

    name: str
    modality: str
    description: str
    layout: str
    options: str
    open: Opener = field(repr=False)
    task: str = "classification"  # what its labels are for (m2pt.tasks)


_REGISTRY: dict[str, DatasetInfo] = {}
_LAYOUTS: dict[str, LayoutInfo] = {}


def register(
    name: str,
    *,
    modality: str,
    num_classes: int,
    description: str,
    needs: str,
    sizes: tuple[str, ...] = ("tiny", "default"),
    version: int = 1,
    defaults: dict[str, Any] | None = None,
    task: str = "classification",
    reader: Reader | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator registering a build function as the built-in dataset `name`."""

    def decorate(build: Builder) -> Builder:
        _REGISTRY[name] = DatasetInfo(
            name, modality, num_classes, description, needs, sizes, version, defaults or {}, build, task, reader
        )
        return build

    return decorate


def register_layout(
    name: str, *, modality: str, description: str, layout: str, options: str, task: str = "classification"
) -> Callable[[Opener], Opener]:
    """Decorator registering `open(root, split, **options)` as the reader of an upstream layout `name`."""

    def decorate(open_: Opener) -> Opener:
        if name in _REGISTRY or name == "folder":
            raise ValueError(f"dataset name {name!r} is taken")
        _LAYOUTS[name] = LayoutInfo(name, modality, description, layout, options, open_, task)
        return open_

    return decorate


def list_datasets() -> list[DatasetInfo | LayoutInfo]:
    """Every dataset `build_dataset` takes by name besides "folder": built-ins, then upstream layouts."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)] + [_LAYOUTS[name] for name in sorted(_LAYOUTS)]


def dataset_dir(name: str, size: str = "default", root: str | Path | None = None) -> Path:
    """The folder of a built-in dataset in the cache `root`, built there first if missing."""
    info = _info(name)
    if size not in info.sizes:
        raise ValueError(f"dataset {name!r} has sizes {info.sizes}, not {size!r}")
    cache = cache_root(root)

    def build(tmp: Path) -> None:
        meta = info.build(tmp, size, cache)
        write_atomic(tmp / "meta.json", json.dumps(meta, indent=1).encode())

    return build_once(cache / f"{name}-{size}-v{info.version}", build)


def dataset_version(name: str) -> int | None:
    """The build version of the built-in dataset `name` (its cache folder's `v<k>`: other data when it
    changes); None for your own folder and upstream layouts."""
    info = _REGISTRY.get(name)
    return None if info is None else info.version


def build_dataset(
    name: str,
    split: Split = "train",
    *,
    size: str = "default",
    root: str | Path | None = None,
    **options: Any,
) -> SampleDataset | Any:
    """The `split` ("train"/"val") of the dataset `name`.

    A built-in dataset is built into the cache `root` at first use; its `options` go to the modality's
    reader (see `folder_dataset`) and override the dataset's defaults; `on_error` is accepted too. A
    built-in with a `reader` (one for another task than classification) is opened by it instead of as
    class folders, with the same options. `name="folder"` reads your own `root/<class>/<files>` folder
    instead and needs `modality=` (and takes `val_fraction`, `seed`). An upstream layout
    (`list_datasets()`, e.g. "kinetics_list") reads your copy of that dataset at `root`, with the
    layout's options and its modality reader's. For those two, `size` is the video reader's frame size
    (a built-in's `size` names which build to use).
    """
    if name == "folder" or name in _LAYOUTS:
        if size != "default":  # not a built-in's size: the video reader's frame size
            options["size"] = size
    if name == "folder":
        if root is None or "modality" not in options:
            raise ValueError('build_dataset("folder", ...) needs root= (your data) and modality=')
        return folder_dataset(root, split=split, **options)
    if name in _LAYOUTS:
        layout = _LAYOUTS[name]
        if root is None:
            raise ValueError(f"build_dataset({name!r}, ...) needs root=: the folder holding {layout.layout}")
        return layout.open(Path(root), split, **options)
    info = _info(name)
    folder = dataset_dir(name, size, root)
    built = json.loads((folder / "meta.json").read_text())
    if info.reader is not None:
        return info.reader(folder, split, **{**info.defaults, **built, **options})
    return folder_dataset(folder, info.modality, split, **{**info.defaults, **built, **options})


def _info(name: str) -> DatasetInfo:
    if name in _LAYOUTS:
        raise KeyError(f"{name!r} reads your own files and is not built: use build_dataset({name!r}, split, root=...)")
    if name not in _REGISTRY:
        known = sorted(_REGISTRY) + sorted(_LAYOUTS)
        raise KeyError(f"unknown dataset {name!r}: choose from {known} or 'folder'")
    return _REGISTRY[name]
