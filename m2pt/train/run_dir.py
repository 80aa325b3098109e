"""A run's folder: its resolved config, environment, metrics, λ log, checkpoints and results.

    <run>/config.yaml        the resolved configuration
    <run>/environment.json   versions, git commit, device, command line
    <run>/metrics.jsonl      one record per log event ({"step", "epoch", "split", ...})
    <run>/metrics.csv        one row per epoch
    <run>/lambdas.jsonl      λ of every re-parameterized layer over training
    <run>/checkpoints/{last,best}.pt   training state (torch.save, loads with weights_only=True)
    <run>/model.safetensors  the final weights, with their metadata (+ .json)
    <run>/summary.json       final metrics

Every file is written atomically; records logged after the checkpoint a run resumes from are
dropped, so a resumed run's logs read as if it had never stopped.
"""

import csv
import io
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from m2pt.atomic import atomic_path, atomic_write_text
from m2pt.train.config import Config, dump_yaml

RECORD_FILES = ("metrics.jsonl", "lambdas.jsonl")


class RunDir:
    """Paths and writers of one run folder. Only the main process writes (``writer=True``)."""

    def __init__(self, path: str | Path, *, writer: bool = True):
        self.path = Path(path)
        self.writer = writer
        if writer:
            self.path.mkdir(parents=True, exist_ok=True)
        self._tensorboard = None

    @property
    def last(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    @property
    def best(self) -> Path:
        return self.path / "checkpoints" / "best.pt"

    @property
    def model_file(self) -> Path:
        return self.path / "model.safetensors"

    def write_config(self, config: Config) -> None:
        if self.writer:
            atomic_write_text(self.path / "config.yaml", dump_yaml(config))

    def write_environment(self, **extra: Any) -> None:
        if self.writer:
            atomic_write_text(self.path / "environment.json", json.dumps(environment() | extra, indent=2) + "\n")

    def log(self, record: dict[str, Any], file: str = "metrics.jsonl") -> None:
        """Append one JSON record (and mirror scalars to TensorBoard when it is installed)."""
        if not self.writer:
            return
        with open(self.path / file, "a") as f:
            f.write(json.dumps(record) + "\n")
        if file == "metrics.jsonl":
            self._log_tensorboard(record)

    def log_epoch(self, row: dict[str, Any]) -> None:
        """Append one row to metrics.csv (the columns of the first row)."""
        if not self.writer:
            return
        path = self.path / "metrics.csv"
        exists = path.exists()
        fields = next(csv.reader(open(path))) if exists else list(row)
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if not exists:
                writer.writeheader()
            writer.writerow(row)

    def records(self, file: str = "metrics.jsonl") -> list[dict[str, Any]]:
        path = self.path / file
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def truncate_logs(self, step: int, epoch: int) -> None:
        """Drop records after ``step`` / rows after ``epoch``: what a killed run logged past its checkpoint."""
        if not self.writer:
            return
        for file in RECORD_FILES:
            kept = [r for r in self.records(file) if r.get("step", 0) <= step]
            atomic_write_text(self.path / file, "".join(json.dumps(r) + "\n" for r in kept))
        path = self.path / "metrics.csv"
        if path.exists():
            rows = list(csv.DictReader(open(path)))
            kept = [r for r in rows if int(r["epoch"]) <= epoch]
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [])
            writer.writeheader()
            writer.writerows(kept)
            atomic_write_text(path, out.getvalue())

    def save_state(self, state: dict[str, Any], path: Path) -> None:
        if self.writer:
            with atomic_path(path) as tmp:
                torch.save(state, tmp)

    def write_json(self, name: str, data: Any) -> Path:
        path = self.path / name
        if self.writer:
            atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")
        return path

    def _log_tensorboard(self, record: dict[str, Any]) -> None:
        if self._tensorboard is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                self._tensorboard = False
                return
            self._tensorboard = SummaryWriter(str(self.path / "tensorboard"))
        if self._tensorboard:
            split = record.get("split", "train")
            for key, value in record.items():
                if key not in ("step", "epoch", "split") and isinstance(value, (int, float)):
                    self._tensorboard.add_scalar(f"{split}/{key}", value, record.get("step", 0))


def environment() -> dict[str, Any]:
    """What is needed to reproduce a run: versions, commit, machine, command line."""
    import timm

    import m2pt

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "timm": timm.__version__,
        "m2pt": getattr(m2pt, "__version__", "dev"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "platform": platform.platform(),
        "host": platform.node(),
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
        "command": " ".join(sys.argv),
        "cwd": os.getcwd(),
    }


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None
