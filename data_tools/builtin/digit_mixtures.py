"""Digit mixtures: 1-3 spoken digits said over each other, labelled with every digit in the mix.

The recordings are those of the built-in ``spoken_digits`` (built first if missing): a mixture
of ``spoken_digits``' train speakers is a train item, of its val speakers a val item. Each
source starts at a random time in the first 0.4 s of a 1.28 s clip (128 fbank frames), the sum
is scaled to a peak of at most 0.9. Written in AudioMAE's list format (see
:mod:`data_tools.audio_list`): ``train.json``, ``val.json``, ``class_labels_indices.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from tqdm import tqdm

from data_tools.audio import audio_stats
from data_tools.audio_list import AudioListDataset
from data_tools.builtin.spoken_digits import SAMPLE_RATE, WORDS
from data_tools.registry import dataset_dir, register

SECONDS = 1.28
MAX_START = 0.4  # seconds
MIXTURES = {"tiny": (40, 10), "default": (3000, 600)}  # (train, val)
MIDS = [f"/digit/{word}" for word in WORDS]


def mix(sources: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """The sources (mono float, 16 kHz) at random starts in one ``SECONDS`` clip, peak at most 0.9."""
    out = np.zeros(round(SECONDS * SAMPLE_RATE), np.float32)
    for wave in sources:
        start = int(rng.uniform(0, MAX_START) * SAMPLE_RATE)
        piece = wave[: len(out) - start]
        out[start : start + len(piece)] += piece
    peak = np.abs(out).max()
    return out * (0.9 / peak) if peak > 0.9 else out


def read_split(folder: Path) -> dict[int, list[np.ndarray]]:
    """The recordings of one spoken_digits split, by digit."""
    return {
        digit: [soundfile.read(path, dtype="float32")[0] for path in sorted((folder / str(digit)).glob("*.wav"))]
        for digit in range(len(WORDS))
    }


@register(
    "digit_mixtures",
    modality="audio",
    num_classes=len(WORDS),
    description="mixtures of 1-3 spoken digits (the spoken_digits recordings), multi-label, 1.28 s at 16 kHz, "
    "AudioMAE's JSON list format (3,000 train / 600 val; tiny 40 / 10)",
    needs="apt packages espeak-ng and flite (for spoken_digits)",
    defaults={"target_length": 128, "num_mel_bins": 128},
    task="multilabel",
    reader=lambda folder, split, **options: AudioListDataset(
        folder / f"{split}.json", folder / "class_labels_indices.csv", **options
    ),
)
def build(dest: Path, size: str, cache: Path) -> dict[str, Any]:
    speech = dataset_dir("spoken_digits", size, cache)
    rng = np.random.default_rng(0)
    rows = [f'{i},{mid},"{word}"' for i, (mid, word) in enumerate(zip(MIDS, WORDS))]
    (dest / "class_labels_indices.csv").write_text("index,mid,display_name\n" + "\n".join(rows) + "\n")
    for split, count in zip(("train", "val"), MIXTURES[size]):
        recordings = read_split(speech / split)
        (dest / "audio" / split).mkdir(parents=True)
        entries = []
        for i in tqdm(range(count), desc=f"digit_mixtures {split}", unit="clip"):
            digits = sorted(rng.choice(len(WORDS), int(rng.integers(1, 4)), replace=False).tolist())
            sources = [recordings[d][rng.integers(len(recordings[d]))] for d in digits]
            wav = f"audio/{split}/{i:05d}.wav"
            soundfile.write(dest / wav, mix(sources, rng), SAMPLE_RATE, subtype="PCM_16")
            entries.append({"wav": wav, "labels": ",".join(MIDS[d] for d in digits)})
        (dest / f"{split}.json").write_text(json.dumps({"data": entries}, indent=1))
    mean, std = audio_stats(sorted((dest / "audio" / "train").glob("*.wav")))
    return {"mean": mean, "std": std}
