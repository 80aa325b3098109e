"""VideoMAE's Kinetics lists: `root/train.csv` and `root/val.csv`, one `<video path> <label>` per line.

The layout of VideoMAE's `--data_path` (also used for Something-Something v2): paths relative to
`data_root` (VideoMAE v2's `--data_root`; default `root`) or absolute, integer labels from 0. Paths may
hold spaces: the label is the last field. Videos are read by `ClipReader` (torchcodec, decord or PyAV).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from data_tools.dataset import OnError, SampleDataset, Split
from data_tools.errors import DataFileError
from data_tools.layouts.lists import bad_line, list_lines
from data_tools.registry import register_layout
from data_tools.video import ClipReader

LIST_FORMAT = "'<video path> <integer label>'"


def read_video_list(path: Path, data_root: Path) -> list[tuple[Path, int]]:
    """`(video path, label)` of each line of a list; DataFileError naming the list and line when malformed."""
    samples = []
    for number, line in list_lines(path, "a list of videos and labels"):
        fields = line.rsplit(maxsplit=1)
        if len(fields) != 2 or not fields[1].isdigit():
            raise bad_line(path, number, line, LIST_FORMAT)
        video = Path(fields[0])
        samples.append((video if video.is_absolute() else data_root / video, int(fields[1])))
    if not samples:
        raise DataFileError(path, f"holds no {LIST_FORMAT} lines")
    return samples


@register_layout(
    "kinetics_list",
    modality="video",
    description="VideoMAE's Kinetics/SSv2 lists: train.csv and val.csv of '<video path> <label>' lines",
    layout="train.csv and val.csv (VideoMAE's --data_path)",
    options="data_root, train_list, val_list, num_classes",
)
def kinetics_list(
    root: Path,
    split: Split = "train",
    *,
    data_root: str | Path | None = None,
    train_list: str = "train.csv",
    val_list: str = "val.csv",
    num_classes: int | None = None,
    on_error: OnError = "raise",
    **reader_options: Any,
) -> SampleDataset:
    """The `split` of the lists in `root`; `reader_options` go to `ClipReader` (num_frames, stride, size, ...).

    The classes are `0 .. num_classes - 1`: `num_classes` (e.g. 400) or one more than the largest label
    of both lists. The lists are named `train_list` / `val_list` (VideoMAE evaluates on `val.csv`; pass
    `val_list="test.csv"` for its test list).
    """
    videos = Path(data_root) if data_root is not None else root
    lists = {"train": root / train_list, "val": root / val_list}
    samples = read_video_list(lists[split], videos)
    largest = max(label for _, label in samples)
    if num_classes is None:
        other = lists["val" if split == "train" else "train"]
        if other.is_file():
            largest = max(largest, *(label for _, label in read_video_list(other, videos)))
        num_classes = largest + 1
    elif largest >= num_classes:
        raise ValueError(f"{lists[split]}: label {largest} but num_classes={num_classes}")
    reader = ClipReader(**reader_options)
    return SampleDataset(
        samples,
        reader,
        [str(k) for k in range(num_classes)],
        modality="video",
        name=f"'{lists[split]}'",
        split=split,
        on_error=on_error,
    )
