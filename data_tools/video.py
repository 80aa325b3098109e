"""Video files to clips `[C, T, H, W]`: `num_frames` frames every `stride` frames, by torchcodec, decord or PyAV.

All three backends return identical frames. torchcodec (exact seeks, needs the system's FFmpeg
libraries: apt `ffmpeg`) is the fastest and the default where it loads, then decord; PyAV (seek to the
keyframe before the clip, then decode) is the fallback that always works.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import ClassVar, Literal

import av
import numpy as np
import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from data_tools.errors import DataFileError, check_file, reading
from data_tools.images import IMAGENET_MEAN, IMAGENET_STD, channel_stats

try:
    import decord
except ImportError:  # decord has wheels for x86-64 only
    decord = None
try:
    from torchcodec.decoders import VideoDecoder

    TORCHCODEC_ERROR = None
except (ImportError, OSError, RuntimeError) as error:  # not installed, no FFmpeg libraries, or built for another torch
    VideoDecoder = None
    TORCHCODEC_ERROR = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
Backend = Literal["auto", "torchcodec", "decord", "pyav"]
Start = Literal["center", "random"]


def clip_indices(num_available: int, num_frames: int, stride: int, start: Start | int = "center") -> list[int]:
    """Frame indices of a clip; past the end of the video they repeat the last frame."""
    span = (num_frames - 1) * stride + 1
    latest = max(num_available - span, 0)
    if start == "center":
        first = latest // 2
    elif start == "random":
        first = int(torch.randint(latest + 1, ()).item())
    else:
        first = min(int(start), latest)
    return [min(first + i * stride, num_available - 1) for i in range(num_frames)]


Choose = Callable[[int], list[int]]  # the number of frames in a video -> the indices to decode


def _torchcodec_frames(path: Path, choose: Choose) -> np.ndarray:
    decoder = VideoDecoder(str(path), dimension_order="NHWC", num_ffmpeg_threads=1, seek_mode="exact")
    return decoder.get_frames_at(choose(len(decoder))).data.numpy()


def _decord_frames(path: Path, choose: Choose) -> np.ndarray:
    reader = decord.VideoReader(str(path), num_threads=1)
    return reader.get_batch(choose(len(reader))).asnumpy()


def _pyav_frames(path: Path, choose: Choose) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        count = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        indices = choose(count)
        rate = Fraction(stream.average_rate or stream.guessed_rate)
        origin = stream.start_time or 0
        seek_to = origin + int(indices[0] / rate / stream.time_base)
        frames = _pyav_decode(container, stream, indices, rate, origin, seek_to)
        if frames is None:  # the seek went past the clip: decode from the start
            frames = _pyav_decode(container, stream, indices, rate, origin, origin)
    if frames is None:
        raise DataFileError(path, "PyAV could not decode the frames of the clip")
    return frames


def _pyav_decode(container, stream, indices: list[int], rate: Fraction, origin: int, seek_to: int):
    """The frames at `indices` (frame numbers counted from the stream's pts), or None if any is missing."""
    container.seek(seek_to, stream=stream, backward=True, any_frame=False)
    wanted: dict[int, np.ndarray | None] = dict.fromkeys(indices)
    for frame in container.decode(stream):
        index = round((frame.pts - origin) * stream.time_base * rate)
        if index > max(indices):
            break
        if index in wanted:
            wanted[index] = frame.to_ndarray(format="rgb24")
    if any(frame is None for frame in wanted.values()):
        return None
    return np.stack([wanted[index] for index in indices])


_BACKENDS = {"torchcodec": _torchcodec_frames, "decord": _decord_frames, "pyav": _pyav_frames}  # fastest first
_MISSING = {
    "torchcodec": lambda: TORCHCODEC_ERROR if VideoDecoder is None else None,
    "decord": lambda: "decord is not installed (wheels for x86-64 only)" if decord is None else None,
    "pyav": lambda: None,
}


def available_backends() -> list[str]:
    """The decoding backends that load here, fastest first."""
    return [name for name in _BACKENDS if _MISSING[name]() is None]


def resolve_backend(backend: Backend) -> str:
    """The backend `backend` names ("auto": the fastest that loads here), or ValueError saying why not."""
    if backend == "auto":
        return available_backends()[0]
    if backend not in _BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}: use 'auto' or one of {list(_BACKENDS)}")
    if _MISSING[backend]() is not None:
        raise ValueError(
            f"video backend {backend!r} is not available ({_MISSING[backend]()}): use one of {available_backends()}"
        )
    return backend


def _decode(path: str | Path, choose: Choose, size: int | None, backend: Backend) -> Tensor:
    """uint8 `[3, T, H, W]` of the chosen frames, resized (short side) and centre-cropped to `size`."""
    path = check_file(path, VIDEO_EXTENSIONS)
    decode = _BACKENDS[resolve_backend(backend)]
    with reading(path):
        clip = torch.from_numpy(decode(path, choose)).permute(3, 0, 1, 2)  # [T, H, W, C] -> [C, T, H, W]
        if size is not None:
            clip = TF.center_crop(TF.resize(clip, size, antialias=True), [size, size])
    return clip


def checked_indices(path: Path, count: int, num_frames: int, stride: int, start: Start | int, pad: bool) -> list[int]:
    """`clip_indices`, or DataFileError for a video without frames or too short when not `pad`."""
    if count == 0:
        raise DataFileError(path, "video has no frames")
    span = (num_frames - 1) * stride + 1
    if span > count and not pad:
        raise DataFileError(path, f"video has {count} frames, a clip of {num_frames}x{stride} needs {span}")
    return clip_indices(count, num_frames, stride, start)


def load_clip(
    path: str | Path,
    num_frames: int = 16,
    stride: int = 4,
    *,
    start: Start | int = "center",
    size: int | None = None,
    backend: Backend = "auto",
    pad: bool = True,
) -> Tensor:
    """A uint8 clip `[3, num_frames, H, W]`; `size` resizes the short side and centre-crops a square.

    A clip longer than the video repeats its last frame when `pad`, else raises DataFileError.
    """
    choose = partial(checked_indices, Path(path), num_frames=num_frames, stride=stride, start=start, pad=pad)
    return _decode(path, choose, size, backend)


def load_video(path: str | Path, *, size: int | None = None, backend: Backend = "auto") -> Tensor:
    """Every frame of a (short) video as uint8 `[3, T, H, W]`, resized and cropped as in `load_clip`."""
    return _decode(path, lambda count: list(range(count)), size, backend)


def normalize_clip(
    clip: Tensor, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
) -> Tensor:
    """uint8 `[C, T, H, W]` to float32 `(x / 255 - mean) / std` per channel."""
    shape = (-1, 1, 1, 1)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(shape)
    std_t = torch.tensor(std, dtype=torch.float32).view(shape)
    return (clip.float() / 255 - mean_t) / std_t


def write_video(
    path: str | Path, frames: np.ndarray, fps: int = 25, codec: str = "libx264", bit_rate: int | None = None
) -> None:
    """Write uint8 frames `[T, H, W]` (grey) or `[T, H, W, 3]` (RGB) as a video, atomically.

    H.264 needs even H and W; `codec="mpeg4"` suits .avi files (give it a `bit_rate`, e.g. 2_000_000:
    its default is low).
    """
    path = Path(path)
    grey = frames.ndim == 3
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        with av.open(tmp, mode="w") as container:
            stream = container.add_stream(codec, rate=fps)
            stream.height, stream.width = frames.shape[1:3]
            stream.pix_fmt = "yuv420p"
            stream.codec_context.gop_size = fps  # a keyframe every second: clips seek fast
            if bit_rate is not None:
                stream.bit_rate = bit_rate
            for image in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="gray" if grey else "rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@dataclass
class ClipReader:
    """A video file to a normalised float32 clip `[channels, num_frames, size, size]`.

    `augment` draws a random start (else the centred clip); `channels=1` averages RGB to grey.
    `mean`/`std` default to ImageNet's. `cache` keeps every decoded and resized video in memory (in each
    loader worker) and cuts later clips from it: for short videos read every epoch, like moving digits.
    """

    modality: ClassVar[str] = "video"
    extensions: ClassVar[tuple[str, ...]] = VIDEO_EXTENSIONS

    num_frames: int = 16
    stride: int = 4
    size: int | None = 224
    channels: int = 3
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    augment: bool = False
    backend: Backend = "auto"
    pad: bool = True
    cache: bool = False
    _videos: dict[Path, Tensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.mean, self.std = channel_stats(self.mean, self.std, self.channels)
        resolve_backend(self.backend)

    def __call__(self, path: str | Path) -> Tensor:
        start = "random" if self.augment else "center"
        choose = partial(
            checked_indices,
            Path(path),
            num_frames=self.num_frames,
            stride=self.stride,
            start=start,
            pad=self.pad,
        )
        if self.cache:
            if path not in self._videos:
                self._videos[path] = load_video(path, size=self.size, backend=self.backend)
            video = self._videos[path]
            clip = video[:, choose(video.shape[1])]
        else:
            clip = _decode(path, choose, self.size, self.backend)
        with reading(path):
            return self._normalized(clip)

    def views(self, path: str | Path, clips: int, crops: int) -> Tensor:
        """The multi-view test of a video: float32 `[clips * crops, channels, num_frames, size, size]`.

        `clips` clips evenly spaced from the first possible start to the last, each cut into `crops`
        squares evenly spaced along the long side of the frame (after resizing the short side to
        `size`); one clip or crop is the centred one. Clip-major order: clip 0's crops first.
        """
        path = Path(path)

        def choose(count: int) -> list[int]:
            latest = max(count - (self.num_frames - 1) * self.stride - 1, 0)
            firsts = [round(i * latest / (clips - 1)) for i in range(clips)] if clips > 1 else [latest // 2]
            return [i for first in firsts for i in checked_indices(path, count, self.num_frames, self.stride, first,
                                                                   self.pad)]  # fmt: skip

        frames = _decode(path, choose, None, self.backend)  # [3, clips * T, H, W]
        with reading(path):
            if self.size is not None:
                frames = TF.resize(frames, self.size, antialias=True)
            side = min(frames.shape[-2:])
            long_axis = -1 if frames.shape[-1] >= frames.shape[-2] else -2
            room = frames.shape[long_axis] - side
            offsets = [round(i * room / (crops - 1)) for i in range(crops)] if crops > 1 else [room // 2]
            views = []
            for clip in frames.split(self.num_frames, dim=1):
                for offset in offsets:
                    crop = clip.narrow(long_axis, offset, side).narrow(-2 if long_axis == -1 else -1, 0, side)
                    views.append(self._normalized(crop))
            return torch.stack(views)

    def _normalized(self, clip: Tensor) -> Tensor:
        """uint8 `[3, T, H, W]` to the reader's float32 `[channels, T, H, W]`."""
        if self.channels == 1:
            clip = clip.float().mean(dim=0, keepdim=True)
        return normalize_clip(clip, self.mean, self.std)
