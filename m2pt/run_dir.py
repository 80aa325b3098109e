"""A run's folder: the one place that knows the names of what a run writes.

    <run>/config.yaml           the resolved configuration of this run (its stage's sections only)
    <run>/environment.json      versions, git commit, device, command line
    <run>/metrics.jsonl         one record per log event ({"step", "epoch", "split", ...}), appended
    <run>/metrics.csv           one row per epoch, appended
    <run>/lambdas.jsonl         λ of every re-parameterized layer over training, appended
    <run>/checkpoints/{last,best}.pt   training state (torch.save, loads with weights_only=True)
    <run>/model.safetensors     a fine-tuning run's final weights, with their metadata (+ .json)
    <run>/encoder.safetensors   a pretraining run's encoder (encoder_epoch<N>.safetensors: earlier epochs)
    <run>/summary.json          final metrics: its presence marks a finished run
    <run>/inputs.json           the sha256 of each weight file the run read, its dataset's build version
    <run>/log.txt               what the run printed, when it ran quietly under a workflow
    <run>/resumes.jsonl         one record per resume: when, and which settings it changed
    <run>/.lock                 held (an OS lock) by the process writing the run; names its PID

Checkpoints, models, summaries and configs are written atomically (a temporary file renamed over
the target); the record logs are appended, and on resume the records logged after the
checkpoint the run continues from are dropped, so a resumed run's logs read as if it had never
stopped. One process writes a run folder at a time (:meth:`RunDir.lock`). Folders that hold runs
name them with :meth:`RunDir.seed_name` (the seeds of an arm) and
:meth:`RunDir.pair_name` (the (target, auxiliary) pairs of a grid).
"""

import contextlib
import csv
import fcntl
import io
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from m2pt.atomic import TMP_SUFFIX, atomic_path, atomic_write_text, disk_errors


class RunFolderBusy(RuntimeError):
    """Another process is writing this run folder."""


class RunDir:
    """Paths, writers and readers of one run folder. Only the main process writes (``writer=True``)."""

    CONFIG = "config.yaml"
    ENVIRONMENT = "environment.json"
    METRICS = "metrics.jsonl"
    METRICS_CSV = "metrics.csv"
    LAMBDAS = "lambdas.jsonl"
    CHECKPOINTS = "checkpoints"
    LAST = "last.pt"
    BEST = "best.pt"
    MODEL = "model.safetensors"
    ENCODER = "encoder.safetensors"
    ENCODER_AT = "encoder_epoch{epoch}.safetensors"
    SUMMARY = "summary.json"
    INPUTS = "inputs.json"
    MERGED = "merged.safetensors"
    MERGE_REPORT = "merge.json"
    EVALUATION = "evaluate_{split}.json"
    LOG = "log.txt"
    RESUMES = "resumes.jsonl"
    LOCK = ".lock"
    # what folders of runs hold (a comparison, an experiment, a grid)
    RESULTS = "results"  # results.json / .md / .csv of a comparison
    REPORT = "report.md"
    GRID_REPORT = "grid.md"
    BUDGET_REPORT = "budget.md"  # a pretraining budget's curve (workflows.budget)
    FIGURES = "figures"
    AUXILIARIES = "aux"  # an experiment's or grid's pretraining runs, one folder per auxiliary
    SEED = "seed{seed}"
    PAIR = "{target}__{aux}"
    SHARED = "shared"  # a grid's arms that do not depend on the pair: <target>__shared

    def __init__(self, path: str | Path, *, writer: bool = True):
        self.path = Path(path)
        self.writer = writer
        if writer:
            with disk_errors(self.path / self.CONFIG):
                self.path.mkdir(parents=True, exist_ok=True)
        self._tensorboard = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # --- names ---------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    @property
    def last(self) -> Path:
        return self.path / self.CHECKPOINTS / self.LAST

    @property
    def best(self) -> Path:
        return self.path / self.CHECKPOINTS / self.BEST

    @property
    def model_file(self) -> Path:
        return self.path / self.MODEL

    @property
    def encoder(self) -> Path:
        return self.path / self.ENCODER

    def trained_weights(self, stage: str) -> Path:
        """The weights a finished ``stage`` run hands on: a pretraining run's encoder, a fine-tuning run's model."""
        return self.encoder if stage == "pretrain" else self.model_file

    def encoder_at(self, epoch: int) -> Path:
        return self.path / self.ENCODER_AT.format(epoch=epoch)

    def encoders(self) -> list[Path]:
        """Every encoder file a pretraining run saved (the final one and earlier epochs')."""
        pattern = re.escape(self.ENCODER_AT).replace(re.escape("{epoch}"), r"\d+")
        return sorted(p for p in self.path.iterdir() if p.name == self.ENCODER or re.fullmatch(pattern, p.name))

    @property
    def summary_file(self) -> Path:
        return self.path / self.SUMMARY

    @property
    def merged_file(self) -> Path:
        return self.path / self.MERGED

    @property
    def log_file(self) -> Path:
        return self.path / self.LOG

    def evaluation_file(self, split: str) -> Path:
        return self.path / self.EVALUATION.format(split=split)

    def results(self, suffix: str = ".json") -> Path:
        return self.path / f"{self.RESULTS}{suffix}"

    @property
    def report_file(self) -> Path:
        return self.path / self.REPORT

    @property
    def grid_report_file(self) -> Path:
        return self.path / self.GRID_REPORT

    @property
    def budget_report_file(self) -> Path:
        return self.path / self.BUDGET_REPORT

    @property
    def figures(self) -> Path:
        return self.path / self.FIGURES

    def auxiliary(self, name: str) -> Path:
        """The folder of the pretraining run of auxiliary ``name`` inside this experiment or grid."""
        return self.path / self.AUXILIARIES / name

    # --- folders of runs -----------------------------------------------------------------------
    @classmethod
    def seed_name(cls, seed: int) -> str:
        return cls.SEED.format(seed=seed)

    @classmethod
    def parse_seed(cls, name: str) -> int | None:
        """The seed a run folder named ``name`` stands for, or None."""
        prefix, _, suffix = cls.SEED.partition("{seed}")
        match = re.fullmatch(re.escape(prefix) + r"(\d+)" + re.escape(suffix), name)
        return int(match.group(1)) if match else None

    @classmethod
    def seed_runs(cls, arm_dir: str | Path) -> list[Path]:
        """The finished seed runs of one arm of a comparison, by increasing seed."""
        found = [(seed, p) for p in Path(arm_dir).glob("*") if (seed := cls.parse_seed(p.name)) is not None]
        return [p for _, p in sorted(found) if cls(p, writer=False).finished]

    @classmethod
    def pair_name(cls, target: str, aux: str) -> str:
        """The folder name of a grid pair, e.g. ``image__audio``."""
        return cls.PAIR.format(target=target, aux=aux)

    @classmethod
    def parse_pair(cls, name: str) -> tuple[str, str] | None:
        """``(target, aux)`` of a pair folder name (None for other names and shared folders)."""
        prefix, _, rest = cls.PAIR.partition("{target}")
        separator, _, suffix = rest.partition("{aux}")
        match = re.fullmatch(re.escape(prefix) + r"(.+?)" + re.escape(separator) + r"(.+)" + re.escape(suffix), name)
        if not match or match.group(2) == cls.SHARED:
            return None
        return match.group(1), match.group(2)

    @classmethod
    def shared_name(cls, target: str) -> str:
        return cls.pair_name(target, cls.SHARED)

    # --- state -----------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """The run ended and wrote its summary."""
        return self.summary_file.is_file()

    @property
    def resumable(self) -> bool:
        """The run started, saved a checkpoint, and has not finished."""
        return self.last.is_file() and not self.finished

    def summary(self) -> dict[str, Any]:
        """The finished run's summary."""
        if not self.finished:
            raise FileNotFoundError(f"{self.path} holds no finished run ({self.SUMMARY} missing)")
        return json.loads(self.summary_file.read_text())

    def config(self) -> dict[str, Any]:
        """The run's saved configuration, as the plain mapping it was written from."""
        import yaml

        if not self.config_file.is_file():
            raise FileNotFoundError(f"{self.path} holds no {self.CONFIG}: is it a run folder?")
        return yaml.safe_load(self.config_file.read_text()) or {}

    def inputs(self) -> dict[str, dict] | None:
        """What the run recorded reading (:func:`m2pt.train.provenance.inputs`), or None when it recorded nothing."""
        path = self.path / self.INPUTS
        return json.loads(path.read_text()) if path.is_file() else None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold this folder for the life of a run: a second writer is refused with the holder's PID.
        The lock is the kernel's (``flock``): a killed holder's lock is released with its process,
        and the next run takes the folder over."""
        with disk_errors(self.path / self.LOCK):
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / self.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunFolderBusy(
                f"{self.path} is being written by {holder}: wait for it to finish, or stop it, "
                "before running or resuming here"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"process {os.getpid()} on {platform.node()}\n".encode(), 0)
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def remove_partial_files(self) -> list[Path]:
        """Delete the temporary files of writes that a kill interrupted (call while holding the lock)."""
        partial = [p for folder in (self.path, self.path / self.CHECKPOINTS) if folder.is_dir()
                   for p in folder.glob(f".*{TMP_SUFFIX}")]  # fmt: skip
        for path in partial:
            path.unlink(missing_ok=True)
        return partial

    def resume_changes(
        self, requested: dict[str, Any], resumable: Iterable[str], saved: dict[str, Any] | None = None
    ) -> dict[str, list[Any]]:
        """The settings ``requested`` changes from the saved config (or ``saved``, e.g. the saved config
        completed with the defaults of settings added since), as ``{dotted key: [saved, requested]}``.

        Raises :class:`ValueError` listing every changed key outside ``resumable`` (settings that would
        change the model or the data order of a run already under way)."""
        changes = setting_differences(self.config() if saved is None else saved, requested)
        refused = sorted(k for k in changes if not within(k, resumable))
        if refused:
            listed = "; ".join(f"{k}: {changes[k][0]!r} -> {changes[k][1]!r}" for k in refused)
            raise ValueError(
                f"cannot resume {self.path} with other settings than it started with ({listed}). Only "
                f"{', '.join(sorted(resumable))} may change on resume; start a new run for the rest"
            )
        return changes

    # --- writers ---------------------------------------------------------------------------------
    def write_config(self, text: str) -> None:
        if self.writer:
            atomic_write_text(self.config_file, text)

    def write_environment(self, **extra: Any) -> None:
        if self.writer:
            atomic_write_text(self.path / self.ENVIRONMENT, json.dumps(environment() | extra, indent=2) + "\n")

    def write_summary(self, summary: dict[str, Any]) -> Path:
        return self.write_json(self.SUMMARY, summary)

    def log(self, record: dict[str, Any], file: str | None = None) -> None:
        """Append one JSON record to ``file`` (default: the metric log; its scalars are mirrored to
        TensorBoard when it is installed)."""
        if not self.writer:
            return
        file = file or self.METRICS
        with open(self.path / file, "a") as f:
            f.write(json.dumps(record) + "\n")
        if file == self.METRICS:
            self._log_tensorboard(record)

    def log_epoch(self, row: dict[str, Any]) -> None:
        """Append one row to the epoch table (the columns of the first row)."""
        if not self.writer:
            return
        path = self.path / self.METRICS_CSV
        exists = path.exists()
        fields = next(csv.reader(open(path))) if exists else list(row)
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if not exists:
                writer.writeheader()
            writer.writerow(row)

    def records(self, file: str | None = None) -> list[dict[str, Any]]:
        """The records of ``file`` (default: the metric log), in the order logged."""
        path = self.path / (file or self.METRICS)
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def truncate_logs(self, step: int, epoch: int) -> None:
        """Drop records after ``step`` / rows after ``epoch``: what a killed run logged past its checkpoint."""
        if not self.writer:
            return
        for file in (self.METRICS, self.LAMBDAS):
            if not (self.path / file).exists():
                continue
            kept = [r for r in self.records(file) if r.get("step", 0) <= step]
            atomic_write_text(self.path / file, "".join(json.dumps(r) + "\n" for r in kept))
        path = self.path / self.METRICS_CSV
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

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        if self.writer:
            atomic_write_text(path, text)
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


def setting_differences(saved: Any, requested: Any, prefix: str = "") -> dict[str, list[Any]]:
    """``{dotted key: [saved, requested]}`` for every leaf of two configs (plain mappings) that differs."""
    if isinstance(saved, dict) and isinstance(requested, dict):
        out: dict[str, list[Any]] = {}
        for key in dict.fromkeys([*saved, *requested]):
            out |= setting_differences(saved.get(key), requested.get(key), f"{prefix}{key}.")
        return out
    return {} if saved == requested else {prefix.rstrip("."): [saved, requested]}


def within(key: str, sections: Iterable[str]) -> bool:
    """Whether the dotted ``key`` is one of ``sections`` or inside one (``data.num_workers`` in ``data``)."""
    return any(key == section or key.startswith(section + ".") for section in sections)


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
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the vector kernels torch chose
        "cpu_threads": torch.get_num_threads(),
        "command": " ".join(sys.argv),
        "cwd": os.getcwd(),
    }


def cpu_model() -> str | None:
    """The processor's model name (``/proc/cpuinfo``, else :func:`platform.processor`). Runs in which
    every weight trains round differently on another CPU's kernels, so a run says which it ran on."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or None


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None
