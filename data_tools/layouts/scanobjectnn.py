"""ScanObjectNN's h5 files as Point-MAE reads them: `data [N, 2048, 3]` and `label [N]` per split.

Files: `root/training_<variant>.h5` and `root/test_<variant>.h5`, with `root` one of the release's
folders: `main_split/` (objects with background; holds the hardest variant PB_T50_RS,
`objectdataset_augmentedrot_scale75`, and the plain `objectdataset`, OBJ_BG) or `main_split_nobg/`
(`objectdataset`, OBJ_ONLY). The whole split is read into memory, as upstream. "val" is the test file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor

from data_tools.dataset import OnError, SampleDataset, Split
from data_tools.errors import DataFileError, reading
from data_tools.points import PointReader
from data_tools.registry import register_layout

CLASSES = ("bag", "bin", "box", "cabinet", "chair", "desk", "display", "door", "shelf", "table", "bed", "pillow",
           "sink", "sofa", "toilet")  # fmt: skip
HARDEST = "objectdataset_augmentedrot_scale75"  # PB_T50_RS
FILE_PREFIX = {"train": "training", "val": "test"}


def read_h5(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """`(points [N, P, 3] float32, labels [N] int64)` of a ScanObjectNN file, checked."""
    if not path.is_file():
        present = sorted(p.name for p in path.parent.glob("*.h5")) if path.parent.is_dir() else []
        where = f"'{path.parent}' holds {present}" if path.parent.is_dir() else f"'{path.parent}' does not exist"
        raise DataFileError(path, f"no such file; {where}")
    with reading(path), h5py.File(path, "r") as file:
        missing = [key for key in ("data", "label") if key not in file]
        if missing:
            raise DataFileError(path, f"has no dataset {', '.join(missing)} (has {sorted(file)})")
        points, labels = np.asarray(file["data"], np.float32), np.asarray(file["label"])
    labels = labels.reshape(-1).astype(np.int64) if labels.ndim == 2 and labels.shape[1] == 1 else labels
    if points.ndim != 3 or points.shape[2] < 3 or labels.ndim != 1 or len(labels) != len(points):
        raise DataFileError(path, f"expected data [N, P, 3] and label [N], got {points.shape} and {labels.shape}")
    outside = np.flatnonzero((labels < 0) | (labels >= len(CLASSES)))
    if outside.size:
        raise DataFileError(path, f"label {labels[outside[0]]} of sample {outside[0]} is not one of 0..14")
    return points[:, :, :3], labels.astype(np.int64)


@dataclass
class H5Rows:
    """Sample `row` of a loaded file to model input through a PointReader's `process` (no file access)."""

    path: Path
    points: np.ndarray  # [N, P, 3]
    reader: PointReader

    def __call__(self, row: int) -> Tensor:
        cloud = self.points[row]
        if not np.isfinite(cloud).all():
            raise DataFileError(self.path, f"sample {row} has NaN or infinite coordinates")
        with reading(self.path):
            return self.reader.process(torch.from_numpy(cloud.copy()))


@register_layout(
    "scanobjectnn",
    modality="point",
    description="ScanObjectNN h5 files (Point-MAE's layout); the hardest variant PB_T50_RS by default",
    layout="training_<variant>.h5 and test_<variant>.h5 (main_split/ or main_split_nobg/)",
    options=f"variant (default {HARDEST}; objectdataset for OBJ_BG / OBJ_ONLY)",
)
def scanobjectnn(
    root: Path, split: Split = "train", *, variant: str = HARDEST, on_error: OnError = "raise", **reader_options: Any
) -> SampleDataset:
    """The `split` of `root/{training,test}_<variant>.h5`; `reader_options` go to `PointReader`.

    Point-MAE reads these clouds unnormalised (they come centred and scaled): pass `normalize=False`
    for exactly that, and `num_points=2048` for all points of each sample.
    """
    if split not in FILE_PREFIX:
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    reader = PointReader(**reader_options)
    if reader.features:
        raise ValueError(f"ScanObjectNN's files hold xyz only; features={list(reader.features)} cannot be read")
    path = root / f"{FILE_PREFIX[split]}_{variant}.h5"
    points, labels = read_h5(path)
    samples = list(enumerate(labels.tolist()))
    rows = H5Rows(path, points, reader)
    return SampleDataset(samples, rows, CLASSES, modality="point", name=f"'{path}'", split=split, on_error=on_error)
