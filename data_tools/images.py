"""Image files to normalised tensors `[C, H, W]`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as TF

from data_tools.errors import check_file, reading

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_image(path: str | Path, channels: int = 3) -> Tensor:
    """Decode an image file to uint8 `[channels, H, W]` (`channels` 1 for grey, 3 for RGB)."""
    return TF.pil_to_tensor(load_pil(path, channels))


def load_pil(path: str | Path, channels: int = 3) -> Image.Image:
    """Decode an image file to a PIL image in mode "L" (`channels` 1) or "RGB" (3)."""
    path = check_file(path, IMAGE_EXTENSIONS)
    with reading(path), Image.open(path) as image:
        return image.convert("L" if channels == 1 else "RGB")


def channel_stats(
    mean: Iterable[float] | None, std: Iterable[float] | None, channels: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """`mean`/`std` per channel, ImageNet's (averaged for grey) when None."""
    mean = tuple(mean) if mean is not None else IMAGENET_MEAN
    std = tuple(std) if std is not None else IMAGENET_STD
    if channels == 1 and len(mean) == 3:
        mean, std = (sum(mean) / 3,), (sum(std) / 3,)
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean {mean} and std {std} need one value for each of {channels} channels")
    return mean, std


def image_stats(paths: Iterable[str | Path], channels: int = 3) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of pixel values in [0, 1] over the files."""
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    count = 0
    for path in paths:
        pixels = load_image(path, channels).flatten(1).double() / 255
        total += pixels.sum(1)
        total_sq += pixels.square().sum(1)
        count += pixels.shape[1]
    mean = total / count
    return mean.tolist(), (total_sq / count - mean.square()).sqrt().tolist()


@dataclass
class ImageReader:
    """An image file to normalised float32 `[channels, image_size, image_size]`.

    `image_size` resizes the short side and centre-crops (None keeps the size); `augment` takes a
    random resized crop (scale 0.6-1) instead. `mean`/`std` default to ImageNet's.

    `transform` (settings of `timm.data.create_transform`, e.g. MAE's fine-tuning recipe
    `{auto_augment: rand-m9-mstd0.5-inc1, re_prob: 0.25, re_mode: pixel, interpolation: bicubic,
    crop_pct: 0.875}`) replaces both: timm's training transform when `augment`, its evaluation
    transform (resize to `image_size / crop_pct`, centre crop) otherwise. It needs `image_size`.
    """

    modality: ClassVar[str] = "image"
    extensions: ClassVar[tuple[str, ...]] = IMAGE_EXTENSIONS

    image_size: int | None = 224
    channels: int = 3
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    augment: bool = False
    transform: dict[str, Any] | None = None
    _timm: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.mean, self.std = channel_stats(self.mean, self.std, self.channels)
        if self.transform is not None:
            if self.image_size is None:
                raise ValueError("the image reader's transform (timm's create_transform) needs image_size")
            from timm.data import create_transform

            try:
                self._timm = create_transform(
                    self.image_size, is_training=self.augment, mean=self.mean, std=self.std, **self.transform
                )
            except (TypeError, ValueError, AssertionError) as error:
                raise ValueError(f"image reader transform {self.transform}: {error}") from None

    def __call__(self, path: str | Path) -> Tensor:
        if self._timm is not None:
            image = load_pil(path, self.channels)
            with reading(path):
                return self._timm(image)
        image = load_image(path, self.channels)
        with reading(path):
            size = list(image.shape[1:]) if self.image_size is None else [self.image_size] * 2
            if self.augment:
                image = T.RandomResizedCrop(size, scale=(0.6, 1.0), antialias=True)(image)
            elif self.image_size is not None:
                image = TF.center_crop(TF.resize(image, self.image_size, antialias=True), size)
            return TF.normalize(image.float() / 255, self.mean, self.std)
