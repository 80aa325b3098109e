"""Ready-made run settings for the notebooks and widgets: each modality's built-in dataset, a
small budget that runs in seconds on a CPU (what CI executes), and a full budget for real runs.

Every function returns a config of :mod:`m2pt.train.config` or :mod:`workflows.config`; adjust
it with ``apply_overrides(config, {"optim.lr": 3e-4, ...})``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2pt.comparison import Comparison
from m2pt.train import ensure_run
from m2pt.train.config import FinetuneRun, PretrainRun, apply_overrides, project
from m2pt.vocabulary import MODALITIES
from workflows.compare import compare
from workflows.config import CompareConfig, ExperimentConfig
from workflows.designs import CONTROLS, control_arms

DATASETS = {"image": "mnist", "audio": "spoken_digits", "video": "moving_digits", "point": "shapes"}
SMALL_OPTIONS = {"point": {"num_groups": 32, "group_size": 16}}  # a quarter of the points through the PointNet


@dataclass(frozen=True)
class Budget:
    """How much a notebook run costs: data, model depth, epochs, seeds."""

    data_size: str  # the built-in datasets' size
    depth: int  # blocks of the tiny ViT (width 96)
    batch_size: int
    epochs: int  # fine-tuning
    pretrain_epochs: int
    save_epochs: tuple[int, ...]  # earlier pretraining epochs whose encoders are kept
    seeds: tuple[int, ...]
    log_every: int
    threads: int | None  # CPU threads (None: torch's default); tiny models run fastest on one


SMALL = Budget(
    data_size="tiny",
    depth=3,
    batch_size=16,
    epochs=2,
    pretrain_epochs=2,
    save_epochs=(1,),
    seeds=(0, 1),
    log_every=1,
    threads=1,
)
FULL = Budget(
    data_size="default",
    depth=4,
    batch_size=64,
    epochs=30,
    pretrain_epochs=30,
    save_epochs=(1, 3, 10),
    seeds=(0, 1, 2, 3, 4),
    log_every=10,
    threads=None,
)


def budget(small: bool) -> Budget:
    return SMALL if small else FULL


def run_config(modality: str, *, small: bool, output_dir: str | Path, name: str | None = None) -> FinetuneRun:
    """A plain fine-tuning run on ``modality``'s built-in dataset (also the base of comparisons)."""
    if modality not in DATASETS:
        raise ValueError(f"unknown modality {modality!r}; choose from {MODALITIES}")
    b = budget(small)
    return apply_overrides(FinetuneRun(), {
        "output_dir": str(output_dir),
        "name": name,
        "data.dataset": DATASETS[modality],
        "data.size": b.data_size,
        "data.batch_size": b.batch_size,
        "model.modality": modality,
        "model.options": model_options(modality, small=small),
        "epochs": b.epochs,
        "log_every": b.log_every,
        "threads": b.threads,
    })  # fmt: skip


def model_options(modality: str, *, small: bool) -> dict[str, int]:
    """``build_model`` overrides of the tiny model (which fits the built-in data) at this budget."""
    return {"depth": budget(small).depth, **(SMALL_OPTIONS.get(modality, {}) if small else {})}


def pretrain_changes(modality: str, *, small: bool) -> dict[str, object]:
    """Overrides that turn a run config into masked-autoencoder pretraining on ``modality``'s data."""
    b = budget(small)
    return {
        "data.dataset": DATASETS[modality],
        "model.modality": modality,
        "model.options": model_options(modality, small=small),
        "epochs": b.pretrain_epochs,
        "pretrain.save_epochs": list(b.save_epochs),
    }


def pretrain_config(modality: str, *, small: bool, output_dir: str | Path) -> PretrainRun:
    """Masked-autoencoder pretraining of an encoder on ``modality``'s data, in ``<output_dir>/aux/<modality>``."""
    config = run_config(modality, small=small, output_dir=Path(output_dir) / "aux", name=modality)
    return project(config, PretrainRun, pretrain_changes(modality, small=small))


def pretrained_encoder(modality: str, output_dir: str | Path, *, small: bool) -> Path:
    """The encoder of :func:`pretrain_config`, pretrained now unless it is there already."""
    return ensure_run("pretrain", pretrain_config(modality, small=small, output_dir=output_dir)).encoder


def compare_config(base: FinetuneRun, name: str, arms: dict[str, Any], seeds: Sequence[int]) -> CompareConfig:
    """The comparison ``<base.output_dir>/<name>`` of ``arms`` over ``seeds``, sharing ``base``'s settings."""
    return project(base, CompareConfig, {"name": name, "compare.arms": arms, "compare.seeds": list(seeds)})


def run_arms(name: str, arms: dict[str, Any], base: FinetuneRun, seeds: Sequence[int]) -> Comparison:
    """Run ``arms`` (YAML entries of :mod:`workflows.arms`) as the comparison ``<base.output_dir>/<name>``
    over ``seeds``; finished runs are kept."""
    return compare(compare_config(base, name, arms, seeds))


def experiment_config(
    target: str, aux: str, *, small: bool, output_dir: str | Path, name: str, controls: tuple[str, ...] = CONTROLS
) -> ExperimentConfig:
    """The ``experiment`` workflow for ``target`` with an auxiliary pretrained on ``aux``'s data: arms
    baseline, m2pt and ``controls``, from scratch, over the budget's seeds."""
    base = run_config(target, small=small, output_dir=output_dir, name=name)
    return project(base, ExperimentConfig, {
        "experiment.auxiliaries": {aux: pretrain_changes(aux, small=small)},
        "compare.arms": control_arms(aux, controls),
        "compare.seeds": list(budget(small).seeds),
    })  # fmt: skip
