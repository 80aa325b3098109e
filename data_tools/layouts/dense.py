"""The upstream layouts of the paper's dense and multi-label tasks, read by the readers of
:mod:`data_tools.shapenet_part`, :mod:`data_tools.segmentation_folder` and :mod:`data_tools.audio_list`."""

from pathlib import Path
from typing import Any

from data_tools.audio_list import AudioListDataset
from data_tools.registry import register_layout
from data_tools.segmentation_folder import SegmentationFolder
from data_tools.shapenet_part import ShapeNetPartDataset


@register_layout(
    "shapenet_part",
    modality="point",
    task="part_segmentation",
    description="ShapeNetPart: one .txt per cloud (x y z nx ny nz part), category folders, official splits",
    layout="synsetoffset2category.txt, <synset>/<id>.txt, train_test_split/shuffled_{train,val,test}_file_list.json",
    options="num_points (default 2048), normals",
)
def shapenet_part(root: Path, split: str = "train", **options: Any) -> ShapeNetPartDataset:
    return ShapeNetPartDataset(root, split, **options)


@register_layout(
    "ade20k",
    modality="image",
    task="semantic_segmentation",
    description="image + mask PNG pairs in ADE20K's layout",
    layout="images/{training,validation}/*.jpg and annotations/{training,validation}/*.png",
    options="image_size (default 512), classes",
)
def ade20k(root: Path, split: str = "train", **options: Any) -> SegmentationFolder:
    return SegmentationFolder(root, split, **options)


@register_layout(
    "audioset_list",
    modality="audio",
    task="multilabel",
    description="AudioMAE's JSON lists of clips and label mids, with AudioSet's class-index CSV",
    layout='train.json / val.json ({"data": [{"wav": ..., "labels": "/m/..,/m/.."}]}), class_labels_indices.csv',
    options="train_list, val_list, class_index (file names under root), the audio reader's options",
)
def audioset_list(
    root: Path,
    split: str = "train",
    *,
    train_list: str = "train.json",
    val_list: str = "val.json",
    class_index: str = "class_labels_indices.csv",
    **options: Any,
) -> AudioListDataset:
    return AudioListDataset(root / (train_list if split == "train" else val_list), root / class_index, **options)
