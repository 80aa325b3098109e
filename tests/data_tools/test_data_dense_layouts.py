"""The users' own ShapeNetPart and ADE20K-layout folders open by name, and say which task they are for."""

import torch

from data_tools import build_dataset
from m2pt.train.config import FinetuneRun, apply_overrides
from m2pt.train.run_task import task_name
from tests.data_tools.test_data_segmentation_folder import write_pair
from tests.data_tools.test_data_shapenet_part import write_shapenet_part


def test_shapenet_part_and_ade20k_open_through_build_dataset(tmp_path):
    root = write_shapenet_part(tmp_path / "parts", {("02691156", "plane"): [0, 1, 2, 3]})
    (points, category), parts = build_dataset("shapenet_part", "train", root=root, num_points=8)[0]
    assert points.shape == (8, 3) and category.item() == 0 and parts.dtype == torch.int64
    write_pair(tmp_path / "ade", "ADE_train_0001")
    (tmp_path / "ade" / "classes.txt").write_text("wall\nfloor\nsky\n")
    image, mask = build_dataset("ade20k", "train", root=tmp_path / "ade", image_size=16)[0]
    assert image.shape == (3, 16, 16) and mask.shape == (16, 16)


def test_a_layouts_task_is_the_runs_default():
    tasks = {name: task_name(apply_overrides(FinetuneRun(), {"data.dataset": name}))
             for name in ("shapenet_part", "ade20k", "audioset_list", "scanobjectnn", "mnist", "part_shapes")}  # fmt: skip
    assert tasks == {"shapenet_part": "part_segmentation", "ade20k": "semantic_segmentation",
                     "audioset_list": "multilabel", "scanobjectnn": "classification", "mnist": "classification",
                     "part_shapes": "part_segmentation"}  # fmt: skip
    assert task_name(apply_overrides(FinetuneRun(), {"task.name": "multilabel"})) == "multilabel"
