"""ShapeNetPart's folder layout for part segmentation (shapenetcore_partanno_segmentation_benchmark_v0_normal).

    root/synsetoffset2category.txt                 "<Category>\t<synset>" per line, category order = ids
    root/<synset>/<shape>.txt                       one point per line: x y z nx ny nz part_id
    root/train_test_split/shuffled_{train,val,test}_file_list.json   ["shape_data/<synset>/<shape>", ...]
    root/category_parts.json                        (optional) {"<Category>": [part ids], ...}

Part ids are global over all categories (ShapeNetPart's 50). Which ids belong to which category
is not in ShapeNetPart's files: its 16 categories use the standard table (PointNet++'s, Point-MAE's),
other data gives ``category_parts.json`` or ``category_parts=``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from data_tools.errors import DataFileError, check_file, reading
from data_tools.points import augment_points, normalize_points, resample

# The part ids of ShapeNetPart's 16 categories (the table every ShapeNetPart evaluation uses).
SHAPENET_PART_IDS: dict[str, list[int]] = {
    "Airplane": [0, 1, 2, 3], "Bag": [4, 5], "Cap": [6, 7], "Car": [8, 9, 10, 11], "Chair": [12, 13, 14, 15],
    "Earphone": [16, 17, 18], "Guitar": [19, 20, 21], "Knife": [22, 23], "Lamp": [24, 25, 26, 27],
    "Laptop": [28, 29], "Motorbike": [30, 31, 32, 33, 34, 35], "Mug": [36, 37], "Pistol": [38, 39, 40],
    "Rocket": [41, 42, 43], "Skateboard": [44, 45, 46], "Table": [47, 48, 49],
}  # fmt: skip
PartSplit = Literal["train", "val", "test"]


def read_categories(path: Path) -> list[tuple[str, str]]:
    """``synsetoffset2category.txt`` -> ``[(category, synset), ...]`` in the file's order."""
    path = check_file(path, (".txt",))
    categories = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise DataFileError(path, f"line {number} is {line!r}, expected '<Category> <synset>'")
        categories.append((fields[0], fields[1]))
    if not categories:
        raise DataFileError(path, "lists no categories")
    return categories


def read_category_parts(root: Path, names: list[str], given: Mapping[str, Sequence[int]] | None) -> list[list[int]]:
    """The part ids of each category, from ``given``, ``root/category_parts.json`` or ShapeNetPart's table."""
    source, table = "category_parts=", given
    if table is None and (root / "category_parts.json").is_file():
        source = str(root / "category_parts.json")
        with reading(source):
            table = json.loads(Path(source).read_text())
    if table is None:
        source, table = "ShapeNetPart's part table", SHAPENET_PART_IDS
    missing = [name for name in names if name not in table]
    if missing:
        raise ValueError(
            f"{source} gives no part ids for the categories {missing}: write {root / 'category_parts.json'} "
            '({"<Category>": [part ids], ...}) or pass category_parts='
        )
    return [sorted(int(p) for p in table[name]) for name in names]


class ShapeNetPartDataset(Dataset):
    """Items ``((points [num_points, 3 or 6] float32, category int64), parts [num_points] int64)``.

    Points are xyz (then normals with ``normals=True``), centred and scaled into the unit sphere
    as Point-MAE does, resampled to ``num_points`` (the same choice on every call unless
    ``augment``, which also scales 2/3-3/2 per axis and shifts +-0.2). A part id outside its
    category's parts is an error naming the file.
    """

    def __init__(
        self,
        root: str | Path,
        split: PartSplit = "train",
        *,
        num_points: int = 2048,
        normals: bool = False,
        augment: bool = False,
        category_parts: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', not {split!r}")
        self.root = Path(root)
        self.num_points, self.normals, self.augment = num_points, normals, augment
        categories = read_categories(self.root / "synsetoffset2category.txt")
        self.categories = [name for name, _ in categories]
        self.category_parts = read_category_parts(self.root, self.categories, category_parts)
        self.num_parts = 1 + max(p for parts in self.category_parts for p in parts)
        self.classes = [""] * self.num_parts  # the name of each part id: "<Category>/<id>"
        for name, parts in zip(self.categories, self.category_parts):
            for part in parts:
                self.classes[part] = f"{name}/{part}"
        synsets = {synset: index for index, (_, synset) in enumerate(categories)}
        listing = self.root / "train_test_split" / f"shuffled_{split}_file_list.json"
        with reading(check_file(listing, (".json",))):
            entries = json.loads(listing.read_text())
        self.samples: list[tuple[Path, int]] = []
        for entry in entries:
            *_, synset, shape = str(entry).split("/")
            if synset not in synsets:
                raise DataFileError(listing, f"entry {entry!r} is of synset {synset}, not in synsetoffset2category.txt")
            self.samples.append((self.root / synset / f"{shape}.txt", synsets[synset]))
        if not self.samples:
            raise DataFileError(listing, "lists no shapes")

    def __len__(self) -> int:
        return len(self.samples)

    def read(self, path: Path, category: int) -> tuple[Tensor, Tensor]:
        """One file as ``(points [N,6] xyz + normals, parts [N])``, part ids checked."""
        path = check_file(path, (".txt",))
        with reading(path):
            table = np.loadtxt(path, dtype=np.float32, ndmin=2)
        if table.shape[1] != 7:
            raise DataFileError(path, f"has {table.shape[1]} columns, expected 7 (x y z nx ny nz part)")
        parts = table[:, 6].astype(np.int64)
        if not np.array_equal(parts, table[:, 6]):
            raise DataFileError(path, "has part ids that are not whole numbers (column 7)")
        allowed = self.category_parts[category]
        outside = sorted(set(np.unique(parts).tolist()) - set(allowed))
        if outside:
            raise DataFileError(
                path,
                f"has part id(s) {outside[:5]} outside the parts {allowed} of its category {self.categories[category]}",
            )
        return torch.from_numpy(table[:, :6]), torch.from_numpy(parts)

    def __getitem__(self, index: int) -> tuple[tuple[Tensor, Tensor], Tensor]:
        path, category = self.samples[index]
        points, parts = self.read(path, category)
        table = torch.cat([normalize_points(points), parts[:, None].float()], dim=1)  # [N,7]
        generator = None if self.augment else torch.Generator().manual_seed(index)
        table = resample(table, self.num_points, generator)
        points, parts = table[:, : 6 if self.normals else 3], table[:, 6].long()
        if self.augment:
            points = augment_points(points, normals_at=3 if self.normals else None)
        return (points.contiguous(), torch.tensor(category)), parts
