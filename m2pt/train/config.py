"""Run configuration: nested dataclasses, read from YAML and ``key=value`` overrides.

Every key is type-checked against its field; an unknown key is an error that suggests the
closest known one. ``load_config(path, ["optim.lr=3e-4", "pathway.aux=[a.safetensors]"])``
parses override values as YAML, so lists, numbers, booleans and ``null`` work.
"""

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from m2pt.reparameterize import DEFAULT_LAYERS


class ConfigError(ValueError):
    """A configuration that cannot run: unknown key, wrong type, missing file, inconsistent settings."""


@dataclass
class DataConfig:
    dataset: str = "mnist"  # a built-in dataset name (data_tools.list_datasets()) or "folder"
    root: str | None = None  # the folder of a "folder" dataset
    modality: str | None = None  # the modality of a "folder" dataset
    size: str = "default"  # "default" or "tiny" (built-in datasets)
    options: dict[str, Any] = field(default_factory=dict)  # passed to data_tools.build_dataset
    train_limit: int | None = None  # use only the first N training examples (of a seeded shuffle)
    val_limit: int | None = None
    batch_size: int = 64  # global batch size (split across processes)
    eval_batch_size: int = 256
    num_workers: int = 0


@dataclass
class ModelConfig:
    modality: str = "image"
    size: str = "tiny"
    settings: dict[str, Any] = field(default_factory=dict)  # build_model overrides (img_size, depth, ...)


@dataclass
class PathwayConfig:
    """Cross-modal re-parameterization; no ``aux`` means the plain baseline."""

    aux: list[str] = field(default_factory=list)  # auxiliary checkpoints, or controls (see m2pt.controls)
    layers: list[str] = field(default_factory=lambda: list(DEFAULT_LAYERS))
    block_map: str | list[int] = "identity"
    lambda_init: float = 0.0
    lambda_trainable: bool = True
    # λ's learning rate = optim.lr x this (λ gets no weight decay). Measured on the main job's
    # MNIST regime (625 AdamW steps at lr 1e-3): at 1, as in the paper's code, λ ends near 0.01 and
    # the pathway changes nothing; 30 moves λ to ~0.17 (tune) and ~1.4 (fix) and gave the best fix
    # result; 100 was unstable in fix. See README, "Defaults".
    lambda_lr_scale: float = 30.0
    aux_trainable: bool = True
    aux_lr_scale: float = 1.0  # the auxiliary weights' learning rate = optim.lr x this
    trust_pickle: bool = False  # allow unpickling auxiliary checkpoint files


@dataclass
class OptimConfig:
    lr: float = 1e-3
    min_lr: float = 1e-6
    weight_decay: float = 0.05
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    warmup_epochs: float = 1.0
    layer_decay: float | None = None  # layer-wise lr decay (e.g. 0.75 for fine-tuning pretrained ViTs)
    clip_grad: float | None = None
    accum_steps: int = 1
    label_smoothing: float = 0.0
    mixup: float = 0.0  # mixup alpha (images); 0 disables


@dataclass
class PretrainConfig:
    mask_ratio: float = 0.75
    decoder_dim: int = 128
    decoder_depth: int = 2
    decoder_heads: int = 4
    norm_pix_loss: bool = True  # per-patch normalised targets (grid modalities)
    save_epochs: list[int] = field(default_factory=list)  # also save the encoder after these epochs


@dataclass
class FinetuneConfig:
    setting: Literal["from_scratch", "pretrained"] = "from_scratch"
    init: str | None = None  # target checkpoint for the pretrained setting
    mode: Literal["tune", "fix"] = "tune"  # fix: block linears frozen, only λ and the head train
    train_tokenizer: bool = False  # in fix mode, also train the tokenizer and position embedding


@dataclass
class CompareConfig:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    arms: dict[str, dict[str, Any]] = field(default_factory=lambda: {"baseline": {}})  # arm -> overrides
    reference: str = "baseline"  # the arm others are compared with


@dataclass
class ExperimentConfig:
    """The main job: pretrain auxiliaries, compare arms in each setting, merge one model.

    ``${name}`` in ``compare.arms`` stands for the encoder pretrained as ``auxiliaries[name]``.
    """

    auxiliaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> pretrain overrides
    settings: dict[str, dict[str, Any]] = field(default_factory=lambda: {"from_scratch": {}})  # name -> overrides
    merge_arm: str | None = "m2pt"  # merge and verify this arm's first-seed model of the first setting


@dataclass
class GridConfig:
    """Every ordered (target, auxiliary) pair of modalities (the paper's Figure 3).

    ``modalities[m]`` holds the overrides that make modality ``m`` a run (its dataset, model
    settings, epochs): used when ``m`` is the target, and, with ``pretrain`` on top, to pretrain
    ``m``'s auxiliary encoder. In ``compare.arms``, ``${aux}`` is the paired auxiliary's encoder
    and ``${self}`` the target modality's own (a same-modality reference). Arms without
    ``${aux}`` do not depend on the pair: they run once per target and are shared.
    """

    modalities: dict[str, dict[str, Any]] = field(default_factory=dict)
    pretrain: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    stage: str = "finetune"
    name: str | None = None  # run folder name (default: stage and time)
    output_dir: str = "runs"
    source: str | None = None  # merge/evaluate: a run folder or checkpoint file
    seed: int = 0
    epochs: int = 10
    device: str = "auto"  # auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:1, mps
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 (or fp16) on GPU, fp32 on CPU
    compile: bool = False
    threads: int | None = None  # CPU threads per process
    log_every: int = 20  # steps between training-metric records
    eval_split: str = "val"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pathway: PathwayConfig = field(default_factory=PathwayConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    grid: GridConfig = field(default_factory=GridConfig)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """The default config, updated by the YAML file at ``path`` and then by ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    config = from_dict(Config, data)
    return apply_overrides(config, overrides)


def apply_overrides(config: Config, overrides: list[str] | tuple[str, ...] | dict[str, Any]) -> Config:
    """A copy of ``config`` with dotted-key overrides applied (``"a.b=value"`` strings or a mapping)."""
    data = to_dict(config)
    items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
    for key, value in items:
        _set_dotted(data, key, value)
    return from_dict(Config, data)


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def dump_yaml(config: Config) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, checking every key and value type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in data.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else f"; known: {', '.join(names)}"
            raise ConfigError(f"unknown config key {prefix}{key}{hint}")
        values[key] = _convert(hints[key], value, f"{prefix}{key}")
    return cls(**values)


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
