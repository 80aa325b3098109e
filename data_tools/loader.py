"""A DataLoader whose order and worker randomness follow a seed."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def seed_worker(worker_id: int) -> None:
    """Seed numpy and `random` in a worker from its torch seed (itself drawn from the loader's generator)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    drop_last: bool = False,
    sampler: Sampler | None = None,
) -> DataLoader:
    """Batches of `dataset`: the same order (and worker seeds) for the same `seed`; pinned memory on CUDA.

    A `sampler` (e.g. a `DistributedSampler` for one process of a torchrun world) replaces the
    seeded shuffle; `seed` still seeds the workers.

    On a few cores, `num_workers >= 1` keeps decoding out of the training process: workers run torch
    single-threaded, while readers in the main process share its intra-op threads with the model.
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else None,
        sampler=sampler,
        num_workers=num_workers,
        generator=generator,
        worker_init_fn=seed_worker,
        pin_memory=device is not None and torch.device(device).type == "cuda",
        drop_last=drop_last,
        persistent_workers=num_workers > 0,
    )
