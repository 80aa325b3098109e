"""ModelNet40 (or 10) resampled clouds as Point-MAE and PointNet++ read them: class lists and one text file a shape.

`root` is `modelnet40_normal_resampled/`: `modelnet40_shape_names.txt` (a class a line),
`modelnet40_train.txt` / `modelnet40_test.txt` (a shape id a line, e.g. `night_stand_0001`: the class,
then `_` and a number) and `<class>/<shape id>.txt` of `x,y,z,nx,ny,nz` lines. "val" is the test list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from data_tools.dataset import OnError, SampleDataset, Split
from data_tools.errors import DataFileError
from data_tools.layouts.lists import bad_line, list_lines
from data_tools.points import PointReader
from data_tools.registry import register_layout

LIST_NAME = {"train": "train", "val": "test"}
SHAPE_ID = re.compile(r"^(?P<name>\S+)_(?P<number>\d+)$")


def read_shape_names(path: Path) -> list[str]:
    """The class names of `modelnetN_shape_names.txt`, in order (the label is the line's position)."""
    names = []
    for number, line in list_lines(path, "the class names, one a line"):
        if len(line.split()) != 1 or line in names:
            raise bad_line(path, number, line, "one new class name")
        names.append(line)
    if not names:
        raise DataFileError(path, "holds no class names")
    return names


def read_shape_list(path: Path, root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    """`(file, label)` of each shape id of a split list; DataFileError naming the list and line when malformed."""
    samples = []
    for number, line in list_lines(path, "the shape ids of a split, one a line"):
        match = SHAPE_ID.match(line)
        if match is None:
            raise bad_line(path, number, line, "a shape id '<class>_<number>', e.g. 'airplane_0001'")
        if match["name"] not in classes:
            raise bad_line(path, number, line, f"a shape of one of the {len(classes)} classes of the shape names")
        samples.append((root / match["name"] / f"{line}.txt", classes.index(match["name"])))
    if not samples:
        raise DataFileError(path, "holds no shape ids")
    return samples


@register_layout(
    "modelnet",
    modality="point",
    description="ModelNet40/10 resampled clouds (modelnet40_normal_resampled/, Point-MAE's and PointNet++'s layout)",
    layout="modelnet40_shape_names.txt, modelnet40_{train,test}.txt and <class>/<class>_0001.txt",
    options="num_category (40 or 10)",
)
def modelnet(
    root: Path, split: Split = "train", *, num_category: int = 40, on_error: OnError = "raise", **reader_options: Any
) -> SampleDataset:
    """The `split` of ModelNet at `root`; `reader_options` go to `PointReader` (`features=["normals"]` for
    the normals, `num_points`, `augment`, ...). A shape's file is only read when its item is."""
    if split not in LIST_NAME:
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    if num_category not in (10, 40):
        raise ValueError(f"num_category must be 40 or 10, not {num_category!r}")
    classes = read_shape_names(root / f"modelnet{num_category}_shape_names.txt")
    shape_list = root / f"modelnet{num_category}_{LIST_NAME[split]}.txt"
    samples = read_shape_list(shape_list, root, classes)
    reader = PointReader(**reader_options)
    return SampleDataset(
        samples, reader, classes, modality="point", name=f"'{shape_list}'", split=split, on_error=on_error
    )
