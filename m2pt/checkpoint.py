"""Reading checkpoints of any supported layout, and writing the project's own (safetensors).

:func:`load_checkpoint` accepts a file (safetensors, or a PyTorch file read with
``weights_only=True``), a state dict, a training checkpoint wrapping one (``model``,
``state_dict``, ``base_model``), or an ``nn.Module``, and returns weights under timm's ViT names
(see :mod:`m2pt.checkpoint_layouts`). Pickled Python objects, such as the paper's released
files (whole pickled timm models), are only unpickled with ``trust_pickle=True``: unpickling
runs arbitrary code.

:func:`save_checkpoint` writes a safetensors file atomically, with its metadata both in the
file's header and in a JSON file beside it.
"""

import argparse
import json
import logging
import os
import pickle
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn

from m2pt.atomic import atomic_path
from m2pt.checkpoint_layouts import find_layout, split_encoder, strip_wrappers
from m2pt.cross_modal_linear import CrossModalLinear
from m2pt.merge import merge

log = logging.getLogger(__name__)

CheckpointSource = str | os.PathLike | Mapping[str, Any] | nn.Module
CONTAINER_KEYS = ("model", "state_dict", "base_model", "model_state")
METADATA_KEY = "m2pt"
# Plain data containers that training scripts save beside the weights (MAE, AudioMAE and
# VideoMAE store their argparse arguments); allowed in weights_only loading: they run no code.
SAFE_GLOBALS = [argparse.Namespace]


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit where it is used."""


class StateDict(dict):
    """Weights (``name -> Tensor``) with timm's ViT names, plus where they came from.

    ``layout``: the recognised key layout (``"point-mae"``, ``"videomae"``, ``"timm-vit"``,
    ``"m2pt"`` for this project's files, ``"module"`` for an ``nn.Module``); ``source``: a
    description of the input; ``dropped``: the keys set aside (decoders and the like);
    ``metadata``: what an m2pt file recorded about itself.
    """

    def __init__(
        self,
        weights: Mapping[str, Tensor],
        *,
        layout: str,
        source: str,
        dropped: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(weights)
        self.layout = layout
        self.source = source
        self.dropped = dropped or []
        self.metadata = metadata or {}


def load_checkpoint(source: CheckpointSource, *, trust_pickle: bool = False) -> StateDict:
    """Read ``source`` and return its encoder weights under timm's ViT names.

    Raises :class:`CheckpointError` for a missing, corrupt or unrecognised file, a pickled file
    without ``trust_pickle=True``, or weights with NaN/inf values.
    """
    name = _describe(source)
    if isinstance(source, nn.Module):
        return _checked(StateDict(module_weights(source), layout="module", source=name))
    if isinstance(source, (str, os.PathLike)):
        source = _read_file(Path(source), trust_pickle)
        if isinstance(source, StateDict):
            return _checked(source)
    obj = _unwrap(source)
    if isinstance(obj, nn.Module):
        return _checked(StateDict(module_weights(obj), layout="module", source=name))
    tensors = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
    ignored = [k for k in obj if k not in tensors]
    tensors = strip_wrappers(tensors)
    layout = find_layout(tensors)
    if layout is None:
        sample = ", ".join(list(tensors)[:6]) or "(no tensors)"
        raise CheckpointError(
            f"{name}: unrecognised checkpoint layout, no ViT blocks found (keys start: {sample}). "
            "Supported: timm/MAE/AudioMAE, Point-MAE, VideoMAE, m2pt safetensors."
        )
    kept, dropped = split_encoder(layout.rename(tensors))
    dropped = ignored + dropped
    if dropped:
        log.info("%s: %s layout; dropped %d entries: %s", name, layout.name, len(dropped), _summarise(dropped))
    return _checked(StateDict(kept, layout=layout.name, source=name, dropped=dropped))


def module_weights(module: nn.Module) -> dict[str, Tensor]:
    """A module's state dict, with any cross-modal layers merged first."""
    if any(isinstance(m, CrossModalLinear) for m in module.modules()):
        module = merge(module)
    return dict(module.state_dict())


def save_checkpoint(
    path: str | os.PathLike, weights: Mapping[str, Tensor], metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write ``weights`` to a safetensors file atomically; ``metadata`` (JSON-serialisable) goes
    into the file's header and into ``<path>.json`` beside it. Returns the path."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: m2pt checkpoints are safetensors files (name them *.safetensors)")
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in weights.items()}
    text = json.dumps(dict(metadata or {}), indent=2, sort_keys=True, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        safetensors.torch.save_file(tensors, str(tmp), metadata={METADATA_KEY: text})
    with atomic_path(path.with_name(path.name + ".json")) as tmp:
        tmp.write_text(text + "\n")
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata an m2pt safetensors file recorded (empty for other safetensors files)."""
    with safetensors.safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get(METADATA_KEY, "{}"))


def block_indices(weights: Mapping[str, Tensor]) -> list[int]:
    """Sorted indices ``i`` of the ``blocks.{i}.*`` keys."""
    return sorted({int(m.group(1)) for k in weights if (m := re.match(r"blocks\.(\d+)\.", k))})


def _read_file(path: Path, trust_pickle: bool) -> StateDict | Any:
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}" + (" (it is a folder)" if path.is_dir() else ""))
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if not trust_pickle:
            raise CheckpointError(
                f"{path} holds pickled Python objects, not only tensors (the paper's released files are "
                "whole pickled timm models). Unpickling runs arbitrary code from the file: pass "
                "trust_pickle=True only if you trust where it came from."
            ) from error
        log.warning("%s: unpickling with weights_only=False (trust_pickle=True)", path)
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # zip/pickle decoding errors of many kinds
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (corrupt or truncated?): {error}"
        ) from error


def _read_safetensors(path: Path) -> StateDict | dict[str, Tensor]:
    try:
        tensors = safetensors.torch.load_file(str(path))
        metadata = read_metadata(path)
    except Exception as error:
        raise CheckpointError(f"{path} is not a readable safetensors file (corrupt or truncated?): {error}") from error
    if metadata:
        return StateDict(tensors, layout="m2pt", source=str(path), metadata=metadata)
    return tensors


def _unwrap(obj: Any) -> Mapping[str, Any] | nn.Module:
    """Descend through training-checkpoint containers to the state dict (or module)."""
    while isinstance(obj, Mapping):
        inner = next((obj[k] for k in CONTAINER_KEYS if isinstance(obj.get(k), (Mapping, nn.Module))), None)
        if inner is None:
            return obj
        obj = inner
    if isinstance(obj, nn.Module):
        return obj
    raise CheckpointError(f"expected a state dict or a model, got {type(obj).__name__}")


def _checked(weights: StateDict) -> StateDict:
    bad = [k for k, v in weights.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{weights.source}: NaN or inf values in {len(bad)} tensors: {', '.join(bad[:5])}")
    if not block_indices(weights):
        raise CheckpointError(f"{weights.source}: no ViT blocks (blocks.<i>.*) in the checkpoint")
    return weights


def _describe(source: CheckpointSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"<{type(source).__name__}>"


def _summarise(keys: list[str]) -> str:
    groups = Counter(k.split(".", 1)[0] for k in keys)
    return ", ".join(f"{g}.* ({n})" if n > 1 else g for g, n in groups.most_common())
