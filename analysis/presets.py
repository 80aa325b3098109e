"""Ready-made run settings for the notebooks and widgets: each modality's built-in dataset, a
small size that runs in seconds on a CPU (what CI executes), and a full size for real runs.

Every function returns a :class:`m2pt.train.Config`; adjust it with
``apply_overrides(config, {"optim.lr": 3e-4, ...})``.
"""

from dataclasses import dataclass
from pathlib import Path

from analysis.ablations import CONTROLS, control_arms
from m2pt.train import Config, apply_overrides, run_stage
from m2pt.train.session import run_path

MODALITIES = ("image", "audio", "video", "point")
DATASETS = {"image": "mnist", "audio": "spoken_digits", "video": "moving_digits", "point": "shapes"}
SMALL_SETTINGS = {"point": {"num_groups": 32, "group_size": 16}}  # a quarter of the points through the PointNet


@dataclass(frozen=True)
class Size:
    data_size: str  # the built-in datasets' size
    depth: int  # blocks of the tiny ViT (width 96)
    batch_size: int
    epochs: int  # fine-tuning
    pretrain_epochs: int
    save_epochs: tuple[int, ...]  # earlier pretraining epochs whose encoders are kept
    seeds: tuple[int, ...]
    log_every: int
    threads: int | None  # CPU threads (None: torch's default); tiny models run fastest on one


SMALL = Size(
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
FULL = Size(
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


def size(small: bool) -> Size:
    return SMALL if small else FULL


def run_config(modality: str, *, small: bool, output_dir: str | Path, name: str | None = None) -> Config:
    """A plain fine-tuning run on ``modality``'s built-in dataset (also the base of comparisons)."""
    if modality not in DATASETS:
        raise ValueError(f"unknown modality {modality!r}; choose from {MODALITIES}")
    s = size(small)
    return apply_overrides(
        Config(),
        {
            "output_dir": str(output_dir),
            "name": name,
            "data.dataset": DATASETS[modality],
            "data.size": s.data_size,
            "data.batch_size": s.batch_size,
            "model.modality": modality,
            "model.settings": model_settings(modality, small=small),
            "epochs": s.epochs,
            "log_every": s.log_every,
            "threads": s.threads,
            "compare.seeds": list(s.seeds),
        },
    )


def model_settings(modality: str, *, small: bool) -> dict[str, int]:
    """``build_model`` overrides of the tiny model (which fits the built-in data) at this size."""
    return {"depth": size(small).depth, **(SMALL_SETTINGS.get(modality, {}) if small else {})}


def pretrain_changes(modality: str, *, small: bool) -> dict[str, object]:
    """Overrides that turn a run config into masked-autoencoder pretraining on ``modality``'s data."""
    s = size(small)
    return {
        "data.dataset": DATASETS[modality],
        "model.modality": modality,
        "model.settings": model_settings(modality, small=small),
        "epochs": s.pretrain_epochs,
        "pretrain.save_epochs": list(s.save_epochs),
    }


def pretrain_config(modality: str, *, small: bool, output_dir: str | Path) -> Config:
    """Masked-autoencoder pretraining of an encoder on ``modality``'s data, in ``<output_dir>/aux/<modality>``."""
    config = run_config(modality, small=small, output_dir=Path(output_dir) / "aux", name=modality)
    return apply_overrides(config, pretrain_changes(modality, small=small))


def pretrained_encoder(modality: str, output_dir: str | Path, *, small: bool) -> Path:
    """The encoder of :func:`pretrain_config`, pretrained now unless it is there already."""
    return run_once("pretrain", pretrain_config(modality, small=small, output_dir=output_dir)) / "encoder.safetensors"


def run_once(stage: str, config: Config) -> Path:
    """Run a ``pretrain`` or ``finetune`` stage unless its folder holds a finished run (``summary.json``);
    an interrupted one is resumed. Returns the run folder (so a notebook can be re-executed)."""
    folder = run_path(config)
    if not (folder / "summary.json").exists():
        run_stage(stage, config, resume=(folder / "checkpoints" / "last.pt").exists())
    return folder


def experiment_config(
    target: str, aux: str, *, small: bool, output_dir: str | Path, name: str, controls: tuple[str, ...] = CONTROLS
) -> Config:
    """The ``experiment`` stage for ``target`` with an auxiliary pretrained on ``aux``'s data: arms
    baseline, m2pt and ``controls``, from scratch, over the size's seeds."""
    arms = control_arms(f"${{{aux}}}", controls)
    return apply_overrides(
        run_config(target, small=small, output_dir=output_dir, name=name),
        {"experiment.auxiliaries": {aux: pretrain_changes(aux, small=small)}, "compare.arms": arms},
    )
