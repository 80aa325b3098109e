"""Throughput of the data pipeline on this machine, and whether it keeps up with a tiny ViT's training.

Part 1 times the readers on files it writes itself: clips/s for torchcodec, decord and PyAV side by side on
the same random 16-frame clips (stride 4) of a 300-frame 224x224 H.264 video (and checks that they decode
identical frames), AudioMAE spectrograms/s from 10 s wav files,
point clouds/s (load, normalise, resample to 1,024) and images/s (decode, resize, crop, normalise).
Part 2 compares, per modality, a training loader over a built-in dataset (augmentation on; built into
the cache first if missing, about a minute) with training steps (forward, backward, AdamW) of the
registry's tiny model of that modality (width 96, depth 4, 3 heads) on its batches.

    python benchmarks/data_pipeline.py [--seconds 1.5] [--batch-size 32] [--size default|tiny] [--readers-only]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import open3d as o3d
import soundfile
import torch
from PIL import Image
from torch import nn

from data_tools import (
    AudioReader,
    ImageReader,
    PointReader,
    available_backends,
    build_dataset,
    load_clip,
    make_loader,
    write_video,
)
from data_tools.video import TORCHCODEC_ERROR
from m2pt import build_model


def best_rates(works: dict[str, Callable[[], int]], seconds: float, rounds: int = 3) -> dict[str, float]:
    """Items per second of each `work()` (which returns how many items it did): the best of `rounds`
    windows of `seconds`, taken in turn, after one warm-up call each. On a shared machine the best window
    is the least disturbed, and taking turns exposes every work to the same disturbances."""
    for work in works.values():
        work()
    best = dict.fromkeys(works, 0.0)
    for _ in range(rounds):
        for name, work in works.items():
            done, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                done += work()
            best[name] = max(best[name], done / (time.perf_counter() - start))
    return best


def print_table(title: str, header: tuple[str, ...], rows: list[tuple]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def test_files(folder: Path) -> dict[str, Path]:
    """A 300-frame 224x224 H.264 video, a 10 s wav, an 8,192-point ply and a 256x256 jpg."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:224, 0:224]
    frames = np.stack(
        [(127 + 60 * np.sin((x + 3 * t) / 9) + 60 * np.cos((y - 2 * t) / 13)).astype(np.uint8) for t in range(300)]
    )
    frames = np.stack([frames, np.roll(frames, 40, axis=2), frames[:, ::-1]], axis=-1)
    write_video(folder / "video.mp4", frames, fps=30)
    soundfile.write(folder / "audio.wav", rng.normal(0, 0.1, 160000).astype(np.float32), 16000)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(rng.normal(size=(8192, 3))))
    o3d.io.write_point_cloud(str(folder / "cloud.ply"), cloud)
    Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(folder / "image.jpg")
    return {"video": folder / "video.mp4", "audio": folder / "audio.wav", "point": folder / "cloud.ply"} | {
        "image": folder / "image.jpg"
    }


BACKEND_NAMES = {"torchcodec": "torchcodec", "decord": "decord", "pyav": "PyAV"}


def identical_frames(video: Path, starts: list[int]) -> str:
    """Whether every backend decodes the same uint8 clips at `starts` as the first one, and how far off."""
    backends = available_backends()
    worst = 0
    for start in starts:
        clips = [load_clip(video, 16, 4, start=start, backend=backend).int() for backend in backends]
        worst = max(worst, *((clip - clips[0]).abs().max().item() for clip in clips[1:]))
    verdict = "identical" if worst == 0 else f"DIFFERENT (max |diff| {worst})"
    return f"{', '.join(BACKEND_NAMES[b] for b in backends)}: {verdict} frames on {len(starts)} clips"


def reader_rows(files: dict[str, Path], seconds: float) -> list[tuple]:
    random_starts = np.random.default_rng(0).integers(0, 300 - 61, 64).tolist()

    def clips(backend: str) -> Callable[[], int]:
        """The same cycle of 64 random clips for each backend."""
        starts = itertools.cycle(random_starts)
        return lambda: load_clip(files["video"], 16, 4, start=next(starts), backend=backend) is not None

    audio = AudioReader(target_length=1024)
    points = PointReader(num_points=1024)
    image = ImageReader(image_size=224)
    works = {f"video clips, {BACKEND_NAMES[backend]}": clips(backend) for backend in available_backends()}
    works |= {
        "spectrograms (10 s wav)": lambda: audio(files["audio"]) is not None,
        "point clouds (8,192-point ply)": lambda: points(files["point"]) is not None,
        "images (256x256 jpg to 224)": lambda: image(files["image"]) is not None,
    }
    rates = best_rates(works, seconds)
    slowest = min(rates.values())
    return [(name, f"{rate:8.1f}", f"{rate / slowest:5.2f}x") for name, rate in rates.items()]


MODEL_SETTINGS = {"video": {"tubelet": 2}}  # as configs/grid.yaml


def tiny_model(modality: str, num_classes: int) -> nn.Module:
    """The registry's tiny model of ``modality`` (width 96, depth 4, 3 heads), as the runs use it."""
    return build_model(modality, "tiny", num_classes=num_classes, **MODEL_SETTINGS.get(modality, {}))


def loader_work(dataset, batch_size: int, workers: int, warm_epochs: int = 0) -> Callable[[], int]:
    """Next batch of a training loader over `dataset` (restarted as epochs end), after `warm_epochs`."""
    loader = make_loader(dataset, batch_size, num_workers=workers, drop_last=True)
    for _ in range(warm_epochs):
        for _ in loader:
            pass
    batches = iter(loader)

    def next_batch() -> int:
        nonlocal batches
        try:
            return len(next(batches)[1])
        except StopIteration:
            batches = iter(loader)
            return 0

    return next_batch


def step_work(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> Callable[[], int]:
    """One training step (forward, cross-entropy, backward, AdamW) on one batch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> int:
        loss = nn.functional.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return len(labels)

    return step


BENCHMARKED = [  # (modality, dataset, reader options, row label)
    ("image", "mnist", {}, ""),
    ("audio", "spoken_digits", {}, ""),
    ("video", "moving_digits", {"cache": False}, ", decode every clip"),
    ("video", "moving_digits", {}, ", clips cached (warm)"),
    ("point", "shapes", {"num_points": 1024}, ""),
]


def loader_rows(size: str, batch_size: int, seconds: float) -> list[tuple]:
    rows = []
    for modality, name, options, label in BENCHMARKED:
        dataset = build_dataset(name, size=size, augment=True, **options)
        inputs, labels = next(iter(make_loader(dataset, batch_size, drop_last=True)))
        x = inputs[0]
        model = tiny_model(modality, len(dataset.classes))
        warm = 3 if getattr(dataset.reader, "cache", False) else 0  # each worker caches what it reads
        works = {workers: loader_work(dataset, batch_size, workers, warm) for workers in (0, 2)}
        rates = best_rates({**works, "step": step_work(model, inputs, labels)}, seconds)
        loading, training = rates, rates["step"]
        rows.append(
            (
                f"{modality}: {name}{label}",
                "x".join(map(str, x.shape)),
                f"{model.embed(inputs[:1]).tokens.shape[1]}",
                f"{loading[0]:7.0f}",
                f"{loading[2]:7.0f}",
                f"{training:7.0f}",
                f"{loading[0] / training:5.1f}x",
                f"{loading[2] / training:5.1f}x",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per window (best of 3 windows)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", default="default", help="size of the built-in datasets of part 2")
    parser.add_argument("--readers-only", action="store_true", help="part 1 only")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}")
    if TORCHCODEC_ERROR is not None:
        print(f"torchcodec not offered: {TORCHCODEC_ERROR}")
    with tempfile.TemporaryDirectory() as tmp:
        files = test_files(Path(tmp))
        rows = reader_rows(files, args.seconds)
        check = identical_frames(files["video"], np.random.default_rng(1).integers(0, 300 - 61, 8).tolist())
    print_table("Readers (one process)", ("what", "items/s", "vs slowest"), rows)
    print(f"video backends: {check}")
    if args.readers_only:
        return
    rows = loader_rows(args.size, args.batch_size, args.seconds)
    header = ("dataset", "item", "tokens", "loader w=0", "loader w=2", "train step", "w=0/step", "w=2/step")
    title = f"Loaders ({args.size} size, augment; w: workers) vs tiny-ViT training steps, samples/s"
    print_table(title, header, rows)


if __name__ == "__main__":
    main()
