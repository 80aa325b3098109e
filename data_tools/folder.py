"""Folder datasets `root/<class>/<files>` for every modality, split into train/val deterministically."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from torch import Tensor

from data_tools.audio import AudioReader
from data_tools.dataset import OnError, SampleDataset, Split, check_split
from data_tools.images import ImageReader
from data_tools.points import PointReader
from data_tools.video import ClipReader

READERS: dict[str, type] = {
    "image": ImageReader,
    "audio": AudioReader,
    "video": ClipReader,
    "point": PointReader,
}


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


class FolderDataset(SampleDataset):
    """Items `(x, label)` from `root/<class>/**/<file>`, `x` made by `reader(path)`.

    With `root/train/<class>/...` and `root/val/<class>/...` those folders are the splits; otherwise each
    class's files are split by a seeded hash of their paths (stable across runs and machines).
    `on_error` as in `SampleDataset`: "skip" replaces an unreadable file's item by the next readable one.
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
        check_split(split, on_error)
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder '{self.root}' does not exist")
        explicit = (self.root / "train").is_dir() and (self.root / "val").is_dir()
        base = self.root / split if explicit else self.root
        classes = sorted(
            {
                entry.name
                for folder in ([self.root / "train", self.root / "val"] if explicit else [self.root])
                for entry in folder.iterdir()
                if entry.is_dir() and not entry.name.startswith(".")
            }
        )
        samples: list[tuple[Path, int]] = []
        for label, name in enumerate(classes):
            files = _files_under(base / name, reader.extensions)
            if not explicit:
                relative = {file.relative_to(self.root).as_posix(): file for file in files}
                files = [relative[path] for path in hashed_split(list(relative), split, val_fraction, seed)]
            samples += [(file, label) for file in files]
        if not samples:
            raise FileNotFoundError(
                f"no {reader.modality} files ({', '.join(reader.extensions)}) in class folders under '{base}'"
            )
        super().__init__(
            samples, reader, classes, modality=reader.modality, name=f"'{self.root}'", split=split, on_error=on_error
        )


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

    Options: image `image_size, channels, mean, std, augment, transform`; audio `target_length, num_mel_bins,
    sample_rate, mean, std, augment, freqm, timem`; video `num_frames, stride, size, channels, mean, std,
    augment, backend, pad`; point `num_points, features, augment, rotate, jitter, mesh_points`.
    """
    if modality not in READERS:
        raise ValueError(f"unknown modality {modality!r}: use one of {sorted(READERS)}")
    reader = READERS[modality](**reader_options)
    return FolderDataset(root, reader, split, val_fraction=val_fraction, seed=seed, on_error=on_error)
