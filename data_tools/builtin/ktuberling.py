"""KTuberling: 1,700 real one-word human recordings from the game's Debian data package, by language.

The 13 languages with at least 50 recordings (71 to 210 each) are the classes. Each language was
recorded in one session (and format), so recording conditions are part of what tells the classes apart.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import soundfile
from tqdm import tqdm

from data_tools.audio import audio_stats, load_audio
from data_tools.cache import apt_deb
from data_tools.folder import hashed_split
from data_tools.registry import register

MIN_CLIPS = 50
PER_CLASS = {"tiny": 10, "default": None}  # None: all
SOUNDS = "usr/share/ktuberling/sounds"


@register(
    "ktuberling",
    modality="audio",
    num_classes=13,
    description="real recordings of single words in 13 languages, 16 kHz (1,375 train / 341 val; "
    "tiny 104 / 26); the classes are the languages",
    needs="apt-get (downloads the 47 MB package ktuberling-data into the cache, no install)",
    defaults={"target_length": 256, "num_mel_bins": 128},
)
def build(dest: Path, size: str, cache: Path) -> dict[str, Any]:
    deb = apt_deb("ktuberling-data", cache)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        folders = [folder for folder in sorted((Path(tmp) / SOUNDS).iterdir()) if folder.is_dir()]
        jobs = []
        for folder in folders:
            files = sorted(file.name for file in folder.iterdir() if file.suffix in (".ogg", ".wav", ".opus"))
            if len(files) < MIN_CLIPS:
                continue
            files = files[: PER_CLASS[size]]
            val = set(hashed_split(files, "val", 0.2, seed=0))
            for name in files:
                out = dest / ("val" if name in val else "train") / folder.name / f"{Path(name).stem}.wav"
                jobs.append((folder / name, out))
        for source, out in tqdm(jobs, desc="ktuberling", unit="clip"):
            out.parent.mkdir(parents=True, exist_ok=True)
            waveform, rate = load_audio(source)
            soundfile.write(out, waveform[0].numpy(), rate, subtype="PCM_16")
    mean, std = audio_stats(sorted((dest / "train").rglob("*.wav")))
    return {"mean": mean, "std": std}
