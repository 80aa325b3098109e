"""Run configuration: one dataclass per stage, read from YAML and ``key=value`` overrides.

Each stage reads only its own sections: a pretraining run's ``config.yaml`` holds the data, the
model, the optimizer and the masking settings; a fine-tuning run's holds the pathway and the
fine-tuning settings instead. The engine reads a :class:`TrainConfig` derived from either.

Every key is type-checked against its field and every number against its allowed range before
any work starts; an unknown key is an error that suggests the closest known one.
``load_config(FinetuneRun, path, ["optim.lr=3e-4", "pathway.aux=[a.safetensors]"])`` parses
override values as YAML, so lists, numbers, booleans and ``null`` work.
"""

import dataclasses
import difflib
import math
import time
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import yaml

from m2pt.reparameterize import DEFAULT_LAYERS

C = TypeVar("C")


class ConfigError(ValueError):
    """A configuration that cannot run: unknown key, wrong type, number out of range, missing file."""


def bounded(default: Any, low: float | None = None, high: float | None = None, *, open_low: bool = False) -> Any:
    """A dataclass field whose numbers must lie in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    factory = {"default_factory": lambda: list(default)} if isinstance(default, list) else {"default": default}
    return field(**factory, metadata={"range": (low, high, open_low)})


@dataclass
class DataConfig:
    dataset: str = "mnist"  # a built-in dataset name (data_tools.list_datasets()) or "folder"
    root: str | None = None  # the folder of a "folder" dataset or of an upstream layout (e.g. "scanobjectnn")
    modality: str | None = None  # the modality of a "folder" dataset
    size: str = "default"  # the built-in dataset's size: "default" or "tiny"
    options: dict[str, Any] = field(default_factory=dict)  # passed to data_tools.build_dataset
    train_limit: int | None = bounded(None, 1)  # use only the first N training examples (of a seeded shuffle)
    val_limit: int | None = bounded(None, 1)
    batch_size: int = bounded(64, 1)  # global batch size (split across processes)
    eval_batch_size: int = bounded(256, 1)
    num_workers: int = bounded(0, 0)
    # Items read without augmentation are the same on every read: each process keeps up to this many
    # MiB of each split's after their first read, across the runs it trains (0: read every time).
    keep_in_memory_mb: int = bounded(256, 0)


@dataclass
class ModelConfig:
    modality: str = "image"
    size: str = "tiny"  # a model size of m2pt.SIZES
    options: dict[str, Any] = field(default_factory=dict)  # build_model overrides (img_size, depth, ...)


@dataclass
class OptimConfig:
    lr: float = bounded(1e-3, 0, 10, open_low=True)
    min_lr: float = bounded(1e-6, 0, 10)
    weight_decay: float = bounded(0.05, 0, 10)
    betas: list[float] = bounded([0.9, 0.999], 0, 1)
    warmup_epochs: float = bounded(1.0, 0)
    layer_decay: float | None = bounded(None, 0, 1, open_low=True)  # layer-wise lr decay (0.75 for pretrained ViTs)
    clip_grad: float | None = bounded(None, 0, open_low=True)
    accum_steps: int = bounded(1, 1)
    label_smoothing: float = bounded(0.0, 0, 1)
    mixup: float = bounded(0.0, 0)  # mixup alpha (grid inputs: image, audio, video); 0 disables
    # Mixing goes through timm.data.Mixup when mixup or cutmix is on (soft-target cross-entropy with
    # label_smoothing); with both 0 the loss is plain cross-entropy, exactly as before.
    cutmix: float = bounded(0.0, 0)  # CutMix alpha; 0 disables (video: one box cut through every frame)
    mixup_prob: float = bounded(1.0, 0, 1)  # probability that a batch is mixed at all
    mixup_switch_prob: float = bounded(0.5, 0, 1)  # with both on: probability of CutMix instead of mixup
    mixup_mode: Literal["batch", "pair", "elem"] = "batch"  # one draw per batch, per pair or per element
    # An exponential moving average of the weights (timm.utils.ModelEmaV3), updated after every
    # optimizer step. When on, validation, "best", and the run's saved model are the EMA weights;
    # the raw weights stay in checkpoints/last.pt ("model") for resuming, the EMA beside them ("ema").
    ema_decay: float | None = bounded(None, 0, 1, open_low=True)  # e.g. 0.9999; null: no EMA
    ema_warmup: bool = False  # timm's decay warm-up (1 - (1 + step)^-2/3), for short runs


@dataclass
class PathwayConfig:
    """Cross-modal re-parameterization; no ``aux`` means the plain baseline."""

    aux: list[str] = field(default_factory=list)  # auxiliary checkpoints, or controls (m2pt.controls.AuxSpec)
    layers: list[str] = field(default_factory=lambda: list(DEFAULT_LAYERS))
    block_map: str | list[int] = bounded("identity", 0)  # a name of m2pt.BLOCK_MAPS, or a block per target block
    lambda_init: float = bounded(0.0, -1e3, 1e3)
    lambda_trainable: bool = True
    # λ's learning rate = optim.lr x this (λ gets no weight decay). Measured on the main job's
    # MNIST regime (625 AdamW steps at lr 1e-3): at 1, as in the paper's code, λ ends near 0.01 and
    # the pathway changes nothing; 30 moves λ to ~0.17 (tune) and ~1.4 (fix) and gave the best fix
    # result; 100 was unstable in fix. See README, "Defaults".
    lambda_lr_scale: float = bounded(30.0, 0)
    aux_trainable: bool = True
    aux_lr_scale: float = bounded(1.0, 0)  # the auxiliary weights' learning rate = optim.lr x this
    trust_pickle: bool = False  # allow unpickling auxiliary checkpoint files


@dataclass
class PretrainOptions:
    """Masked-autoencoder pretraining."""

    mask_ratio: float = bounded(0.75, 0, 1, open_low=True)
    decoder_dim: int = bounded(128, 1)
    decoder_depth: int = bounded(2, 1)
    decoder_heads: int = bounded(4, 1)
    norm_pix_loss: bool = True  # per-patch normalised targets (grid modalities)
    save_epochs: list[int] = bounded([], 1)  # also save the encoder after these epochs


@dataclass
class FinetuneOptions:
    start: Literal["from_scratch", "pretrained"] = "from_scratch"  # see m2pt.vocabulary.Setting
    init: str | None = None  # the target's own pretrained checkpoint, for start=pretrained
    mode: Literal["tune", "fix"] = "tune"  # fix: blocks frozen, only λ, the head (and the tokenizer) train
    train_tokenizer: bool = False  # in fix mode, also train the tokenizer and position embedding
    # In tune mode without a pathway, train only the head and the weight matrices of the block linears
    # a pathway re-parameterizes (pathway.layers): all that fine-tuning changes in the body is then
    # carried by a `difference:` auxiliary (a positive reference that the pathway can hold whole).
    matrices_only: bool = False


@dataclass
class TaskOptions:
    """What the model predicts (:mod:`m2pt.tasks`): ``classification``, ``multilabel``,
    ``part_segmentation`` or ``semantic_segmentation``; by default the dataset's own task."""

    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # the task's settings (see m2pt.tasks)


@dataclass
class EvaluationOptions:
    """Multi-view evaluation of a fine-tuned model, used by the ``evaluate`` stage (the per-epoch
    validation stays one view, as upstream): the views' logits are averaged per example."""

    clips: int = bounded(1, 1)  # video: clips per video, evenly spaced in time (VideoMAE tests 5 on Kinetics)
    crops: int = bounded(1, 1)  # video: square crops per clip along the long side (VideoMAE: 3)
    votes: int = bounded(1, 1)  # point: augmented reads of each cloud (Point-MAE's voting: 10)

    def views(self) -> int:
        return self.clips * self.crops * self.votes


@dataclass
class TrainConfig:
    """What the engine reads."""

    epochs: int = 10
    log_every: int = 20
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    compile: bool = False
    verbose: bool = True
    optim: OptimConfig = field(default_factory=OptimConfig)
    checkpoint_every: int | None = None  # also save last.pt mid-epoch every N optimizer steps
    checkpoint_minutes: float | None = None  # also save last.pt mid-epoch when this long has passed
    eval_every: int | None = 1  # epochs between validations (None: the last only); the last is always validated


@dataclass
class RunConfig:
    """What every single run has: where it goes, how it trains, on what data, which model."""

    stage: ClassVar[str] = "run"
    name: str | None = None  # run folder name (default: stage and time)
    output_dir: str = "runs"
    seed: int = bounded(0, 0)
    epochs: int = bounded(10, 1)
    device: str = "auto"  # auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:1, mps
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 (or fp16) on GPU, fp32 on CPU
    compile: bool = False
    threads: int | None = bounded(None, 1)  # CPU threads per process
    log_every: int = bounded(20, 1)  # steps between training-metric records
    verbose: bool = True  # progress bars and epoch lines (False: a quiet run, for workflows)
    # Mid-epoch checkpoints (last.pt only; best.pt stays per epoch): every N optimizer steps and/or
    # every M minutes. A resume continues inside the epoch with the same data order and RNG states.
    checkpoint_every: int | None = bounded(None, 1)
    checkpoint_minutes: float | None = bounded(None, 0, open_low=True)
    # Validate after every N-th epoch and after the last (None: the last only). The score a run
    # reports is the last epoch's; "best" and the validation curve see only the validated epochs.
    # A classifier's training draws from seeds per item and epoch, so it is the same at any
    # setting; a masked autoencoder's masks come from the global random state, which its
    # validation's masks advance, so there it changes the training.
    eval_every: int | None = bounded(1, 1)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def path(self) -> Path:
        """The run folder."""
        return Path(self.output_dir) / (self.name or f"{self.stage}-{time.strftime('%Y%m%d-%H%M%S')}")

    def training(self) -> TrainConfig:
        return TrainConfig(self.epochs, self.log_every, self.precision, self.compile, self.verbose, self.optim,
                           self.checkpoint_every, self.checkpoint_minutes, self.eval_every)  # fmt: skip


@dataclass
class PretrainRun(RunConfig):
    stage: ClassVar[str] = "pretrain"
    pretrain: PretrainOptions = field(default_factory=PretrainOptions)


@dataclass
class FinetuneRun(RunConfig):
    stage: ClassVar[str] = "finetune"
    pathway: PathwayConfig = field(default_factory=PathwayConfig)
    finetune: FinetuneOptions = field(default_factory=FinetuneOptions)
    task: TaskOptions = field(default_factory=TaskOptions)
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)  # what `evaluate` does by default


@dataclass
class MergeConfig:
    stage: ClassVar[str] = "merge"
    source: str | None = None  # a fine-tuning run folder or its model.safetensors
    tolerance: float = bounded(1e-5, 0)  # the largest |output difference| the merge may make
    data: dict[str, Any] = field(default_factory=dict)  # overrides of the saved data settings (the probe batch)


@dataclass
class EvaluateConfig:
    stage: ClassVar[str] = "evaluate"
    source: str | None = None  # a run folder or a classifier .safetensors (merged too)
    split: str = "val"
    device: str = "auto"
    data: dict[str, Any] = field(default_factory=dict)  # overrides of the saved data settings
    evaluation: dict[str, Any] = field(default_factory=dict)  # overrides of the saved evaluation settings (views)


# What a resumed run may change: the length of training, and what does not touch the model, the
# data or their order (how the run reads its data, logs and shows progress, where it runs).
RESUMABLE = ("epochs", "log_every", "verbose", "threads", "device", "compile", "data.num_workers",
             "data.eval_batch_size", "data.keep_in_memory_mb", "name", "output_dir", "checkpoint_every",
             "checkpoint_minutes", "evaluation")  # fmt: skip
# What a finished run may differ in from the config asking for it and still be that run (and what a
# cached encoder's key leaves out): what a resume may change, but the length of training.
NOT_WEIGHTS = tuple(key for key in RESUMABLE if key != "epochs")


def load_config(cls: type[C], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> C:
    """The default ``cls`` config, updated by the YAML file at ``path`` and then by ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return apply_overrides(from_dict(cls, data), overrides)


def saved_config(cls: type[C], saved: dict[str, Any]) -> C:
    """A run's saved config (the mapping its ``config.yaml`` holds) as ``cls``: settings added since it
    was written take their defaults, so it compares with today's configs."""
    return from_dict(cls, saved)


def apply_overrides(config: C, overrides: list[str] | tuple[str, ...] | dict[str, Any]) -> C:
    """A copy of ``config`` with dotted-key overrides applied (``"a.b=value"`` strings or a mapping)."""
    data = to_dict(config)
    items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
    for key, value in items:
        _set_dotted(data, key, value)
    return from_dict(type(config), data)


def project(config: Any, cls: type[C], overrides: dict[str, Any] | None = None) -> C:
    """A ``cls`` config holding the sections of ``config`` that ``cls`` has, then ``overrides``:
    how a workflow hands each of its runs only what that run reads."""
    names = {f.name for f in dataclasses.fields(cls)}
    shared = {k: v for k, v in to_dict(config).items() if k in names}
    return apply_overrides(from_dict(cls, shared), overrides or {})


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def dump_yaml(config: Any) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def from_dict(cls: type[C], data: dict[str, Any], prefix: str = "") -> C:
    """Build dataclass ``cls`` from ``data``, checking every key, value type and numeric range."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else f"; known: {', '.join(fields)}"
            raise ConfigError(f"unknown config key {prefix}{key}{hint}")
        values[key] = _convert(hints[key], value, f"{prefix}{key}")
        if "range" in fields[key].metadata:
            _check_range(values[key], fields[key].metadata["range"], f"{prefix}{key}")
    return cls(**values)


def _check_range(value: Any, bounds: tuple[float | None, float | None, bool], key: str) -> None:
    for number in value if isinstance(value, list) else [value]:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            continue  # a name (e.g. block_map="identity") or null
        low, high, open_low = bounds
        below = low is not None and (number <= low if open_low else number < low)
        if not math.isfinite(number) or below or (high is not None and number > high):
            left = "(" if open_low else "["
            allowed = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            raise ConfigError(f"{key}: {number!r} is out of range; allowed: {allowed}")


def _convert(kind: Any, value: Any, key: str) -> Any:
    if dataclasses.is_dataclass(kind):
        return from_dict(kind, value or {}, f"{key}.")
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _convert(option, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {value!r} is not a valid {_name(kind)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return {str(k): _convert(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if kind is type(None):
        if value is not None:
            raise ConfigError(f"{key}: expected null, got {value!r}")
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str):
        try:
            return float(value)  # YAML reads 3e-4 (no dot) as a string
        except ValueError:
            pass
    if kind in (int, float, str, bool) and (type(value) is kind):
        return value
    raise ConfigError(f"{key}: expected {_name(kind)}, got {value!r} ({type(value).__name__})")


def _name(kind: Any) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")


def _split(override: str) -> tuple[str, Any]:
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r} is not of the form key=value")
    try:
        return key.strip(), yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"override {override!r}: cannot parse the value ({error})") from None


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = data
    for i, part in enumerate(parents):
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            if isinstance(node, dict) and part in node:
                raise ConfigError(f"{'.'.join(parents[: i + 1])} is not a group of settings (in override {key})")
            child = node.setdefault(part, {})  # unknown group: from_dict reports it
        node = child
    node[last] = value
