import numpy as np
import pytest
import torch
from conftest import counting_frames, frame_numbers

from data_tools import DataFileError, available_backends, load_clip, write_video
from data_tools.video import ClipReader, clip_indices

BACKENDS = available_backends()  # torchcodec, decord and PyAV where all three load


@pytest.mark.parametrize("kind", ["mp4", "avi"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_has_the_requested_frames(videos, kind, backend):
    clip = load_clip(videos[kind], num_frames=8, stride=3, start=10, backend=backend)
    assert clip.shape == (3, 8, 48, 64) and clip.dtype == torch.uint8
    assert frame_numbers(clip) == list(range(10, 34, 3))


@pytest.mark.parametrize("kind", ["mp4", "avi"])
def test_every_backend_decodes_identical_frames(videos, kind):
    assert len(BACKENDS) >= 2, "compare at least two decoders"
    for start in (0, 7, 25, "center"):
        first, *others = [load_clip(videos[kind], 8, 4, start=start, size=32, backend=b) for b in BACKENDS]
        for backend, clip in zip(BACKENDS[1:], others, strict=True):
            assert torch.equal(clip, first), f"{backend} differs from {BACKENDS[0]} at start {start}"


def test_natural_frames_are_identical_across_backends(tmp_path):
    """Colour gradients that move: the YUV-to-RGB conversion of every backend must agree to the bit."""
    t, y, x = np.mgrid[0:40, 0:48, 0:64]
    frames = np.stack([127 + 100 * np.sin((x + 3 * t) / 7), 127 + 100 * np.cos((y - 2 * t) / 5), 4 * t], -1)
    write_video(tmp_path / "natural.mp4", frames.clip(0, 255).astype(np.uint8), fps=25)
    first, *others = [load_clip(tmp_path / "natural.mp4", 6, 5, start=3, backend=b) for b in BACKENDS]
    assert first.float().std() > 20
    for clip in others:
        assert torch.equal(clip, first)


def test_auto_backend_is_the_fastest_that_loads():
    assert BACKENDS[-1] == "pyav" and set(BACKENDS) <= {"torchcodec", "decord", "pyav"}
    assert BACKENDS == [name for name in ("torchcodec", "decord", "pyav") if name in BACKENDS]
    assert ClipReader(backend="auto").backend == "auto"


def test_an_unknown_or_missing_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown video backend 'opencv'"):
        ClipReader(backend="opencv")
    missing = [name for name in ("torchcodec", "decord") if name not in BACKENDS]
    for name in missing:
        with pytest.raises(ValueError, match=f"video backend '{name}' is not available"):
            ClipReader(backend=name)


def test_centre_and_random_starts():
    assert clip_indices(60, 4, 10, "center") == [14, 24, 34, 44]
    torch.manual_seed(0)
    starts = {clip_indices(60, 4, 10, "random")[0] for _ in range(200)}
    assert starts == set(range(0, 30))


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_longer_than_video_repeats_last_frame_or_is_rejected(videos, backend):
    clip = load_clip(videos["mp4"], num_frames=16, stride=5, backend=backend)
    assert frame_numbers(clip) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55] + [59] * 4
    with pytest.raises(DataFileError, match="has 60 frames, a clip of 16x5 needs 76") as error:
        load_clip(videos["mp4"], num_frames=16, stride=5, backend=backend, pad=False)
    assert str(videos["mp4"]) in str(error.value)


def test_resize_short_side_and_centre_crop(tmp_path):
    frames = counting_frames(8, height=40, width=80)
    frames[:, :, 20:60] = 255  # a white centre
    write_video(tmp_path / "wide.mp4", frames)
    clip = load_clip(tmp_path / "wide.mp4", num_frames=4, stride=2, size=32)
    assert clip.shape == (3, 4, 32, 32) and clip.float().mean() > 240  # only the centre is left


def test_clip_reader_normalises(videos):
    clip = ClipReader(num_frames=4, stride=2, size=16)(videos["mp4"])
    assert clip.shape == (3, 4, 16, 16) and clip.dtype == torch.float32
    grey = ClipReader(num_frames=4, stride=2, size=16, channels=1, mean=[0.5], std=[0.25])(videos["mp4"])
    assert grey.shape == (1, 4, 16, 16)
    level = frame_numbers(load_clip(videos["mp4"], 4, 2))[0] * 4 / 255
    assert grey[0, 0].mean().item() == pytest.approx((level - 0.5) / 0.25, abs=0.05)


def test_clip_reader_checks_channel_statistics():
    with pytest.raises(ValueError, match="one value for each of 3 channels"):
        ClipReader(mean=[0.5], std=[0.5])


@pytest.mark.parametrize("backend", BACKENDS)
def test_errors_name_the_file(tmp_path, videos, backend):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(b"RIFF" + bytes(range(256)) * 20)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(videos["mp4"].read_bytes()[:2000])
    for path in (empty, corrupt, truncated, tmp_path / "clip.gif"):
        with pytest.raises(DataFileError) as error:
            load_clip(path, 4, 1, backend=backend)
        assert str(path) in str(error.value)


def test_cached_reader_cuts_the_same_clips_from_memory(videos):
    plain = ClipReader(num_frames=6, stride=3, size=24)
    cached = ClipReader(num_frames=6, stride=3, size=24, cache=True)
    for _ in range(2):
        assert torch.equal(cached(videos["avi"]), plain(videos["avi"]))
    assert list(cached._videos) == [videos["avi"]] and cached._videos[videos["avi"]].shape == (3, 60, 24, 24)
    torch.manual_seed(0)
    random_clips = ClipReader(num_frames=6, stride=3, size=24, cache=True, augment=True)
    assert len({random_clips(videos["avi"])[0, 0, 0, 0].item() for _ in range(10)}) > 1
