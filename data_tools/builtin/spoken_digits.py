"""Spoken digits: "zero".."nine" synthesized by espeak-ng (accents x voice variants) and flite voices.

Each speaker (a voice with its own speed and pitch) says every digit once; train and val have
different speakers. Clips are 16 kHz mono wav, silence-trimmed, with a random gain and a short random
lead-in so that a clip of about one second holds the word.
"""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
import torchaudio
from tqdm import tqdm

from data_tools.audio import audio_stats
from data_tools.cache import require_tool
from data_tools.folder import hashed_split
from data_tools.registry import register

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ESPEAK_ACCENTS = [
    "en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd",
    "en-029", "en-us-nyc",
]  # fmt: skip
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]
FLITE_TAKES = 4  # speeds and pitches per flite voice
SPEAKERS = {"tiny": 8, "default": 320}
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Speaker:
    engine: str  # "espeak-ng" or "flite"
    voice: str  # "en-us+f3" or "slt"
    take: int
    speed: float  # relative to the engine's default
    pitch: float  # 0 (low) to 1 (high)

    @property
    def name(self) -> str:
        return f"{self.engine}_{self.voice}_{self.take}"

    def command(self, word: str, out: Path) -> list[str]:
        if self.engine == "espeak-ng":
            speed, pitch = round(175 * self.speed), round(20 + 60 * self.pitch)
            return ["espeak-ng", "-v", self.voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), word]
        stretch, f0 = 1 / self.speed, round(90 + 110 * self.pitch)
        return [
            "flite", "-voice", self.voice, "--setf", f"duration_stretch={stretch:.3f}",
            "--setf", f"int_f0_target_mean={f0}", "-t", word, "-o", str(out),
        ]  # fmt: skip


def espeak_variants() -> list[str]:
    """The voice variants installed with espeak-ng ("f3", "Storm", ...)."""
    listing = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True)
    return sorted(line.split()[4].removeprefix("!v/") for line in listing.stdout.splitlines()[1:])


def speakers(count: int) -> list[Speaker]:
    """`count` speakers drawn (seed 0) from every espeak-ng accent x variant and flite voice x take."""
    rng = random.Random(0)
    voices = [("espeak-ng", f"{accent}+{variant}", 0) for accent in ESPEAK_ACCENTS for variant in espeak_variants()]
    voices += [("flite", voice, take) for voice in FLITE_VOICES for take in range(FLITE_TAKES)]
    everyone = [Speaker(*voice, speed=rng.uniform(0.75, 1.3), pitch=rng.random()) for voice in voices]
    return rng.sample(everyone, count)


def clean(wave: np.ndarray, rate: int, rng: random.Random) -> np.ndarray:
    """Mono float `[N]` to 16 kHz, trimmed of silence, random peak 0.3-0.9, random 0-0.15 s lead-in."""
    wave = torchaudio.functional.resample(torch.from_numpy(wave), rate, SAMPLE_RATE).numpy()
    loud = np.flatnonzero(np.abs(wave) > 0.02 * np.abs(wave).max())
    wave = wave[loud[0] : loud[-1] + 1] / np.abs(wave).max() * rng.uniform(0.3, 0.9)
    return np.concatenate([np.zeros(int(rng.uniform(0, 0.15) * SAMPLE_RATE), np.float32), wave])


def say(speaker: Speaker, word: str, out: Path) -> None:
    """Synthesize `word` with `speaker` into the 16 kHz wav `out`."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(speaker.command(word, raw), check=True, capture_output=True)
        wave, rate = soundfile.read(raw, dtype="float32", always_2d=True)
    rng = random.Random(f"{speaker.name}/{word}")
    soundfile.write(out, clean(wave.mean(axis=1), rate, rng), SAMPLE_RATE, subtype="PCM_16")


@register(
    "spoken_digits",
    modality="audio",
    num_classes=10,
    description="spoken digits by 320 synthetic speakers (espeak-ng, flite), 1 s at 16 kHz "
    "(~2,560 train / 640 val clips, speakers disjoint; tiny 8 speakers)",
    needs="apt packages espeak-ng and flite",
    defaults={"target_length": 128, "num_mel_bins": 128},
)
def build(dest: Path, size: str, cache: Path) -> dict[str, Any]:
    require_tool("espeak-ng")
    chosen = speakers(SPEAKERS[size])
    if any(speaker.engine == "flite" for speaker in chosen):
        require_tool("flite")
    groups = sorted({f"{s.engine}:{s.voice}" for s in chosen})
    val_groups = set(hashed_split(groups, "val", 0.2, seed=0))
    jobs = []
    for speaker in chosen:
        split = "val" if f"{speaker.engine}:{speaker.voice}" in val_groups else "train"
        for digit, word in enumerate(WORDS):
            folder = dest / split / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            jobs.append((speaker, word, folder / f"{speaker.name}.wav"))
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        runs = pool.map(lambda job: say(*job), jobs)
        list(tqdm(runs, total=len(jobs), desc="spoken_digits", unit="clip"))
    mean, std = audio_stats(sorted((dest / "train").rglob("*.wav")))
    return {"mean": mean, "std": std}
