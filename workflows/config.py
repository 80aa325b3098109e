"""Configs of the workflows: a fine-tuning run's sections plus what the workflow adds.

Each run a workflow starts gets only its own stage's sections (:func:`m2pt.train.config.project`),
so a seed's ``config.yaml`` holds that run, not the whole comparison or grid.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from m2pt.train.config import FinetuneRun, PretrainOptions, bounded


@dataclass
class ExecutorConfig:
    """Where a workflow's runs go: this process, local processes, or Slurm jobs (submitit)."""

    kind: Literal["sequential", "processes", "slurm"] = "sequential"
    workers: int = bounded(2, 1)  # processes: runs at once (one per GPU, or the cores split between them)
    threads: int | None = bounded(None, 1)  # CPU threads per run (processes: default cores / workers)
    slurm: dict[str, Any] = field(default_factory=dict)  # submitit parameters (slurm_partition, timeout_min, ...)


@dataclass
class CompareOptions:
    seeds: list[int] = bounded([0, 1, 2], 0)
    # arm name -> {aux: [auxiliary specs], role: ..., set: {overrides}}; see workflows.arms
    arms: dict[str, dict[str, Any]] = field(default_factory=lambda: {"baseline": {}})
    reference: str = "baseline"  # the arm others are compared with


@dataclass
class CompareConfig(FinetuneRun):
    """Arms (baseline, M2PT, controls, references) fine-tuned over the same seeds."""

    stage: ClassVar[str] = "compare"
    verbose: bool = False  # one progress bar for the workflow; each run's bars and lines go to its log.txt
    compare: CompareOptions = field(default_factory=CompareOptions)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)


@dataclass
class ExperimentOptions:
    """The main job: auxiliaries trained, then a comparison per setting, one model merged.

    An arm's ``aux`` entries (and a setting's ``finetune.init``) name auxiliaries of ``auxiliaries``
    (or are checkpoint paths). An auxiliary is pretrained as a masked autoencoder, or with
    ``stage: finetune`` trained supervised (see :func:`workflows.experiment.train_auxiliaries`); a
    setting may set its own ``compare.arms`` and ``compare.seeds``."""

    auxiliaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> the run's overrides (+ stage)
    settings: dict[str, dict[str, Any]] = field(default_factory=lambda: {"from_scratch_tune": {}})  # name -> overrides
    merge_arm: str | None = "m2pt"  # merge and verify this arm's first-seed model of the first setting


@dataclass
class ExperimentConfig(CompareConfig):
    stage: ClassVar[str] = "experiment"
    pretrain: PretrainOptions = field(default_factory=PretrainOptions)
    experiment: ExperimentOptions = field(default_factory=ExperimentOptions)


@dataclass
class GridOptions:
    """Every ordered (target, auxiliary) pair of modalities (the paper's Figure 3).

    ``modalities[m]`` holds the overrides that make modality ``m`` a run (its dataset, model
    options, epochs): used when ``m`` is the target, and, with ``pretrain`` and then
    ``pretrain_by_modality[m]`` on top, to pretrain ``m``'s auxiliary encoder (e.g. a point
    encoder pretrained on ``shapes`` for a part-segmentation target on ``part_shapes``, whose
    labelled items a masked autoencoder does not read). In the arms, the auxiliary ``paired`` is
    the pair's auxiliary encoder and ``own`` the target modality's own (a same-modality reference).
    ``references[r]`` is one more auxiliary trained for every modality, with ``modalities[m]`` and
    then ``references[r]`` (as an experiment's auxiliary: e.g. ``stage: finetune`` for a classifier,
    ``finetune.init: own`` to start it from ``m``'s encoder, ``per_seed: true``); in the arms, ``r``
    is the target's own (a positive reference known to carry its task's knowledge). Arms that do
    not use ``paired`` do not depend on the pair: they run once per target and are shared. A
    target's task is its dataset's (or ``task.name`` in its overrides): each pair is scored by its
    target's metric. ``settings_by_modality[s][m]`` are overrides of target ``m``'s runs in setting
    ``s`` only (e.g. more seeds where that target's seeds disagree most)."""

    modalities: dict[str, dict[str, Any]] = field(default_factory=dict)
    pretrain: dict[str, Any] = field(default_factory=dict)
    pretrain_by_modality: dict[str, dict[str, Any]] = field(default_factory=dict)
    references: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> overrides (+ stage, per_seed)
    # name -> overrides, each a grid in <grid>/<name>/ ({} : one grid at the root); finetune.init may be "own"
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # setting -> target -> overrides of that target's runs in that setting
    settings_by_modality: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


@dataclass
class GridConfig(CompareConfig):
    stage: ClassVar[str] = "grid"
    pretrain: PretrainOptions = field(default_factory=PretrainOptions)
    grid: GridOptions = field(default_factory=GridOptions)


@dataclass
class BudgetOptions:
    """One masked autoencoder, saved at ``epochs``, and the target fine-tuned from each of them."""

    pretrain: dict[str, Any] = field(default_factory=dict)  # overrides of the pretraining run (dataset, lr, ...)
    epochs: list[int] = bounded([1, 2, 4, 8], 1)  # where the curve is measured; the last is the run's length
    settings: dict[str, dict[str, Any]] = field(default_factory=lambda: {"tune": {}})  # name -> fine-tuning overrides
    share: float = bounded(0.9, 0, 1, open_low=True)  # the chosen budget reaches this share of the largest gain


@dataclass
class BudgetConfig(CompareConfig):
    stage: ClassVar[str] = "budget"
    pretrain: PretrainOptions = field(default_factory=PretrainOptions)
    budget: BudgetOptions = field(default_factory=BudgetOptions)
