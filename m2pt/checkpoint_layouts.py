"""Key layouts of the checkpoints users bring, and how each maps to timm's ViT names.

A layout renames a flat state dict's keys to timm's (``blocks.{i}.attn.qkv.weight``,
``blocks.{i}.norm1.weight``, ``norm.*``, ``patch_embed.*``, ``pos_embed``, ``cls_token``, ...);
afterwards :func:`split_encoder` keeps what a ViT encoder holds and sets aside the rest
(decoders, heads of other tasks, optimizer leftovers). The first layout in :data:`LAYOUTS`
whose ``matches`` accepts the keys wins; :func:`register_layout` adds one.

- ``point-mae``: Point-MAE. Encoder under ``MAE_encoder.``, blocks under ``blocks.blocks.``, no
  qkv bias, PointNet group encoder ``encoder.*`` (-> ``patch_embed.*``), and a centre position
  MLP ``pos_embed.*`` kept under its name.
- ``videomae``: VideoMAE. Encoder under ``encoder.``; qkv has no bias of its own but
  ``attn.q_bias`` and ``attn.v_bias``, folded into ``attn.qkv.bias = [q_bias, 0, v_bias]``;
  ``gamma_1``/``gamma_2`` -> ``ls1.gamma``/``ls2.gamma``.
- ``timm-vit``: timm state dicts, MAE and AudioMAE (their decoders set aside), and the paper's
  released pickled timm models once unpickled.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

Weights = dict[str, Tensor]

# Top-level names a ViT encoder of timm (and of this project) holds; everything else is dropped.
ENCODER_NAMES = frozenset(
    {
        "cls_token",
        "reg_token",
        "pos_embed",
        "cls_pos",
        "patch_embed",
        "norm_pre",
        "blocks",
        "norm",
        "fc_norm",
        "attn_pool",
        "head",
    }  # fmt: skip
)
WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DataParallel / DDP, torch.compile


@dataclass(frozen=True)
class Layout:
    """A checkpoint key layout: how to recognise it and how to rename it to timm's names."""

    name: str
    matches: Callable[[list[str]], bool]
    rename: Callable[[Weights], Weights]


def _point_mae_matches(keys: list[str]) -> bool:
    return any(k.startswith(("MAE_encoder.", "blocks.blocks.")) for k in keys)


def _point_mae_rename(state: Weights) -> Weights:
    renamed = {}
    for key, value in state.items():
        key = key.removeprefix("MAE_encoder.")
        key = re.sub(r"^blocks\.blocks\.", "blocks.", key)
        key = re.sub(r"^encoder\.", "patch_embed.", key)
        renamed[key] = value
    return renamed


def _videomae_matches(keys: list[str]) -> bool:
    return any(k.startswith("encoder.blocks.") or k.endswith("attn.q_bias") for k in keys)


def _videomae_rename(state: Weights) -> Weights:
    state = {k.removeprefix("encoder."): v for k, v in state.items()}
    renamed: Weights = {}
    for key, value in state.items():
        if key.endswith(".attn.v_bias"):
            continue  # folded in with its q_bias
        if key.endswith(".attn.q_bias"):
            attn = key.removesuffix(".q_bias")
            renamed[f"{attn}.qkv.bias"] = torch.cat([value, torch.zeros_like(value), state[f"{attn}.v_bias"]])
        else:
            renamed[re.sub(r"\.gamma_([12])$", r".ls\1.gamma", key)] = value
    return renamed


def _timm_matches(keys: list[str]) -> bool:
    return any(re.match(r"blocks\.\d+\.", k) for k in keys)


LAYOUTS: list[Layout] = [
    Layout("point-mae", _point_mae_matches, _point_mae_rename),
    Layout("videomae", _videomae_matches, _videomae_rename),
    Layout("timm-vit", _timm_matches, dict),
]


def register_layout(layout: Layout, *, first: bool = True) -> None:
    """Add a layout; by default it is tried before the built-in ones."""
    LAYOUTS.insert(0 if first else len(LAYOUTS), layout)


def find_layout(keys: Iterable[str]) -> Layout | None:
    keys = list(keys)
    return next((layout for layout in LAYOUTS if layout.matches(keys)), None)


def strip_wrappers(state: Mapping[str, Tensor]) -> Weights:
    """Remove a prefix that a training wrapper put on every key (``module.``, ``_orig_mod.``)."""
    out = dict(state)
    for prefix in WRAPPER_PREFIXES:
        if out and all(k.startswith(prefix) for k in out):
            out = {k.removeprefix(prefix): v for k, v in out.items()}
    return out


def split_encoder(state: Weights) -> tuple[Weights, list[str]]:
    """``(kept, dropped_keys)``: the keys under a ViT encoder's top-level names, and the rest."""
    kept = {k: v for k, v in state.items() if k.split(".", 1)[0] in ENCODER_NAMES}
    return kept, [k for k in state if k not in kept]
