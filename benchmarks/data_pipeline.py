"""Throughput of the data pipeline on this machine, and whether it keeps up with a tiny ViT's training.

Part 1 times the readers on files it writes itself: clips/s for decord vs PyAV on the same random
16-frame clips (stride 4) of a 300-frame 224x224 H.264 video, AudioMAE spectrograms/s from 10 s wav files,
point clouds/s (load, normalise, resample to 1,024) and images/s (decode, resize, crop, normalise).
Part 2 compares, per modality, a training loader over a built-in dataset (augmentation on; built into
the cache first if missing, about a minute) with training steps (forward, backward, AdamW) of a ViT of
width 96, depth 4, 3 heads on its batches. Video and point models use STAND-IN tokenizers.

    python benchmarks/data_pipeline.py [--seconds 1.5] [--batch-size 32] [--size default|tiny]
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
from timm.models.vision_transformer import Block, VisionTransformer
from torch import nn

from data_tools import (
    AudioReader,
    ImageReader,
    PointReader,
    build_dataset,
    load_clip,
    make_loader,
    write_video,
)


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


def reader_rows(files: dict[str, Path], seconds: float) -> list[tuple]:
    random_starts = np.random.default_rng(0).integers(0, 300 - 61, 64).tolist()

    def clips(backend: str) -> Callable[[], int]:
        """The same cycle of 64 random clips for each backend."""
        starts = itertools.cycle(random_starts)
        return lambda: load_clip(files["video"], 16, 4, start=next(starts), backend=backend) is not None

    audio = AudioReader(target_length=1024)
    points = PointReader(num_points=1024)
    image = ImageReader(image_size=224)
    works = {
        "video clips, decord": clips("decord"),
        "video clips, PyAV": clips("pyav"),
        "spectrograms (10 s wav)": lambda: audio(files["audio"]) is not None,
        "point clouds (8,192-point ply)": lambda: points(files["point"]) is not None,
        "images (256x256 jpg to 224)": lambda: image(files["image"]) is not None,
    }
    rates = best_rates(works, seconds)
    slowest = min(rates.values())
    return [(name, f"{rate:8.1f}", f"{rate / slowest:5.2f}x") for name, rate in rates.items()]


class TokenViT(nn.Module):
    """STAND-IN for the real video/point tokenizers (written elsewhere): a tokenizer, then a ViT trunk of
    the same size as the image/audio models (width 96, depth 4, 3 heads, class token)."""

    def __init__(self, tokenize: nn.Module, num_tokens: int, num_classes: int, width: int = 96) -> None:
        super().__init__()
        self.tokenize = tokenize
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, num_tokens + 1, width) * 0.02)
        self.blocks = nn.Sequential(*[Block(width, 3) for _ in range(4)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.tokenize(x)
        tokens = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], dim=1) + self.pos
        return self.head(self.norm(self.blocks(tokens))[:, 0])


class TubeletTokens(nn.Module):
    """`[B, C, T, H, W]` to tokens `[B, T/2 * H/8 * W/8, width]` (2x8x8 tubelets)."""

    def __init__(self, channels: int, width: int = 96) -> None:
        super().__init__()
        self.proj = nn.Conv3d(channels, width, (2, 8, 8), (2, 8, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class PointGroupTokens(nn.Module):
    """`[B, P, 3]` to 64 tokens: the 32 nearest neighbours of 64 centres through a shared MLP, max-pooled."""

    def __init__(self, width: int = 96, groups: int = 64, neighbours: int = 32) -> None:
        super().__init__()
        self.groups, self.neighbours = groups, neighbours
        self.mlp = nn.Sequential(nn.Linear(3, 64), nn.GELU(), nn.Linear(64, width))
        self.centre = nn.Linear(3, width)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        xyz = points[..., :3]
        centres = xyz[:, : self.groups]  # the points are in random order already
        nearest = torch.cdist(centres, xyz).topk(self.neighbours, largest=False).indices
        groups = torch.gather(
            xyz.unsqueeze(1).expand(-1, self.groups, -1, -1), 2, nearest[..., None].expand(-1, -1, -1, 3)
        )
        return self.mlp(groups - centres.unsqueeze(2)).amax(dim=2) + self.centre(centres)


def tiny_model(modality: str, x: torch.Tensor, num_classes: int) -> nn.Module:
    size = {"embed_dim": 96, "depth": 4, "num_heads": 3, "num_classes": num_classes}
    if modality == "image":
        return VisionTransformer(img_size=x.shape[-2:], patch_size=4, in_chans=x.shape[0], **size)
    if modality == "audio":
        return VisionTransformer(img_size=x.shape[-2:], patch_size=16, in_chans=x.shape[0], **size)
    if modality == "video":
        channels, frames, height, width = x.shape
        return TokenViT(TubeletTokens(channels), frames // 2 * (height // 8) * (width // 8), num_classes)
    return TokenViT(PointGroupTokens(), 64, num_classes)


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
        model = tiny_model(modality, x, len(dataset.classes))
        warm = 3 if getattr(dataset.reader, "cache", False) else 0  # each worker caches what it reads
        works = {workers: loader_work(dataset, batch_size, workers, warm) for workers in (0, 2)}
        rates = best_rates({**works, "step": step_work(model, inputs, labels)}, seconds)
        loading, training = rates, rates["step"]
        rows.append(
            (
                f"{modality}: {name}{label}",
                "x".join(map(str, x.shape)),
                f"{num_tokens(modality, x)}{' (stand-in)' if modality in ('video', 'point') else ''}",
                f"{loading[0]:7.0f}",
                f"{loading[2]:7.0f}",
                f"{training:7.0f}",
                f"{loading[0] / training:5.1f}x",
                f"{loading[2] / training:5.1f}x",
            )
        )
    return rows


def num_tokens(modality: str, x: torch.Tensor) -> int:
    if modality == "image":
        return (x.shape[1] // 4) * (x.shape[2] // 4)
    if modality == "audio":
        return (x.shape[1] // 16) * (x.shape[2] // 16)
    if modality == "video":
        return x.shape[1] // 2 * (x.shape[2] // 8) * (x.shape[3] // 8)
    return 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per window (best of 3 windows)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", default="default", help="size of the built-in datasets of part 2")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = reader_rows(test_files(Path(tmp)), args.seconds)
    print_table("Readers (one process)", ("what", "items/s", "vs slowest"), rows)
    rows = loader_rows(args.size, args.batch_size, args.seconds)
    header = ("dataset", "item", "tokens", "loader w=0", "loader w=2", "train step", "w=0/step", "w=2/step")
    title = f"Loaders ({args.size} size, augment; w: workers) vs tiny-ViT training steps, samples/s"
    print_table(title, header, rows)


if __name__ == "__main__":
    main()
