import json

import numpy as np
import pytest
import torch

from data_tools import SHAPENET_PART_IDS, DataFileError, ShapeNetPartDataset, build_dataset, list_datasets


def write_shapenet_part(root, shapes, categories=(("Airplane", "02691156"), ("Mug", "03797390")), parts_json=None):
    """A ShapeNetPart tree: ``shapes`` maps (synset, name) to part ids, one point per part id."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "synsetoffset2category.txt").write_text("".join(f"{name}\t{synset}\n" for name, synset in categories))
    if parts_json is not None:
        (root / "category_parts.json").write_text(json.dumps(parts_json))
    rng = np.random.default_rng(0)
    for (synset, name), parts in shapes.items():
        (root / synset).mkdir(exist_ok=True)
        table = np.concatenate([rng.normal(size=(len(parts), 6)), np.array(parts)[:, None]], axis=1)
        np.savetxt(root / synset / f"{name}.txt", table, fmt="%.6f")
    (root / "train_test_split").mkdir(exist_ok=True)
    entries = [f"shape_data/{synset}/{name}" for synset, name in shapes]
    (root / "train_test_split" / "shuffled_train_file_list.json").write_text(json.dumps(entries))
    return root


def test_reads_shapenet_part_layout_with_its_part_table(tmp_path):
    shapes = {("02691156", "plane"): [0, 1, 2, 3, 3, 3], ("03797390", "cup"): [36, 37, 37, 36]}
    dataset = ShapeNetPartDataset(write_shapenet_part(tmp_path / "data", shapes), num_points=16)
    assert dataset.categories == ["Airplane", "Mug"]
    assert dataset.category_parts == [SHAPENET_PART_IDS["Airplane"], SHAPENET_PART_IDS["Mug"]]
    assert dataset.num_parts == len(dataset.classes) == 38 and dataset.classes[36] == "Mug/36"
    (points, category), parts = dataset[1]
    assert points.shape == (16, 3) and points.dtype == torch.float32 and points.norm(dim=1).max() <= 1 + 1e-6
    assert category.item() == 1 and parts.dtype == torch.int64 and set(parts.tolist()) == {36, 37}
    (again, _), same = dataset[1]
    assert torch.equal(again, points) and torch.equal(same, parts)  # the same resampling each time
    (with_normals, _), _ = ShapeNetPartDataset(tmp_path / "data", num_points=16, normals=True, augment=True)[0]
    assert with_normals.shape == (16, 6)


def test_a_part_of_another_category_names_the_file(tmp_path):
    shapes = {("02691156", "plane"): [0, 1, 36]}
    dataset = ShapeNetPartDataset(write_shapenet_part(tmp_path / "data", shapes), num_points=8)
    with pytest.raises(
        DataFileError,
        match=r"plane\.txt.*part id\(s\) \[36\] outside the parts \[0, 1, 2, 3\] of its category Airplane",
    ):
        dataset[0]


def test_other_categories_need_their_part_ids(tmp_path):
    shapes = {("00000001", "thing"): [0, 1]}
    root = write_shapenet_part(tmp_path / "data", shapes, categories=(("Thing", "00000001"),))
    with pytest.raises(ValueError, match=r"gives no part ids for the categories \['Thing'\].*category_parts\.json"):
        ShapeNetPartDataset(root)
    assert ShapeNetPartDataset(root, category_parts={"Thing": [0, 1]}).category_parts == [[0, 1]]
    (root / "category_parts.json").write_text(json.dumps({"Thing": [0, 1, 2]}))
    assert ShapeNetPartDataset(root).category_parts == [[0, 1, 2]]


def test_malformed_files_are_named(tmp_path):
    root = write_shapenet_part(tmp_path / "data", {("02691156", "plane"): [0, 1]})
    (root / "02691156" / "plane.txt").write_text("0 0 0 1\n")
    with pytest.raises(DataFileError, match=r"plane\.txt.*has 4 columns, expected 7"):
        ShapeNetPartDataset(root)[0]
    (root / "train_test_split" / "shuffled_train_file_list.json").write_text('["shape_data/12345678/x"]')
    with pytest.raises(DataFileError, match="shuffled_train_file_list.json.*synset 12345678"):
        ShapeNetPartDataset(root)
    with pytest.raises(DataFileError, match="shuffled_test_file_list.json.*no such file"):
        ShapeNetPartDataset(root, "test")


def test_tiny_part_shapes_builtin(cache):
    info = next(info for info in list_datasets() if info.name == "part_shapes")
    assert info.task == "part_segmentation" and info.modality == "point"
    train, val = (build_dataset("part_shapes", split, size="tiny", root=cache) for split in ("train", "val"))
    assert len(train) == 42 and len(val) == 14 and len(train.classes) == info.num_classes == 24
    assert all(2 <= len(parts) <= 6 for parts in train.category_parts)
    assert not {path.name for path, _ in train.samples} & {path.name for path, _ in val.samples}
    for index in (0, len(train) - 1):
        (points, category), parts = train[index]
        assert points.shape == (512, 3) and set(parts.tolist()) == set(train.category_parts[category])
    (points, _), parts = build_dataset("part_shapes", size="tiny", root=cache, num_points=64, normals=True)[0]
    assert points.shape == (64, 6) and parts.shape == (64,)
