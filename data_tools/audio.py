"""Audio files to AudioMAE-style log-mel spectrograms: fbank `[T, F]`, model input `[1, T, F]`.

The recipe is AudioMAE's: remove the waveform's mean, Kaldi-compatible 128-bin log-mel filterbanks
(Hanning window, 25 ms frames every 10 ms), pad or crop to `target_length` frames, then
`(fbank - mean) / (2 * std)` with the dataset's statistics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import soundfile
import torch
import torchaudio
from torch import Tensor

from data_tools.errors import DataFileError, check_file, reading

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3")
AUDIOSET_MEAN, AUDIOSET_STD = -4.2677393, 4.5689974
ESC50_MEAN, ESC50_STD = -6.6268077, 5.358466
SPEECH_COMMANDS_MEAN, SPEECH_COMMANDS_STD = -6.845978, 5.5654526
FRAME_LENGTH_MS = 25.0  # Kaldi's default window: a shorter waveform has no frame


def load_audio(path: str | Path, sample_rate: int | None = 16000, mono: bool = True) -> tuple[Tensor, int]:
    """Read a wav/flac/ogg/opus/mp3 file as float32 `[C, N]` (`[1, N]` if `mono`) at `sample_rate`.

    A file without samples or with NaN or infinite samples (float wav files can hold them) is a
    DataFileError naming it.
    """
    path = check_file(path, AUDIO_EXTENSIONS)
    with reading(path):
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
        if data.shape[0] == 0:
            raise DataFileError(path, "contains no samples")
        if not np.isfinite(data).all():
            raise DataFileError(path, f"NaN or infinite values in {(~np.isfinite(data)).sum()} samples")
        waveform = torch.from_numpy(data.T.copy())
        if mono:
            waveform = waveform.mean(dim=0, keepdim=True)
        if sample_rate is not None and rate != sample_rate:
            waveform = torchaudio.functional.resample(waveform, rate, sample_rate)
            rate = sample_rate
    return waveform, rate


def fbank(
    waveform: Tensor,
    sample_rate: int,
    *,
    num_mel_bins: int = 128,
    frame_shift: float = 10.0,
    resample_to: int | None = 16000,
) -> Tensor:
    """Kaldi log-mel filterbanks `[T, num_mel_bins]` of a waveform `[N]` or `[C, N]` (channels averaged)."""
    waveform = waveform.reshape(-1, waveform.shape[-1]).float().mean(dim=0, keepdim=True)
    if resample_to is not None and sample_rate != resample_to:
        waveform = torchaudio.functional.resample(waveform, sample_rate, resample_to)
        sample_rate = resample_to
    return torchaudio.compliance.kaldi.fbank(
        waveform - waveform.mean(),
        htk_compat=True,
        sample_frequency=sample_rate,
        use_energy=False,
        window_type="hanning",
        num_mel_bins=num_mel_bins,
        dither=0.0,
        frame_shift=frame_shift,
    )


def pad_or_crop(features: Tensor, target_length: int) -> Tensor:
    """Zero-pad or cut `[T, F]` at the end to `[target_length, F]`."""
    missing = target_length - features.shape[0]
    if missing > 0:
        return torch.nn.functional.pad(features, (0, 0, 0, missing))
    return features[:target_length]


def normalize(features: Tensor, mean: float = AUDIOSET_MEAN, std: float = AUDIOSET_STD) -> Tensor:
    """AudioMAE's normalisation `(x - mean) / (2 * std)`."""
    return (features - mean) / (2 * std)


def spec_augment(features: Tensor, freqm: int, timem: int) -> Tensor:
    """Mask one random band of up to `freqm` mel bins and one of up to `timem` frames of `[T, F]`."""
    x = features.T.unsqueeze(0)  # [1, F, T], the layout torchaudio's masks expect
    x = torchaudio.transforms.FrequencyMasking(min(freqm, x.shape[1]))(x)
    x = torchaudio.transforms.TimeMasking(min(timem, x.shape[2]))(x)
    return x[0].T


def audio_stats(paths: Iterable[str | Path], *, num_mel_bins: int = 128) -> tuple[float, float]:
    """Mean and standard deviation of the fbank values of the files, for `normalize` on a new dataset."""
    total, total_sq, count = 0.0, 0.0, 0
    for path in paths:
        values = fbank(*load_audio(path), num_mel_bins=num_mel_bins).double()
        total += values.sum().item()
        total_sq += values.square().sum().item()
        count += values.numel()
    if count == 0:
        raise ValueError("audio_stats needs at least one file with one full frame")
    mean = total / count
    return mean, (total_sq / count - mean**2) ** 0.5


@dataclass
class AudioReader:
    """An audio file to normalised `[1, target_length, num_mel_bins]`, SpecAugment when `augment`.

    `freqm`/`timem` default to AudioMAE's 48 of 128 bins and 192 of 1024 frames, scaled to the sizes.
    """

    modality: ClassVar[str] = "audio"
    extensions: ClassVar[tuple[str, ...]] = AUDIO_EXTENSIONS

    target_length: int = 1024
    num_mel_bins: int = 128
    sample_rate: int = 16000
    mean: float = AUDIOSET_MEAN
    std: float = AUDIOSET_STD
    augment: bool = False
    freqm: int | None = None
    timem: int | None = None

    def __call__(self, path: str | Path) -> Tensor:
        waveform, rate = load_audio(path, self.sample_rate)
        window = round(FRAME_LENGTH_MS * rate / 1000)
        if waveform.shape[1] < window:
            raise DataFileError(
                path, f"{waveform.shape[1]} samples at {rate} Hz, shorter than one {FRAME_LENGTH_MS:g} ms frame"
            )
        with reading(path):  # a decoder's or torchaudio's own assertion still names the file
            features = pad_or_crop(fbank(waveform, rate, num_mel_bins=self.num_mel_bins), self.target_length)
            if self.augment:
                freqm = self.freqm if self.freqm is not None else round(48 * self.num_mel_bins / 128)
                timem = self.timem if self.timem is not None else round(192 * self.target_length / 1024)
                features = spec_augment(features, freqm, timem)
            return normalize(features, self.mean, self.std).unsqueeze(0)
