import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from conftest import sine, write_sine

from data_tools import (
    DataFileError,
    audio_stats,
    fbank,
    folder_dataset,
    load_audio,
    normalize,
    pad_or_crop,
    spec_augment,
)
from data_tools.audio import AUDIOSET_MEAN, AUDIOSET_STD, AudioReader


def test_fbank_is_kaldi_fbank_with_audiomae_parameters():
    wave = torch.from_numpy(sine(1.0, 16000)).unsqueeze(0)
    expected = torchaudio.compliance.kaldi.fbank(
        wave - wave.mean(),
        htk_compat=True,
        sample_frequency=16000,
        use_energy=False,
        window_type="hanning",
        num_mel_bins=128,
        dither=0.0,
        frame_shift=10,
    )
    result = fbank(wave, 16000)
    assert result.shape == (98, 128)  # 1 + (16000 - 400) // 160 frames
    torch.testing.assert_close(result, expected)


def test_fbank_peaks_at_the_sine_frequency_whatever_the_input_rate():
    peaks = [fbank(torch.from_numpy(sine(1.0, rate, 1000.0)), rate).mean(0).argmax().item() for rate in (8000, 44100)]
    assert peaks[0] == peaks[1]


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_load_audio_resamples_and_downmixes(tmp_path, rate, channels, suffix):
    path = write_sine(tmp_path / f"a{suffix}", rate, channels, seconds=0.5)
    wave, out_rate = load_audio(path)
    assert out_rate == 16000 and wave.dtype == torch.float32
    assert wave.shape[0] == 1 and abs(wave.shape[1] - 8000) <= 1
    spectrum = torch.fft.rfft(wave[0]).abs()
    assert abs(spectrum.argmax().item() * 16000 / wave.shape[1] - 440) < 5
    peak = 0.5 / channels  # the sine is in one channel only
    assert abs(wave.abs().max().item() - peak) < 0.05


def test_load_audio_keeps_channels_when_asked(tmp_path):
    wave, rate = load_audio(write_sine(tmp_path / "s.wav", 44100, 2), sample_rate=None, mono=False)
    assert wave.shape == (2, 44100) and rate == 44100


def test_pad_or_crop():
    features = torch.randn(50, 8)
    padded = pad_or_crop(features, 64)
    assert padded.shape == (64, 8) and torch.equal(padded[:50], features) and not padded[50:].any()
    assert torch.equal(pad_or_crop(features, 20), features[:20])


def test_spec_augment_masks_bands_with_zeros():
    torch.manual_seed(0)
    masked = [spec_augment(torch.ones(100, 64), freqm=30, timem=40) for _ in range(10)]
    assert all(m.shape == (100, 64) for m in masked)
    assert all(set(m.unique().tolist()) <= {0.0, 1.0} for m in masked)
    assert any((m == 0).all(dim=0).any() for m in masked)  # a whole mel bin masked
    assert any((m == 0).all(dim=1).any() for m in masked)  # a whole frame masked


def test_audio_reader_gives_normalised_model_input(tmp_path):
    path = write_sine(tmp_path / "a.wav", 22050, seconds=0.5)
    x = AudioReader(target_length=128, num_mel_bins=64)(path)
    assert x.shape == (1, 128, 64) and x.dtype == torch.float32
    expected = normalize(pad_or_crop(fbank(*load_audio(path), num_mel_bins=64), 128))
    torch.testing.assert_close(x[0], expected)
    padding = (0 - AUDIOSET_MEAN) / (2 * AUDIOSET_STD)
    torch.testing.assert_close(x[0, 100:], torch.full((28, 64), padding))


def test_audio_reader_augments_only_when_asked(tmp_path):
    path = write_sine(tmp_path / "a.wav")
    plain = AudioReader(target_length=128)
    assert torch.equal(plain(path), plain(path))
    torch.manual_seed(0)
    augmented = AudioReader(target_length=128, augment=True)
    assert any(not torch.equal(augmented(path), plain(path)) for _ in range(5))


def test_audio_stats_are_mean_and_std_of_all_fbank_values(tmp_path):
    files = [write_sine(tmp_path / "a.wav", hz=300), write_sine(tmp_path / "b.wav", seconds=0.3, hz=900)]
    values = torch.cat([fbank(*load_audio(f)) for f in files]).double()
    mean, std = audio_stats(files)
    assert mean == pytest.approx(values.mean().item()) and std == pytest.approx(values.std(correction=0).item())


def test_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.touch()
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(np.random.default_rng(0).bytes(2000))
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(write_sine(tmp_path / "ok.wav").read_bytes()[:30])
    no_samples = tmp_path / "no_samples.wav"
    soundfile.write(no_samples, np.zeros((0, 1), np.float32), 16000)
    unsupported = tmp_path / "notes.txt"
    unsupported.write_text("hello")
    for path, reason in [
        (empty, "file is empty"),
        (corrupt, "LibsndfileError"),
        (truncated, "LibsndfileError"),
        (no_samples, "contains no samples"),
        (unsupported, "unsupported file type '.txt'"),
        (tmp_path / "missing.wav", "no such file"),
    ]:
        with pytest.raises(DataFileError, match=reason) as error:
            load_audio(path)
        assert str(path) in str(error.value) and error.value.path == path


def test_audio_shorter_than_one_frame_is_a_data_error_and_skippable(tmp_path):
    for name in ("low", "high"):
        for i in range(3):
            write_sine(tmp_path / name / f"{i}.wav", seconds=0.2)
    short = tmp_path / "low" / "1.wav"
    soundfile.write(short, sine(0.01, 16000), 16000)  # 160 samples: Kaldi's 25 ms window needs 400
    with pytest.raises(DataFileError, match="160 samples at 16000 Hz, shorter than one 25 ms frame") as error:
        AudioReader(target_length=32)(short)
    assert error.value.path == short
    dataset = folder_dataset(tmp_path, "audio", val_fraction=0.0, target_length=32, on_error="skip")
    with pytest.warns(UserWarning, match="shorter than one"):
        items = [dataset[i] for i in range(len(dataset))]
    assert len(items) == 6 and [path for path, _ in dataset.skipped] == [short]


def test_non_finite_samples_are_an_error_naming_the_file(tmp_path):
    wave = sine(0.2, 16000)
    wave[100] = np.nan
    path = tmp_path / "nan.wav"
    soundfile.write(path, wave, 16000, subtype="FLOAT")
    with pytest.raises(DataFileError, match="NaN or infinite values in 1 samples") as error:
        load_audio(path)
    assert error.value.path == path
