"""Small real files for the data_tools tests, written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from data_tools.video import write_video


def sine(seconds: float, rate: int, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write_sine(path: Path, rate: int = 16000, channels: int = 1, seconds: float = 1.0, hz: float = 440.0) -> Path:
    """A sine in the first channel, silence in the others."""
    data = np.zeros((int(seconds * rate), channels), np.float32)
    data[:, 0] = sine(seconds, rate, hz)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, data, rate)
    return path


def counting_frames(count: int, height: int = 48, width: int = 64) -> np.ndarray:
    """uint8 `[count, H, W, 3]`: frame t is a flat grey of level 4 * t, so its number can be read back."""
    levels = (4 * np.arange(count)).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (count, height, width, 3)).copy()


def frame_numbers(clip) -> list[int]:
    """The frame numbers of a uint8 clip `[3, T, H, W]` of `counting_frames`."""
    return [round(level / 4) for level in clip.float().mean(dim=(0, 2, 3)).tolist()]


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict[str, Path]:
    """A 60-frame H.264 mp4 (30 fps) and a 60-frame MPEG-4 avi (25 fps) of `counting_frames`."""
    folder = tmp_path_factory.mktemp("videos")
    write_video(folder / "count.mp4", counting_frames(60), fps=30)
    write_video(folder / "count.avi", counting_frames(60), fps=25, codec="mpeg4", bit_rate=2_000_000)
    return {"mp4": folder / "count.mp4", "avi": folder / "count.avi"}


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    """One cache root for the built-in datasets of this test session."""
    return tmp_path_factory.mktemp("cache")
