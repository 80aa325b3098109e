import shutil

import numpy as np
import pytest
import torch
from conftest import write_sine
from PIL import Image

from data_tools import DataFileError, build_dataset, folder_dataset
from data_tools.folder import hashed_split


def image_folder(root, classes=("cat", "dog", "eel"), per_class=20):
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8), 10 * k + i, np.uint8)).save(root / name / f"{i:02d}.png")
    (root / classes[0] / "notes.txt").write_text("not an image: ignored")
    return root


def paths(dataset):
    return [path.relative_to(dataset.root).as_posix() for path, _ in dataset.samples]


def test_hashed_split_is_deterministic_disjoint_and_complete(tmp_path):
    root = image_folder(tmp_path / "data")
    train, val = (folder_dataset(root, "image", split, image_size=8, channels=1) for split in ("train", "val"))
    assert train.classes == ["cat", "dog", "eel"] and train.modality == "image"
    assert paths(train) == paths(folder_dataset(root, "image", "train", image_size=8, channels=1))
    assert not set(paths(train)) & set(paths(val))
    assert sorted(paths(train) + paths(val)) == sorted(f"{c}/{i:02d}.png" for c in train.classes for i in range(20))
    assert [label for _, label in val.samples] == [0] * 4 + [1] * 4 + [2] * 4  # a fifth of every class


def test_split_depends_only_on_relative_paths_and_seed(tmp_path):
    first = image_folder(tmp_path / "first")
    second = tmp_path / "elsewhere" / "second"
    shutil.copytree(first, second)
    assert paths(folder_dataset(first, "image", "val")) == paths(folder_dataset(second, "image", "val"))
    assert paths(folder_dataset(first, "image", "val")) != paths(folder_dataset(first, "image", "val", seed=1))
    names = [f"c/{i}.wav" for i in range(10)]
    assert hashed_split(names, "val", 0.3, seed=0) == hashed_split(list(reversed(names)), "val", 0.3, seed=0)


def test_split_folders_are_used_as_given(tmp_path):
    image_folder(tmp_path / "data" / "train", classes=("a", "b"), per_class=3)
    image_folder(tmp_path / "data" / "val", classes=("b", "c"), per_class=2)
    train = folder_dataset(tmp_path / "data", "image", "train", image_size=8)
    val = folder_dataset(tmp_path / "data", "image", "val", image_size=8)
    assert train.classes == val.classes == ["a", "b", "c"]
    assert len(train) == 6 and len(val) == 4
    assert sorted({label for _, label in val.samples}) == [1, 2]


def test_items_are_tensors_and_int_labels(tmp_path):
    for name in ("low", "high"):
        for i in range(5):
            write_sine(tmp_path / name / f"{i}.wav", hz=300 if name == "low" else 3000, seconds=0.3)
    dataset = build_dataset("folder", modality="audio", root=tmp_path, target_length=64, num_mel_bins=32)
    x, label = dataset[0]
    assert x.shape == (1, 64, 32) and x.dtype == torch.float32 and isinstance(label, int)


def test_skip_mode_reports_bad_files_and_raise_mode_names_them(tmp_path):
    root = image_folder(tmp_path / "data", per_class=5)
    bad = root / "dog" / "03.png"
    bad.write_bytes(b"\x89PNG broken")
    (root / "eel" / "00.png").write_bytes(b"")
    strict = folder_dataset(root, "image", "train", val_fraction=0.0)
    with pytest.raises(DataFileError, match="dog/03.png"):
        [strict[i] for i in range(len(strict))]
    lenient = folder_dataset(root, "image", "train", val_fraction=0.0, on_error="skip")
    with pytest.warns(UserWarning, match="skipping"):
        items = [lenient[i] for i in range(len(lenient))]
    assert len(items) == 15
    assert sorted(path.name for path, _ in lenient.skipped) == ["00.png", "03.png"]
    assert dict(lenient.skipped)[root / "eel" / "00.png"] == "file is empty"


def test_clear_errors_for_wrong_folders_and_options(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        folder_dataset(tmp_path / "nowhere", "image")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no point files"):
        folder_dataset(tmp_path / "empty", "point")
    with pytest.raises(ValueError, match="unknown modality 'text'"):
        folder_dataset(tmp_path, "text")
    with pytest.raises(ValueError, match="needs root="):
        build_dataset("folder", modality="image")


def test_scan_finds_and_drops_every_bad_file_up_front(tmp_path):
    root = image_folder(tmp_path / "data", per_class=5)
    (root / "dog" / "03.png").write_bytes(b"\x89PNG broken")
    dataset = folder_dataset(root, "image", "train", val_fraction=0.0)
    bad = dataset.scan()
    assert [path.name for path, _ in bad] == ["03.png"] and "UnidentifiedImageError" in bad[0][1]
    assert len(dataset) == 14 and dataset.skipped == bad
    assert [dataset[i][1] for i in range(len(dataset))] == [0] * 5 + [1] * 4 + [2] * 5
