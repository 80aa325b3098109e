"""Image + mask PNG pairs in ADE20K's layout, for semantic segmentation.

    root/images/training/<name>.jpg       root/annotations/training/<name>.png
    root/images/validation/<name>.jpg     root/annotations/validation/<name>.png
    root/classes.txt                      (optional: one class name per line, class 0 first)

A mask is a single-channel PNG of class ids, the size of its image. ADE20K itself stores 0 for
"other" and 1..150 for its classes: ``reduce_zero_label=True`` makes 0 ignored (255) and shifts
the rest down, as mmsegmentation does for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as TF

from data_tools.errors import DataFileError, check_file, reading
from data_tools.folder import Split
from data_tools.images import IMAGE_EXTENSIONS, channel_stats, load_image

SPLIT_FOLDERS = {"train": "training", "val": "validation"}
IGNORE_INDEX = 255


def load_mask(path: str | Path) -> Tensor:
    """A single-channel PNG of class ids as int64 ``[H,W]``."""
    path = check_file(path, (".png",))
    with reading(path), Image.open(path) as image:
        if image.mode not in ("L", "P", "I", "I;16"):
            raise DataFileError(path, f"a mask must be a single-channel PNG of class ids, this one is {image.mode}")
        return torch.from_numpy(np.asarray(image).astype(np.int64))


def read_classes(root: Path) -> list[str]:
    path = root / "classes.txt"
    if not path.is_file():
        raise FileNotFoundError(f"'{path}' not found: pass classes=[...] (class 0 first) or write that file")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


class SegmentationFolder(Dataset):
    """Items ``(image [C,S,S] float, mask [S,S] int64)`` from an ADE20K-layout folder.

    ``image_size`` resizes both to ``S x S`` (None keeps the size; a batch then needs equal
    sizes); ``augment`` takes one random resized crop (scale 0.5-1) and a random horizontal flip
    of both. ``classes`` names the classes (else ``root/classes.txt``). Pixels labelled
    ``ignore_index`` are unlabelled; any other label outside the classes is an error naming the mask.
    """

    def __init__(
        self,
        root: str | Path,
        split: Split = "train",
        *,
        classes: Sequence[str] | None = None,
        image_size: int | None = 512,
        channels: int = 3,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        augment: bool = False,
        reduce_zero_label: bool = False,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        if split not in SPLIT_FOLDERS:
            raise ValueError(f"split must be one of {sorted(SPLIT_FOLDERS)}, not {split!r}")
        self.root = Path(root)
        self.classes = list(classes) if classes is not None else read_classes(self.root)
        self.image_size, self.channels, self.augment = image_size, channels, augment
        self.mean, self.std = channel_stats(mean, std, channels)
        self.reduce_zero_label, self.ignore_index = reduce_zero_label, ignore_index
        images = self.root / "images" / SPLIT_FOLDERS[split]
        masks = self.root / "annotations" / SPLIT_FOLDERS[split]
        if not images.is_dir():
            raise FileNotFoundError(f"no image folder '{images}' (ADE20K layout: images/{{training,validation}})")
        self.samples: list[tuple[Path, Path]] = []
        for image in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
            mask = masks / f"{image.stem}.png"
            if not mask.is_file():
                raise DataFileError(image, f"has no mask {mask}")
            self.samples.append((image, mask))
        if not self.samples:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in '{images}'")

    def __len__(self) -> int:
        return len(self.samples)

    def labels(self, mask_path: Path, mask: Tensor) -> Tensor:
        """Class ids checked against the classes, ADE20K's zero label reduced if asked."""
        if self.reduce_zero_label:
            mask = torch.where(mask == 0, self.ignore_index, mask - 1)
        bad = (mask != self.ignore_index) & ((mask < 0) | (mask >= len(self.classes)))
        if bad.any():
            found = sorted(set(mask[bad].tolist()))[:5]
            raise DataFileError(
                mask_path,
                f"has label(s) {found} outside the {len(self.classes)} classes (ignore_index {self.ignore_index})",
            )
        return mask

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image_path, mask_path = self.samples[index]
        image, mask = load_image(image_path, self.channels), load_mask(mask_path)
        if mask.shape != image.shape[1:]:
            raise DataFileError(
                mask_path, f"mask is {mask.shape[1]}x{mask.shape[0]} but its image {image_path.name} is "
                f"{image.shape[2]}x{image.shape[1]} (width x height)"
            )  # fmt: skip
        image, mask = tv_tensors.Image(image), tv_tensors.Mask(self.labels(mask_path, mask))
        size = list(image.shape[1:]) if self.image_size is None else [self.image_size] * 2
        if self.augment:
            image, mask = T.RandomResizedCrop(size, scale=(0.5, 1.0), antialias=True)(image, mask)
            image, mask = T.RandomHorizontalFlip()(image, mask)
        elif self.image_size is not None:
            image, mask = TF.resize(image, size, antialias=True), TF.resize(mask, size)
        pixels = TF.normalize(image.as_subclass(Tensor).float() / 255, self.mean, self.std)
        return pixels, mask.as_subclass(Tensor)
