import numpy as np
import pytest
import torch
from PIL import Image

from data_tools import DataFileError, SegmentationFolder, build_dataset, list_datasets


def write_pair(root, name, image_size=(20, 30), mask_size=None, split="training", labels=(0, 1, 2)):
    """An RGB image and a mask (stripes of ``labels``) in ADE20K's layout; sizes are (height, width)."""
    height, width = mask_size or image_size
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "annotations" / split).mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*image_size, 3), 128, np.uint8)).save(root / "images" / split / f"{name}.jpg")
    mask = np.array(labels, np.uint8)[np.arange(width) * len(labels) // width][None].repeat(height, 0)
    Image.fromarray(mask).save(root / "annotations" / split / f"{name}.png")


def test_reads_image_mask_pairs(tmp_path):
    write_pair(tmp_path, "ADE_train_0001")
    (tmp_path / "classes.txt").write_text("wall\nfloor\nsky\n")
    dataset = SegmentationFolder(tmp_path, image_size=None)
    image, mask = dataset[0]
    assert dataset.classes == ["wall", "floor", "sky"]
    assert image.shape == (3, 20, 30) and mask.shape == (20, 30) and mask.dtype == torch.int64
    assert mask[0].tolist() == [0] * 10 + [1] * 10 + [2] * 10
    image, mask = SegmentationFolder(tmp_path, image_size=15)[0]
    assert image.shape == (3, 15, 15) and set(mask.unique().tolist()) == {0, 1, 2}  # nearest: no new labels
    image, mask = SegmentationFolder(tmp_path, image_size=16, augment=True)[0]
    assert image.shape == (3, 16, 16) and set(mask.unique().tolist()) <= {0, 1, 2}


def test_ade20k_zero_label_is_ignored(tmp_path):
    write_pair(tmp_path, "a", labels=(0, 1, 2))
    dataset = SegmentationFolder(tmp_path, classes=["first", "second"], image_size=None, reduce_zero_label=True)
    assert dataset[0][1][0].unique().tolist() == [0, 1, 255]


def test_a_mask_of_another_size_names_the_mask(tmp_path):
    write_pair(tmp_path, "a", image_size=(20, 30), mask_size=(20, 31))
    dataset = SegmentationFolder(tmp_path, classes=["a", "b", "c"])
    with pytest.raises(
        DataFileError, match=r"annotations/training/a\.png.*mask is 31x20 but its image a\.jpg is 30x20"
    ):
        dataset[0]


def test_bad_labels_and_missing_masks_are_named(tmp_path):
    write_pair(tmp_path, "a", labels=(0, 5))
    with pytest.raises(DataFileError, match=r"a\.png.*label\(s\) \[5\] outside the 3 classes"):
        SegmentationFolder(tmp_path, classes=["x", "y", "z"])[0]
    (tmp_path / "images" / "training" / "b.jpg").write_bytes((tmp_path / "images" / "training" / "a.jpg").read_bytes())
    with pytest.raises(DataFileError, match=r"b\.jpg.*has no mask"):
        SegmentationFolder(tmp_path, classes=["x", "y", "z"])
    with pytest.raises(FileNotFoundError, match="classes.txt"):
        SegmentationFolder(tmp_path)


def test_tiny_digit_scenes_builtin(cache):
    info = next(info for info in list_datasets() if info.name == "digit_scenes")
    assert info.task == "semantic_segmentation" and info.modality == "image" and info.num_classes == 11
    train, val = (build_dataset("digit_scenes", split, size="tiny", root=cache) for split in ("train", "val"))
    assert len(train) == 40 and len(val) == 10 and train.classes[0] == "background"
    image, mask = train[0]
    assert image.shape == (1, 56, 56) and mask.shape == (56, 56)
    digits = set(mask.unique().tolist()) - {0}
    assert 1 <= len(digits) <= 3 and max(digits) <= 10
    assert image[0][mask > 0].mean() > image[0][mask == 0].mean() + 1  # digit pixels are the bright ones
