"""Datasets and loaders of a run, from its ``data`` config (through data_tools).

The training loader shards and shuffles with a ``DistributedSampler`` seeded by the run's seed
and re-shuffled per epoch: every process of a torchrun world sees its share, and a single
process sees the same global order, so runs with equal seeds see identical batches. Each
training item's augmentation is seeded by (run seed, epoch, index) (:mod:`m2pt.train.item_seeds`),
and :meth:`ResumableSampler.skip` starts an epoch after the batches a mid-epoch checkpoint has
seen: a resumed run reads exactly the items, augmented exactly as, the uninterrupted one.
The evaluation split is read without augmentation (``augment`` off whatever ``data.options`` say).
A split read without augmentation gives the same item on every read, so it is read once per
process (:class:`KeptItems`, up to ``data.keep_in_memory_mb``): decoding a small dataset's files
anew every epoch cost a fifth of a tiny image model's run.
"""

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset
from torch.utils.data.distributed import DistributedSampler

import data_tools
from data_tools.from_settings import dataset_from_settings, evaluation_settings, layouts
from m2pt.batches import tensor_bytes
from m2pt.train.config import ConfigError, DataConfig
from m2pt.train.distributed import World
from m2pt.train.item_seeds import item_seed, seeded

SUBSET_SEED = 0  # which examples a *_limit keeps: fixed, so every seed and arm trains on the same ones


@dataclass
class Data:
    train: Dataset
    val: Dataset
    classes: list[str]
    modality: str


def dataset_modality(config: DataConfig) -> str:
    """The modality of the configured dataset, known without building it."""
    if config.dataset == "folder":
        if not config.root or not config.modality:
            raise ConfigError("data.dataset=folder needs data.root (the folder) and data.modality")
        return config.modality
    if config.dataset in layouts() and not config.root:
        raise ConfigError(f"data.dataset={config.dataset} reads your own copy of the dataset: give data.root")
    known = {info.name: info for info in data_tools.list_datasets()}
    if config.dataset not in known:
        raise ConfigError(f"unknown dataset {config.dataset!r}; built-in: {sorted(known)}, or 'folder'")
    return known[config.dataset].modality


def check_modality(config: DataConfig, modality: str) -> None:
    """Refuse a model whose tokenizer cannot read the dataset."""
    held = dataset_modality(config)
    if held != modality:
        raise ConfigError(
            f"data.dataset={config.dataset} holds {held} data but model.modality is {modality}: "
            "the model's tokenizer must match the data"
        )


def build_data(config: DataConfig, splits: tuple[str, str] = ("train", "val")) -> Data:
    """The training and evaluation splits named by ``splits``, limited as configured. Datasets are
    read-only: the runs of a workflow in one process share them (the last few are kept)."""
    key = json.dumps([dataclasses.asdict(config), splits, str(data_tools.cache_root())], sort_keys=True, default=str)
    if key not in _BUILT:
        _BUILT[key] = _build_data(config, splits)
        while len(_BUILT) > 4:
            _BUILT.pop(next(iter(_BUILT)))
    return _BUILT[key]


_BUILT: dict[str, Data] = {}


def augments(config: DataConfig) -> bool:
    """Whether the training split's reads are random (its reader augments): else every read of an item is the same."""
    return bool(config.options.get("augment"))


def _build_data(config: DataConfig, splits: tuple[str, str]) -> Data:
    dataset_modality(config)
    train = dataset_from_settings(vars(config), splits[0])
    val = dataset_from_settings(evaluation_settings(vars(config)), splits[1])
    budget = config.keep_in_memory_mb * 2**20
    return Data(
        train=_limit(KeptItems.around(train, 0 if augments(config) else budget), config.train_limit),
        val=_limit(KeptItems.around(val, budget), config.val_limit),
        classes=list(train.classes),
        modality=dataset_modality(config),
    )


class KeptItems(Dataset):
    """``dataset``, each item kept after its first read while the kept ones hold at most ``budget``
    bytes of tensors (later ones are read every time); its other attributes are the dataset's.

    Only for a dataset whose every read of an item gives the same item: one read without
    augmentation. Items are shared, not copied: a loader's batches are new tensors.
    """

    def __init__(self, dataset: Dataset, budget: int) -> None:
        self.dataset, self.budget, self.held = dataset, budget, 0
        self.kept: dict[int, Any] = {}

    @classmethod
    def around(cls, dataset: Dataset, budget: int) -> Dataset:
        """``dataset`` keeping up to ``budget`` bytes of items; itself when ``budget`` is 0."""
        return cls(dataset, budget) if budget else dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        if index in self.kept:
            return self.kept[index]
        item = self.dataset[index]
        size = tensor_bytes(item)
        if self.held + size <= self.budget:
            self.kept[index] = item
            self.held += size
        return item

    def __getattr__(self, name: str):
        if name == "dataset":  # not yet set (unpickling)
            raise AttributeError(name)
        return getattr(self.dataset, name)


class ResumableSampler(DistributedSampler):
    """A ``DistributedSampler`` that yields ``(epoch, index)`` (for :class:`SeededItems`) and can start
    an epoch after its first ``skip(n)`` indices (the batches a mid-epoch checkpoint has seen).

    With ``weights [N]`` an epoch draws its items with replacement in proportion to them (e.g. a
    task's class-balanced sampling), from a generator seeded by (seed, epoch), and shards the draw
    across processes as the plain order is: the same order for every world size, and resumable."""

    def __init__(self, dataset: Dataset, weights: torch.Tensor | None = None, **kwargs) -> None:
        super().__init__(dataset, **kwargs)
        if weights is not None and len(weights) != len(dataset):
            raise ValueError(f"{len(weights)} sampling weights for {len(dataset)} training items")
        self.weights = weights
        self.skipped = 0

    def order(self) -> list[int]:
        """This process's indices of the current epoch."""
        if self.weights is None:
            return list(super().__iter__())
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        drawn = torch.multinomial(self.weights.double(), self.total_size, replacement=True, generator=generator)
        return drawn[self.rank : self.total_size : self.num_replicas].tolist()

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.skipped = 0

    def skip(self, count: int) -> None:
        """Leave out the first ``count`` indices of this epoch (until the next ``set_epoch``)."""
        self.skipped = count

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for position, index in enumerate(self.order()):
            if position >= self.skipped:
                yield self.epoch, index


class SeededItems(Dataset):
    """Items of ``dataset`` read as ``items[(epoch, index)]``, their randomness seeded by (seed, epoch, index)
    when ``random`` (a reader that does not augment returns the same item on every read: seeding it,
    about 0.2 ms an item, would only cost time)."""

    def __init__(self, dataset: Dataset, seed: int, random: bool) -> None:
        self.dataset, self.seed, self.random = dataset, seed, random

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        if not self.random:
            return self.dataset[index]
        with seeded(item_seed(self.seed, epoch, index)):
            return self.dataset[index]


def train_loader(
    dataset: Dataset,
    config: DataConfig,
    world: World,
    seed: int,
    device: torch.device,
    weights: torch.Tensor | None = None,
):
    """``(loader, sampler)``; call ``sampler.set_epoch(epoch)`` before each epoch (then ``sampler.skip``
    to resume inside it). ``weights [N]``: draw items in proportion to them (see :class:`ResumableSampler`)."""
    if config.batch_size % world.size:
        raise ConfigError(f"data.batch_size {config.batch_size} is not divisible by the {world.size} processes")
    per_process = config.batch_size // world.size
    if len(dataset) < config.batch_size:
        raise ConfigError(f"the training set has {len(dataset)} examples, fewer than one batch ({config.batch_size})")
    sampler = ResumableSampler(
        dataset, weights, num_replicas=world.size, rank=world.rank, shuffle=True, seed=seed, drop_last=True
    )
    loader = data_tools.make_loader(
        SeededItems(dataset, seed, random=augments(config)),
        per_process,
        sampler=sampler,
        seed=seed,
        num_workers=config.num_workers,
        device=device,
        drop_last=True,
    )
    return loader, sampler


def eval_loader(dataset: Dataset, config: DataConfig, device: torch.device) -> DataLoader:
    return data_tools.make_loader(
        dataset, config.eval_batch_size, shuffle=False, num_workers=config.num_workers, device=device
    )


def _limit(dataset: Dataset, limit: int | None) -> Dataset:
    if limit is None or limit >= len(dataset):
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(SUBSET_SEED))
    subset = Subset(dataset, order[:limit].tolist())
    subset.classes, subset.modality = dataset.classes, getattr(dataset, "modality", None)
    return subset
