"""Control auxiliaries: what a gain from the pathway must beat to count as cross-modal knowledge.

An auxiliary model adds parameters and, through ``λ W'``, extra weight of a given scale. These
controls keep those and remove the knowledge:

- ``random``: a freshly initialised ViT's block weights (truncated normal, std 0.02, timm's
  initialisation) of the target's shapes.
- ``norm_matched``: random weights, each matrix rescaled to the Frobenius norm of the
  auxiliary's matching matrix (same scale, no structure).
- ``shuffled``: the auxiliary's own entries permuted at random within each matrix (the same
  multiset of values, hence the same norm and distribution, no structure).

A positive reference, an auxiliary pretrained on the target modality's own data, is an
ordinary checkpoint.

Anywhere an auxiliary checkpoint is accepted in a run config, a spec selects a control:
``"random"``, ``"norm_matched:<checkpoint>"``, ``"shuffled:<checkpoint>"``; a plain path is the
checkpoint itself. Controls draw from their own seeded generator, never the global one, so
adding a control arm leaves every other random choice of a run unchanged.
"""

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from m2pt.checkpoint import StateDict, load_checkpoint

Weights = Mapping[str, Tensor]


def random_like(reference: Weights, generator: torch.Generator) -> dict[str, Tensor]:
    """Fresh truncated-normal (std 0.02) matrices of ``reference``'s shapes."""
    out = {}
    for key, value in reference.items():
        weight = torch.empty(value.shape, dtype=torch.float32)
        torch.nn.init.trunc_normal_(weight, std=0.02, a=-2.0, b=2.0, generator=generator)
        out[key] = weight.to(value.dtype)
    return out


def norm_matched(reference: Weights, generator: torch.Generator) -> dict[str, Tensor]:
    """Random matrices, each rescaled to the Frobenius norm of its ``reference`` counterpart."""
    return {
        key: weight * (reference[key].float().norm() / weight.float().norm()).to(weight.dtype)
        for key, weight in random_like(reference, generator).items()
    }


def shuffled(reference: Weights, generator: torch.Generator) -> dict[str, Tensor]:
    """Each matrix of ``reference`` with its entries permuted at random."""
    out = {}
    for key, value in reference.items():
        order = torch.randperm(value.numel(), generator=generator)
        out[key] = value.flatten()[order].reshape(value.shape).clone()
    return out


CONTROLS: dict[str, Callable[[Weights, torch.Generator], dict[str, Tensor]]] = {
    "random": random_like,
    "norm_matched": norm_matched,
    "shuffled": shuffled,
}


def control_weights(kind: str, reference: Weights, seed: int) -> StateDict:
    """The ``kind`` control of ``reference``'s 2-D block weights (``blocks.*`` matrices only)."""
    if kind not in CONTROLS:
        raise ValueError(f"unknown control {kind!r}; choose from {sorted(CONTROLS)}")
    matrices = {k: v for k, v in reference.items() if k.startswith("blocks.") and v.dim() == 2}
    generator = torch.Generator().manual_seed(seed)
    source = getattr(reference, "source", "the target")
    return StateDict(CONTROLS[kind](matrices, generator), layout=f"control:{kind}", source=f"{kind}({source})")


def resolve_aux(spec: str, target: Weights, seed: int, *, trust_pickle: bool = False) -> StateDict:
    """Auxiliary weights for one ``pathway.aux`` entry: a checkpoint path or a control spec (see
    module doc). ``target`` supplies the shapes of ``random``."""
    if not is_control(spec):
        return load_checkpoint(spec, trust_pickle=trust_pickle)
    kind, _, path = spec.partition(":")
    reference = load_checkpoint(path, trust_pickle=trust_pickle) if path else target
    return control_weights(kind, reference, seed)


def is_control(spec: str) -> bool:
    """Whether a ``pathway.aux`` entry names a control rather than a checkpoint."""
    kind, sep, _ = spec.partition(":")
    return (not sep and kind == "random") or (bool(sep) and kind in CONTROLS)


def resolve_aux_list(specs: list[str], target: Weights, seed: int, *, trust_pickle: bool = False) -> list[StateDict]:
    """Resolve several specs; each control gets its own seed derived from ``seed``."""
    return [resolve_aux(spec, target, seed * 1000 + i + 1, trust_pickle=trust_pickle) for i, spec in enumerate(specs)]
