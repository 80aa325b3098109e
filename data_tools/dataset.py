"""A labelled list of items read on demand, with bad items raised or skipped: the base of every dataset here."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Literal

from torch import Tensor
from torch.utils.data import Dataset

from data_tools.errors import DataFileError

Split = Literal["train", "val"]
OnError = Literal["raise", "skip"]


def check_split(split: str, on_error: str) -> None:
    """ValueError for a split other than train/val or an `on_error` other than raise/skip."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")


class SampleDataset(Dataset):
    """Items `(reader(key), label)` for `samples = [(key, label), ...]`; a key is a file path or a row.

    The reader raises DataFileError for anything it cannot turn into model input. `on_error="skip"`
    replaces such an item by the next readable one, warns, and lists it in `skipped` as `(key, reason)`
    (in the process that read it: a loader worker's list stays there); `scan()` finds all of them up front.
    """

    def __init__(
        self,
        samples: Sequence[tuple[Hashable, int]],
        reader: Callable[[Hashable], Tensor],
        classes: Sequence[str],
        *,
        modality: str,
        name: str,
        split: Split = "train",
        on_error: OnError = "raise",
    ) -> None:
        check_split(split, on_error)
        self.samples = list(samples)
        self.reader = reader
        self.classes = list(classes)
        self.modality = modality
        self.name = name
        self.split = split
        self.on_error = on_error
        self.skipped: list[tuple[Hashable, str]] = []

    def __len__(self) -> int:
        return len(self.samples)

    def scan(self) -> list[tuple[Hashable, str]]:
        """Read every item once, drop the unreadable ones and return them as `(key, reason)`.

        Run it before a long training run to find every bad file at once, whatever `on_error` says.
        """
        bad = []
        for key, _ in self.samples:
            try:
                self.reader(key)
            except DataFileError as error:
                bad.append((key, error.reason))
        dropped = {key for key, _ in bad}
        self.samples = [(key, label) for key, label in self.samples if key not in dropped]
        self.skipped += [item for item in bad if all(item[0] != seen for seen, _ in self.skipped)]
        return bad

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        for attempt in range(len(self.samples)):
            key, label = self.samples[(index + attempt) % len(self.samples)]
            try:
                return self.reader(key), label
            except DataFileError as error:
                if self.on_error == "raise":
                    raise
                if all(key != seen for seen, _ in self.skipped):
                    self.skipped.append((key, error.reason))
                    warnings.warn(f"skipping {error}", stacklevel=2)
        raise RuntimeError(f"no item of {self.name} ({self.split}) could be read: see `skipped`")
