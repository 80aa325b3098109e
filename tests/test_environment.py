"""The set-up's promises: every field package imports, and the CPU-wheel compatibility holds."""

import importlib

import pytest
import torch


@pytest.mark.parametrize("module", ["timm", "torchvision", "torchaudio", "open3d", "decord", "av", "safetensors"])
def test_package_imports(module):
    importlib.import_module(module)


def test_torchaudio_kaldi_fbank_runs():
    import torchaudio

    wave = torch.sin(torch.arange(16000) * 2 * torch.pi * 440 / 16000)[None]
    features = torchaudio.compliance.kaldi.fbank(
        wave, htk_compat=True, sample_frequency=16000, use_energy=False, window_type="hanning",
        num_mel_bins=128, dither=0.0, frame_shift=10,
    )  # fmt: skip
    assert features.shape == (98, 128) and torch.isfinite(features).all()


def test_torchvision_transforms_run():
    from torchvision.transforms import v2

    image = torch.rand(3, 40, 40)
    assert v2.Resize(20, antialias=True)(image).shape == (3, 20, 20)
