"""Ready-made run settings for the notebooks and widgets: each modality's built-in dataset at one
of the budgets of :data:`BUDGETS`:

- ``"small"`` runs in seconds on a CPU (tiny data, 2 epochs): what the tests execute, every
  notebook included. It shows the plumbing only; every arm of a comparison usually scores the same.
- ``"demo"`` is the default size of the notebooks whose figures are the point (``02_image``,
  ``06_analysis``): about two minutes per experiment on one core, and long enough for one effect
  to show on an image target. It fine-tunes in the fix setting (blocks frozen at their random
  initialisation; tokenizer, head and λ train), where after 750 steps every pathway, the controls
  included, scores several points above the baseline: the added weight scale, not knowledge.
- ``"demo_audio"``, ``"demo_point"``, ``"demo_video"`` (:data:`DEMO_BY_TARGET`) are the default
  sizes of the audio, point and video notebooks, where the fix setting's weight-scale effect does not
  show (a pathway to random weights moves these targets by under a point). They are sized so that
  the per-seed positive reference of ``experiment_config(..., own_reference=True)`` shows instead,
  in about three minutes on one core.
- ``"full"`` is for real runs.

Every function returns a config of :mod:`m2pt.train.config` or :mod:`workflows.config`; adjust
it with ``apply_overrides(config, {"optim.lr": 3e-4, ...})``.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from m2pt.comparison import Comparison
from m2pt.train import ensure_run
from m2pt.train.config import FinetuneRun, PretrainRun, apply_overrides, project
from m2pt.vocabulary import MODALITIES, SETTINGS
from workflows.compare import compare
from workflows.config import CompareConfig, ExperimentConfig
from workflows.designs import CONTROLS, control_arms
from workflows.experiment import AUXILIARY_SEED

DATASETS = {"image": "mnist", "audio": "spoken_digits", "video": "moving_digits", "point": "shapes"}
FEWER_POINTS = {"point": {"num_groups": 32, "group_size": 16}}  # a quarter of the points through the PointNet


@dataclass(frozen=True)
class Budget:
    """How much a notebook run costs: data, model depth, epochs, seeds; and the setting it fine-tunes in."""

    data_size: str  # the built-in datasets' size
    depth: int  # blocks of the tiny ViT (width 96)
    batch_size: int
    epochs: int  # fine-tuning
    pretrain_epochs: int
    save_epochs: tuple[int, ...]  # earlier pretraining epochs whose encoders are kept
    seeds: tuple[int, ...]
    log_every: int
    threads: int | None  # CPU threads (None: torch's default); tiny models run fastest on one
    train_limit: int | None = None  # a fixed subset of the training examples (data.train_limit)
    val_limit: int | None = None
    setting: str = "from_scratch_tune"  # a name of m2pt.vocabulary.SETTINGS; fix also trains the tokenizer
    pretrain_data_size: str | None = None  # the data size the auxiliaries pretrain on (None: data_size)
    options: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # build_model overrides by modality
    lr: float = 1e-3  # optim.lr of fine-tuning and pretraining
    own_epochs: int | None = None  # the training of experiment_config's positive reference (None: 2 x epochs)


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
    options=FEWER_POINTS,
)
DEMO = Budget(
    data_size="default",
    depth=3,
    batch_size=8,
    epochs=6,  # 750 steps; at 375 a pathway gained a point or two, at 750 about five to nine
    pretrain_epochs=2,
    save_epochs=(1,),
    seeds=(0, 1, 2),
    log_every=25,
    threads=1,
    train_limit=1000,
    val_limit=500,
    setting="from_scratch_fix",
    pretrain_data_size="tiny",  # barely trained: random weights gain as much in fix; spoken digits build in 1 s, not 30
    options=FEWER_POINTS,
)
# The demo sizes of the audio, point and video notebooks, which show the per-seed positive reference
# (experiment_config(..., own_reference=True)) in the fix setting: the baseline and every pathway to
# weights without the task's knowledge score the same (audio and video at chance; point at about 40%,
# as its tokenizer learns), and a pathway to the target's own trained weights scores clearly above
# them (the notebooks give the numbers). Two seeds: the most that fits about three minutes on one core.
OWN_DEMO = replace(DEMO, batch_size=32, epochs=3, lr=0.002, seeds=(0, 1), log_every=10)
DEMO_BY_TARGET = {
    "audio": OWN_DEMO,
    # own trained for 6 epochs gained a point and a half over point's 44% baseline, for 12 about eight
    "point": replace(OWN_DEMO, own_epochs=12),
    # a video run costs 1.3 audio ones; an own classifier of 4 epochs stayed at chance in one seed
    "video": replace(OWN_DEMO, epochs=2, own_epochs=6),
}
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
BUDGETS = {"small": SMALL, "demo": DEMO, **{f"demo_{target}": b for target, b in DEMO_BY_TARGET.items()}, "full": FULL}


def budget(size: str) -> Budget:
    """The budget named ``size``, a key of :data:`BUDGETS`."""
    if size not in BUDGETS:
        raise ValueError(f"unknown size {size!r}; choose from {sorted(BUDGETS)}")
    return BUDGETS[size]


def run_config(modality: str, *, size: str, output_dir: str | Path, name: str | None = None) -> FinetuneRun:
    """A plain fine-tuning run on ``modality``'s built-in dataset in the budget's setting (also the base
    of comparisons)."""
    if modality not in DATASETS:
        raise ValueError(f"unknown modality {modality!r}; choose from {MODALITIES}")
    b = budget(size)
    setting = SETTINGS[b.setting]
    return apply_overrides(FinetuneRun(), {
        "output_dir": str(output_dir),
        "name": name,
        "data.dataset": DATASETS[modality],
        "data.size": b.data_size,
        "data.train_limit": b.train_limit,
        "data.val_limit": b.val_limit,
        "data.batch_size": b.batch_size,
        "optim.lr": b.lr,
        "model.modality": modality,
        "model.options": model_options(modality, size=size),
        "epochs": b.epochs,
        "log_every": b.log_every,
        "threads": b.threads,
        **setting.overrides(),
        "finetune.train_tokenizer": setting.mode == "fix",  # as configs/main.yaml's fix setting
    })  # fmt: skip


def model_options(modality: str, *, size: str) -> dict[str, int]:
    """``build_model`` overrides of the tiny model (which fits the built-in data) at this budget."""
    b = budget(size)
    return {"depth": b.depth, **b.options.get(modality, {})}


def pretrain_changes(modality: str, *, size: str) -> dict[str, object]:
    """Overrides that turn a run config into masked-autoencoder pretraining on ``modality``'s data."""
    b = budget(size)
    return {
        "data.dataset": DATASETS[modality],
        "data.size": b.pretrain_data_size or b.data_size,
        "model.modality": modality,
        "model.options": model_options(modality, size=size),
        "epochs": b.pretrain_epochs,
        "pretrain.save_epochs": list(b.save_epochs),
    }


def pretrain_config(modality: str, *, size: str, output_dir: str | Path) -> PretrainRun:
    """Masked-autoencoder pretraining of an encoder on ``modality``'s data, in ``<output_dir>/aux/<modality>``,
    seeded like an experiment's auxiliaries (:data:`workflows.experiment.AUXILIARY_SEED`), so that an
    experiment's encoder there is the same run."""
    config = run_config(modality, size=size, output_dir=Path(output_dir) / "aux", name=modality)
    return project(config, PretrainRun, {**pretrain_changes(modality, size=size), "seed": AUXILIARY_SEED})


def pretrained_encoder(modality: str, output_dir: str | Path, *, size: str) -> Path:
    """The encoder of :func:`pretrain_config`, pretrained now unless it is there already."""
    return ensure_run("pretrain", pretrain_config(modality, size=size, output_dir=output_dir)).encoder


def compare_config(base: FinetuneRun, name: str, arms: dict[str, Any], seeds: Sequence[int]) -> CompareConfig:
    """The comparison ``<base.output_dir>/<name>`` of ``arms`` over ``seeds``, sharing ``base``'s settings."""
    return project(base, CompareConfig, {"name": name, "compare.arms": arms, "compare.seeds": list(seeds)})


def run_arms(name: str, arms: dict[str, Any], base: FinetuneRun, seeds: Sequence[int]) -> Comparison:
    """Run ``arms`` (YAML entries of :mod:`workflows.arms`) as the comparison ``<base.output_dir>/<name>``
    over ``seeds``; finished runs are kept."""
    return compare(compare_config(base, name, arms, seeds))


OWN = "own"  # the per-seed positive reference of experiment_config: the target's own trained weights


def experiment_config(
    target: str, aux: str, *, size: str, output_dir: str | Path, name: str, controls: tuple[str, ...] = CONTROLS,
    own_reference: bool = False,
) -> ExperimentConfig:  # fmt: skip
    """The ``experiment`` workflow for ``target`` with an auxiliary pretrained on ``aux``'s data: arms
    baseline, m2pt and ``controls``, from scratch, in the budget's setting (its one setting), over
    the budget's seeds. With ``own_reference``, also the positive reference ``own``: per seed, a
    classifier trained from that seed's own initial weights for the budget's ``own_epochs`` (an
    auxiliary known to carry the task's knowledge, which a working setup must see)."""
    b = budget(size)
    base = run_config(target, size=size, output_dir=output_dir, name=name)
    auxiliaries: dict[str, Any] = {aux: pretrain_changes(aux, size=size)}
    arms = control_arms(aux, controls)
    if own_reference:
        auxiliaries[OWN] = {
            "stage": "finetune",
            "per_seed": True,
            "finetune.mode": "tune",
            "epochs": b.own_epochs or 2 * b.epochs,
        }
        arms[OWN] = {"aux": [OWN], "role": "positive_reference"}
    return project(base, ExperimentConfig, {
        "experiment.auxiliaries": auxiliaries,
        "experiment.settings": {b.setting: {}},  # the base is in it already
        "compare.arms": arms,
        "compare.seeds": list(b.seeds),
    })  # fmt: skip
