"""Real files to model input for M2PT, the way the reference pretraining code does it, and built-in datasets.

Items are `(x, label)` with float32 `x`: image `[C, H, W]`, audio `[1, T, F]`, video `[C, T, H, W]`,
point `[P, 3 + c]`. Built-in datasets are built at first use into `$M2PT_CACHE` (or `~/.cache/m2pt`):

    import data_tools
    print(data_tools.list_datasets())
    train = data_tools.build_dataset("spoken_digits", "train")  # [1, 128, 128] items, 10 classes
    loader = data_tools.make_loader(train, 32, seed=0, num_workers=1)
    own = data_tools.build_dataset("folder", modality="image", root="my_images", image_size=32)
    k400 = data_tools.build_dataset("kinetics_list", "val", root="k400_lists", data_root="k400_videos")
"""

from data_tools import builtin, layouts  # noqa: F401  (register the built-in datasets and upstream layouts)
from data_tools.audio import AudioReader, audio_stats, fbank, load_audio, normalize, pad_or_crop, spec_augment
from data_tools.audio_list import AudioListDataset, read_class_index
from data_tools.cache import cache_root
from data_tools.dataset import SampleDataset
from data_tools.errors import DataFileError, MissingToolError
from data_tools.folder import READERS, FolderDataset, folder_dataset
from data_tools.images import ImageReader, image_stats, load_image
from data_tools.loader import make_loader
from data_tools.points import PointReader, augment_points, load_points, normalize_points, resample
from data_tools.registry import DatasetInfo, LayoutInfo, build_dataset, dataset_dir, dataset_version, list_datasets
from data_tools.segmentation_folder import SegmentationFolder, load_mask
from data_tools.shapenet_part import SHAPENET_PART_IDS, ShapeNetPartDataset
from data_tools.video import ClipReader, available_backends, load_clip, normalize_clip, write_video

__all__ = [
    "SHAPENET_PART_IDS",
    "AudioListDataset",
    "AudioReader",
    "ClipReader",
    "DataFileError",
    "DatasetInfo",
    "FolderDataset",
    "LayoutInfo",
    "ImageReader",
    "MissingToolError",
    "PointReader",
    "READERS",
    "SampleDataset",
    "SegmentationFolder",
    "ShapeNetPartDataset",
    "audio_stats",
    "augment_points",
    "available_backends",
    "build_dataset",
    "cache_root",
    "dataset_dir",
    "dataset_version",
    "fbank",
    "folder_dataset",
    "image_stats",
    "list_datasets",
    "load_audio",
    "load_clip",
    "load_image",
    "load_mask",
    "load_points",
    "make_loader",
    "normalize",
    "normalize_clip",
    "normalize_points",
    "pad_or_crop",
    "read_class_index",
    "resample",
    "spec_augment",
    "write_video",
]
