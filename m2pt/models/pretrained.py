"""Initialising a model from a pretrained checkpoint of its own modality, with a report.

Any layout :func:`m2pt.load_checkpoint` reads works (MAE, AudioMAE, Point-MAE, VideoMAE, timm,
m2pt). Tensors that fit are loaded; a few known differences are adapted (position tables
resampled to another grid, an image patch embedding inflated over time for video or summed
over input channels); whatever else differs is left at its initialisation and reported. The
transformer blocks must fit exactly: a checkpoint of another depth or width, or one that records
another number of attention heads (:func:`m2pt.checkpoint.check_heads`), is an error.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from timm.layers import resample_abs_pos_embed
from torch import Tensor, nn

from m2pt.checkpoint import CheckpointError, CheckpointSource, StateDict, block_indices, check_heads, load_checkpoint


@dataclass
class LoadReport:
    """What :func:`load_pretrained` did with each tensor."""

    source: str
    layout: str
    loaded: list[str] = field(default_factory=list)
    adapted: dict[str, str] = field(default_factory=dict)  # key -> how
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why (left at init)
    missing: list[str] = field(default_factory=list)  # model keys absent from the checkpoint (left at init)
    unused: list[str] = field(default_factory=list)  # checkpoint keys the model has no place for

    def __str__(self) -> str:
        lines = [f"{self.source} ({self.layout}): loaded {len(self.loaded)} tensors"]
        lines += [f"  adapted {k}: {how}" for k, how in self.adapted.items()]
        lines += [f"  left at init {k}: {why}" for k, why in self.skipped.items()]
        if self.missing:
            lines.append(f"  left at init (not in checkpoint): {', '.join(self.missing)}")
        if self.unused:
            lines.append(f"  unused from checkpoint: {', '.join(self.unused)}")
        return "\n".join(lines)


Adapter = Callable[[nn.Module, Tensor, torch.Size], tuple[Tensor, str]]


def _resample_positions(model: nn.Module, value: Tensor, shape: torch.Size) -> tuple[Tensor, str]:
    new_grid = tuple(model.patch_embed.grid)
    if len(new_grid) != 2 or value.dim() != 3 or value.shape[-1] != shape[-1]:
        raise ValueError("only 2-D position tables of the same width can be resampled")
    old_grid = _infer_grid(value.shape[1] - 1, new_grid)
    resized = resample_abs_pos_embed(value, new_size=list(new_grid), old_size=list(old_grid), num_prefix_tokens=1)
    return resized, f"position grid {old_grid} -> {new_grid}"


def _adapt_patch_embedding(model: nn.Module, value: Tensor, shape: torch.Size) -> tuple[Tensor, str]:
    how = []
    if value.shape[1] != shape[1]:
        how.append(f"input channels {value.shape[1]} -> {shape[1]}")
        value = _adapt_channels(value, shape[1])
    if value.dim() == 4 and len(shape) == 5:  # image patches -> per-frame or tubelet video patches
        frames = shape[2]
        value = value[:, :, None].repeat(1, 1, frames, 1, 1) / frames
        how.append(f"inflated over {frames} frame(s)")
    if value.shape != shape:
        raise ValueError(f"patch embedding {list(value.shape)} cannot be adapted to {list(shape)}")
    return value, ", ".join(how)


ADAPTERS: dict[str, Adapter] = {
    "pos_embed": _resample_positions,
    "patch_embed.proj.weight": _adapt_patch_embedding,
}


def load_pretrained(model: nn.Module, source: CheckpointSource, *, trust_pickle: bool = False) -> LoadReport:
    """Load ``source`` into ``model`` where it fits; return what was loaded, adapted and left."""
    weights = load_checkpoint(source, trust_pickle=trust_pickle)
    own = model.state_dict()
    _check_blocks(own, weights)
    check_heads(model, weights)
    report = LoadReport(source=weights.source, layout=weights.layout)
    selected: dict[str, Tensor] = {}
    for key, value in weights.items():
        if key not in own:
            report.unused.append(key)
        elif value.shape == own[key].shape:
            selected[key] = value
            report.loaded.append(key)
        elif key in ADAPTERS:
            try:
                selected[key], report.adapted[key] = ADAPTERS[key](model, value, own[key].shape)
            except ValueError as error:
                report.skipped[key] = str(error)
        else:
            report.skipped[key] = f"shape {list(value.shape)} in the checkpoint, {list(own[key].shape)} in the model"
    report.missing = [k for k in own if k not in weights]
    model.load_state_dict(selected, strict=False)
    return report


def _adapt_channels(weight: Tensor, channels: int) -> Tensor:
    """A patch embedding ``[D,C,...]`` for ``channels`` inputs that answers a constant input (a grey
    image) exactly as before: tiled and rescaled when ``channels`` is a multiple of C, else each
    new channel gets the mean filter."""
    source = weight.shape[1]
    if channels % source == 0:
        tiled = weight.repeat(1, channels // source, *([1] * (weight.dim() - 2)))
        return tiled * (source / channels)
    total = weight.sum(dim=1, keepdim=True)
    return total.repeat(1, channels, *([1] * (weight.dim() - 2))) / channels


def _check_blocks(own: dict[str, Tensor], weights: StateDict) -> None:
    depth, theirs = len(block_indices(own)), len(block_indices(weights))
    if depth != theirs:
        raise CheckpointError(f"{weights.source}: the checkpoint has {theirs} blocks, the model {depth}")
    for key, value in weights.items():
        if key.startswith("blocks.") and key in own and value.shape != own[key].shape:
            raise CheckpointError(
                f"{weights.source}: block shapes differ: {key} is {list(value.shape)} in the checkpoint and "
                f"{list(own[key].shape)} in the model (another width?)"
            )


def _infer_grid(tokens: int, like: tuple[int, int]) -> tuple[int, int]:
    """The grid of a stored position table: square if possible, else sharing an axis with ``like``."""
    side = math.isqrt(tokens)
    if side * side == tokens:
        return side, side
    if tokens % like[1] == 0:
        return tokens // like[1], like[1]
    if tokens % like[0] == 0:
        return like[0], tokens // like[0]
    raise ValueError(f"cannot tell the grid of a {tokens}-token position table")
