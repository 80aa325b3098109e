"""Folder datasets `root/<class>/<files>` for every modality, split into train/val deterministically."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from torch import Tensor
from torch.utils.data import Dataset

from data_tools.audio import AudioReader
from data_tools.errors import DataFileError
from data_tools.images import ImageReader
from data_tools.points import PointReader
from data_tools.video import ClipReader

READERS: dict[str, type] = {
    "image": ImageReader,
    "audio": AudioReader,
    "video": ClipReader,
    "point": PointReader,
}
Split = Literal["train", "val"]
OnError = Literal["raise", "skip"]


def split_key(relative_path: str, seed: int) -> str:
    """A hash of a file's path below the root: the same on every machine and run for the same seed."""
    return hashlib.sha256(f"{seed}:{relative_path}".encode()).hexdigest()


def hashed_split(relative_paths: list[str], split: Split, val_fraction: float, seed: int) -> list[str]:
    """The `split` part of one class's files: val is the `round(val_fraction * n)` lowest hashes."""
    ranked = sorted(relative_paths, key=lambda path: split_key(path, seed))
    num_val = round(val_fraction * len(ranked))
    return sorted(ranked[:num_val] if split == "val" else ranked[num_val:])


def _files_under(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        found += [
            Path(dirpath) / name
            for name in filenames
            if not name.startswith(".") and Path(name).suffix.lower() in extensions
        ]
    return sorted(found)


class FolderDataset(Dataset):
    """Items `(x, label)` from `root/<class>/**/<file>`, `x` made by `reader(path)`.

    With `root/train/<class>/...` and `root/val/<class>/...` those folders are the splits; otherwise each
    class's files are split by a seeded hash of their paths (stable across runs and machines).
    `on_error="skip"` replaces an unreadable file's item by the next readable one, warns, and lists the
    file in `skipped` as `(path, reason)` (in the process that read it: a worker's list stays there);
    `scan()` finds all of them up front.
    """

    def __init__(
        self,
        root: str | Path,
        reader: Callable[[Path], Tensor],
        split: Split = "train",
        *,
        val_fraction: float = 0.2,
        seed: int = 0,
        on_error: OnError = "raise",
    ) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', not {split!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        self.root = Path(root)
        self.reader = reader
        self.modality: str = reader.modality
        self.split = split
        self.on_error = on_error
        self.skipped: list[tuple[Path, str]] = []
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder '{self.root}' does not exist")
        explicit = (self.root / "train").is_dir() and (self.root / "val").is_dir()
        base = self.root / split if explicit else self.root
        self.classes: list[str] = sorted(
            {
                entry.name
                for folder in ([self.root / "train", self.root / "val"] if explicit else [self.root])
                for entry in folder.iterdir()
                if entry.is_dir() and not entry.name.startswith(".")
            }
        )
        self.samples: list[tuple[Path, int]] = []
        for label, name in enumerate(self.classes):
            files = _files_under(base / name, reader.extensions)
            if not explicit:
                relative = {file.relative_to(self.root).as_posix(): file for file in files}
                files = [relative[path] for path in hashed_split(list(relative), split, val_fraction, seed)]
            self.samples += [(file, label) for file in files]
        if not self.samples:
            raise FileNotFoundError(
                f"no {self.modality} files ({', '.join(reader.extensions)}) in class folders under '{base}'"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def scan(self) -> list[tuple[Path, str]]:
        """Read every file once, drop the unreadable ones and return them as `(path, reason)`.

        Run it before a long training run to find every bad file at once, whatever `on_error` says.
        """
        bad = []
        for path, _ in self.samples:
            try:
                self.reader(path)
            except DataFileError as error:
                bad.append((path, error.reason))
        dropped = {path for path, _ in bad}
        self.samples = [(path, label) for path, label in self.samples if path not in dropped]
        self.skipped += [item for item in bad if all(item[0] != seen for seen, _ in self.skipped)]
        return bad

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        for attempt in range(len(self.samples)):
            path, label = self.samples[(index + attempt) % len(self.samples)]
            try:
                return self.reader(path), label
            except DataFileError as error:
                if self.on_error == "raise":
                    raise
                if all(path != seen for seen, _ in self.skipped):
                    self.skipped.append((path, error.reason))
                    warnings.warn(f"skipping {error}", stacklevel=2)
        raise RuntimeError(f"no file of '{self.root}' ({self.split}) could be read: see `skipped`")


def folder_dataset(
    root: str | Path,
    modality: str,
    split: Split = "train",
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    on_error: OnError = "raise",
    **reader_options,
) -> FolderDataset:
    """A FolderDataset of `modality` ("image", "audio", "video", "point") whose reader takes `reader_options`.

    Options: image `image_size, channels, mean, std, augment`; audio `target_length, num_mel_bins,
    sample_rate, mean, std, augment, freqm, timem`; video `num_frames, stride, size, channels, mean, std,
    augment, backend, pad`; point `num_points, features, augment, rotate, jitter, mesh_points`.
    """
    if modality not in READERS:
        raise ValueError(f"unknown modality {modality!r}: use one of {sorted(READERS)}")
    reader = READERS[modality](**reader_options)
    return FolderDataset(root, reader, split, val_fraction=val_fraction, seed=seed, on_error=on_error)
