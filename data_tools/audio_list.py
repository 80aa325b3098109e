"""AudioMAE's multi-label list format (AudioSet): a JSON list of clips and a class-index CSV.

    {"data": [{"wav": "clips/a.wav", "labels": "/m/09x0r,/m/05zppz"}, ...]}     (train.json, eval.json)
    index,mid,display_name                                                      (class_labels_indices.csv)
    0,/m/09x0r,"Speech"

``wav`` paths may be absolute or relative to the JSON file's folder.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from data_tools.audio import AudioReader
from data_tools.errors import DataFileError, check_file, reading


def read_class_index(path: str | Path) -> tuple[list[str], list[str]]:
    """``class_labels_indices.csv`` -> ``(mids, display names)``, in index order."""
    path = check_file(path, (".csv",))
    with reading(path), path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"index", "mid", "display_name"} <= set(rows[0]):
        raise DataFileError(path, "expected a header 'index,mid,display_name' and one row per class")
    if [int(row["index"]) for row in rows] != list(range(len(rows))):
        raise DataFileError(path, "the index column must count 0, 1, 2, ... in order")
    return [row["mid"] for row in rows], [row["display_name"] for row in rows]


class AudioListDataset(Dataset):
    """Items ``(fbank [1, target_length, num_mel_bins] float32, target [K] float32 multi-hot)``.

    ``options`` go to :class:`data_tools.AudioReader` (``target_length``, ``num_mel_bins``,
    ``mean``, ``std``, ``augment``, ...). ``targets [N,K]`` holds every item's labels (for
    class-balanced sampling); a label missing from the class index is an error naming the list.
    """

    def __init__(self, json_path: str | Path, class_index: str | Path, **options: Any) -> None:
        self.json_path = check_file(json_path, (".json",))
        self.mids, self.classes = read_class_index(class_index)
        self.reader = AudioReader(**options)
        with reading(self.json_path):
            listing = json.loads(self.json_path.read_text())
        entries = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(entries, list):
            raise DataFileError(self.json_path, 'expected {"data": [{"wav": ..., "labels": "/m/..,/m/.."}, ...]}')
        index = {mid: i for i, mid in enumerate(self.mids)}
        self.samples: list[Path] = []
        self.targets = torch.zeros(len(entries), len(self.mids))
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or "wav" not in entry or "labels" not in entry:
                raise DataFileError(self.json_path, f"entry {i} is {entry!r}, expected wav and labels")
            wav = Path(entry["wav"])
            self.samples.append(wav if wav.is_absolute() else self.json_path.parent / wav)
            for mid in filter(None, (label.strip() for label in str(entry["labels"]).split(","))):
                if mid not in index:
                    raise DataFileError(
                        self.json_path,
                        f"entry {i} ({entry['wav']}) has the label {mid!r}, which {class_index} does not list",
                    )
                self.targets[i, index[mid]] = 1
        if not self.samples:
            raise DataFileError(self.json_path, "lists no clips")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.reader(self.samples[index]), self.targets[index]
