"""Reading checkpoints of any supported layout, and writing the project's own (safetensors).

:func:`load_checkpoint` accepts a file (safetensors, or a PyTorch file read with
``weights_only=True``), a state dict, a training checkpoint wrapping one under any key
(``model``, ``module``, ``state_dict``, ``base_model``, ... found by structure: the mapping whose
tensors carry ViT block keys), or an ``nn.Module``, and returns weights under timm's ViT names
(see :mod:`m2pt.checkpoint_layouts`). Pickled Python objects, such as the paper's released
files (whole pickled timm models, made under timm 0.4), are only unpickled with
``trust_pickle=True`` (unpickling runs code), through :mod:`m2pt.checkpoint_pickle`.

The head count is not in a state dict: the project's files record it in their metadata under
:data:`NUM_HEADS_KEY` (write ``attention_heads(model)`` there), pickled models carry it, and
:func:`check_heads` compares it with a model's.

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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn

from m2pt.atomic import atomic_path
from m2pt.checkpoint_layouts import find_layout, split_encoder, strip_wrappers
from m2pt.checkpoint_pickle import PickleRefused, load_trusted_pickle
from m2pt.cross_modal_linear import CrossModalLinear
from m2pt.merge import merge

log = logging.getLogger(__name__)

CheckpointSource = str | os.PathLike | Mapping[str, Any] | nn.Module
METADATA_KEY = "m2pt"
NUM_HEADS_KEY = "num_heads"  # in an m2pt file's metadata: the attention heads of its blocks
MAX_NESTING = 4  # how deep to look for the state dict inside a training checkpoint
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
    without ``trust_pickle=True`` (or pickling untrusted or vanished classes), or weights with
    NaN/inf values. A :class:`StateDict` is returned as it is (checked), keeping its source.
    """
    if isinstance(source, StateDict):
        return _checked(source)
    name = _describe(source)
    if isinstance(source, (str, os.PathLike)):
        source = _read_file(Path(source), trust_pickle)
        if isinstance(source, StateDict):
            return _checked(source)
    obj = find_state_dict(source, name)
    if isinstance(obj, nn.Module):
        return _checked(StateDict(module_weights(obj), layout="module", source=name, metadata=_module_metadata(obj)))
    tensors = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
    ignored = [k for k in obj if k not in tensors]
    tensors = strip_wrappers(tensors)
    layout = find_layout(tensors)
    kept, dropped = split_encoder(layout.rename(tensors))
    dropped = ignored + dropped
    if dropped:
        log.info("%s: %s layout; dropped %d entries: %s", name, layout.name, len(dropped), _summarise(dropped))
    return _checked(StateDict(kept, layout=layout.name, source=name, dropped=dropped))


def find_state_dict(obj: Any, name: str) -> Mapping[str, Any] | nn.Module:
    """The weights inside a checkpoint object: the mapping whose tensors have ViT block keys (or a module).

    Training scripts wrap the state dict in containers of their own (``{'model': ...}``,
    ``{'module': ...}``, ``{'base_model': ...}``, one level deeper, beside optimizer state); it is
    found by its structure, not by the container's key. Several candidates (e.g. ``model`` and
    ``model_ema``): the shallowest, first in the file's order, is used and the others are named in a
    warning.
    """
    found = list(_weight_sets(obj, "", 0))
    if not found:
        if not isinstance(obj, Mapping):
            raise CheckpointError(f"{name}: expected a state dict or a model, got {type(obj).__name__}")
        tensors = [k for k, v in obj.items() if isinstance(v, Tensor)]
        sample = ", ".join(tensors[:6]) or f"no tensors at the top; its keys: {', '.join(map(str, list(obj)[:8]))}"
        raise CheckpointError(
            f"{name}: unrecognised checkpoint layout, no ViT blocks found (keys start: {sample}). "
            "Supported: timm/MAE/AudioMAE, Point-MAE, VideoMAE, m2pt safetensors, inside any container."
        )
    found.sort(key=lambda item: item[0].count("["))  # stable: file order within a depth
    if len(found) > 1:
        others = ", ".join(path for path, _ in found[1:])
        log.warning("%s: several weight sets; using %s, not %s", name, found[0][0] or "the top level", others)
    return found[0][1]


def _weight_sets(node: Any, path: str, depth: int) -> Iterator[tuple[str, Mapping[str, Any] | nn.Module]]:
    """Every module, and every mapping whose tensors have ViT block keys, in ``node`` (depth first,
    in file order), with its path. A plain recursive function: a nested one that calls itself is a
    reference cycle, which would keep the whole checkpoint alive until the garbage collector runs."""
    if isinstance(node, nn.Module):
        yield path, node
    elif isinstance(node, Mapping) and depth <= MAX_NESTING:
        tensors = {k: v for k, v in node.items() if isinstance(k, str) and isinstance(v, Tensor)}
        if tensors and find_layout(strip_wrappers(tensors)) is not None:
            yield path, node
            return
        for key, value in node.items():
            yield from _weight_sets(value, f"{path}[{key!r}]", depth + 1)


def attention_heads(model: nn.Module) -> int | None:
    """The number of attention heads of ``model``'s blocks (``blocks[i].attn.num_heads``), None if unknown."""
    heads = {
        block.attn.num_heads
        for block in getattr(model, "blocks", [])
        if hasattr(getattr(block, "attn", None), "num_heads")
    }
    if len(heads) > 1:
        raise CheckpointError(f"the blocks of {type(model).__name__} have different head counts {sorted(heads)}")
    return heads.pop() if heads else None


def check_heads(model: nn.Module, weights: StateDict, *, exact: bool = True) -> None:
    """Refuse a checkpoint whose width the model's heads cannot split, or whose recorded heads differ.

    The heads come from the checkpoint's metadata (:data:`NUM_HEADS_KEY`, or ``settings.num_heads``),
    or from a pickled model. ``exact=False`` (pairing an auxiliary model of another modality, which may
    have had other heads, as in the paper's 6-head point model with 12-head auxiliaries) only warns on
    a difference.
    """
    width = _width(weights)
    heads = attention_heads(model)
    if width is None:
        return
    if heads is not None and width % heads:
        raise CheckpointError(
            f"{weights.source}: its width {width} cannot be split into the model's {heads} attention heads"
        )
    stored = weights.metadata.get(NUM_HEADS_KEY, (weights.metadata.get("settings") or {}).get("num_heads"))
    if stored is None:
        return
    if not isinstance(stored, int) or stored <= 0 or width % stored:
        raise CheckpointError(
            f"{weights.source}: metadata says {stored!r} heads, which do not divide its width {width}"
        )
    if heads is not None and stored != heads:
        message = (
            f"{weights.source}: trained with {stored} attention heads, the model has {heads}: the same weights "
            f"would compute another attention (set the model's num_heads to {stored})"
        )
        if exact:
            raise CheckpointError(message)
        log.warning("%s", message)


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
        try:
            return load_trusted_pickle(path)
        except PickleRefused as refused:
            raise CheckpointError(str(refused)) from refused
        except Exception as failed:
            raise CheckpointError(f"{path}: unpickling failed: {type(failed).__name__}: {failed}") from failed
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


def _module_metadata(module: nn.Module) -> dict[str, Any]:
    heads = attention_heads(module)
    return {NUM_HEADS_KEY: heads} if heads is not None else {}


def _width(weights: Mapping[str, Tensor]) -> int | None:
    first = next((k for k in weights if re.match(r"blocks\.\d+\.norm1\.weight$", k)), None)
    return int(weights[first].shape[0]) if first is not None else None


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
    return f"<a {type(source).__name__} passed in memory>"


def _summarise(keys: list[str]) -> str:
    groups = Counter(k.split(".", 1)[0] for k in keys)
    return ", ".join(f"{g}.* ({n})" if n > 1 else g for g, n in groups.most_common())
