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
ordinary checkpoint, or a *difference* of two: ``difference:<checkpoint>,<base>`` takes the
checkpoint's block matrices minus the base's. Where the target starts from ``<base>`` (the
pretrained setting) and ``<checkpoint>`` was fine-tuned from it, that is what the fine-tuning
learnt, and ``λ = 1`` gives the fine-tuned blocks exactly: a pathway whose known answer is in
its reach. (The fine-tuned checkpoint itself mostly repeats the init: ``W + λ W_ft`` reaches it
only where the target's own weights shrink to match.)

Anywhere an auxiliary checkpoint is accepted in a run config, a spec selects a control:
``"random"``, ``"norm_matched:<checkpoint>"``, ``"shuffled:<checkpoint>"``; or a difference,
``"difference:<checkpoint>,<base>"``; a plain path is the checkpoint itself. Controls draw from
their own seeded generator, never the global one, so adding a control arm leaves every other
random choice of a run unchanged.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from m2pt.checkpoint import StateDict, load_checkpoint

Weights = Mapping[str, Tensor]


def block_matrices(weights: Weights) -> dict[str, Tensor]:
    """The 2-D ``blocks.*`` matrices of ``weights``: what a pathway reads."""
    return {k: v for k, v in weights.items() if k.startswith("blocks.") and v.dim() == 2}


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
    matrices = block_matrices(reference)
    generator = torch.Generator().manual_seed(seed)
    source = getattr(reference, "source", "the target")
    return StateDict(CONTROLS[kind](matrices, generator), layout=f"control:{kind}", source=f"{kind}({source})")


def difference(checkpoint: StateDict, base: StateDict) -> StateDict:
    """``checkpoint``'s block matrices minus ``base``'s (the same keys and shapes, else ValueError)."""
    minuend, subtrahend = block_matrices(checkpoint), block_matrices(base)
    if minuend.keys() != subtrahend.keys():
        raise ValueError(
            f"difference: {checkpoint.source} and {base.source} have other block matrices "
            f"(only in the first: {sorted(minuend.keys() - subtrahend.keys())[:3]}, "
            f"only in the second: {sorted(subtrahend.keys() - minuend.keys())[:3]})"
        )
    for key, weight in minuend.items():
        if weight.shape != subtrahend[key].shape:
            raise ValueError(
                f"difference: {key} has shape {list(weight.shape)} in {checkpoint.source}, "
                f"{list(subtrahend[key].shape)} in {base.source}"
            )
    weights = {key: weight - subtrahend[key].to(weight.dtype) for key, weight in minuend.items()}
    return StateDict(weights, layout="difference", source=f"{checkpoint.source} - {base.source}")


DIFFERENCE = "difference"


@dataclass(frozen=True)
class AuxSpec:
    """One auxiliary of a pathway: a checkpoint (``source``), its difference from a ``base``
    checkpoint, or a ``control`` of a checkpoint's weights (``source``) or of the target's shapes
    (no source). The one reader and writer of the config grammar: ``"<checkpoint>"``,
    ``"difference:<checkpoint>,<base>"``, ``"random"``, ``"norm_matched:<checkpoint>"``,
    ``"shuffled:<checkpoint>"``."""

    source: str | None = None
    control: str | None = None
    base: str | None = None

    def __post_init__(self) -> None:
        if self.base is not None and (self.control is not None or not self.source):
            raise ValueError("a difference is of two checkpoints, difference:<checkpoint>,<base>")
        if self.control is not None and self.control not in CONTROLS:
            raise ValueError(f"unknown control {self.control!r}; choose from {sorted(CONTROLS)}")
        if self.control is None and not self.source:
            raise ValueError("an auxiliary needs a checkpoint (source) or a control")
        if self.control in ("norm_matched", "shuffled") and not self.source:
            raise ValueError(f"the {self.control} control needs the checkpoint whose weights it matches")

    @classmethod
    def parse(cls, text: "str | AuxSpec") -> "AuxSpec":
        if isinstance(text, AuxSpec):
            return text
        kind, sep, path = str(text).partition(":")
        if kind == DIFFERENCE and sep:
            source, comma, base = path.partition(",")
            if not (comma and source and base):
                raise ValueError(f"{text!r}: a difference reads difference:<checkpoint>,<base>")
            return cls(source=source, base=base)
        if kind in CONTROLS and (sep or kind == "random"):
            return cls(source=path or None, control=kind)
        return cls(source=str(text))

    def __str__(self) -> str:
        if self.base is not None:
            return f"{DIFFERENCE}:{self.source},{self.base}"
        if self.control is None:
            return str(self.source)
        return f"{self.control}:{self.source}" if self.source else self.control

    @property
    def is_control(self) -> bool:
        return self.control is not None

    @property
    def sources(self) -> tuple[str, ...]:
        """The checkpoints this auxiliary reads (none for a ``random`` control)."""
        return tuple(s for s in (self.source, self.base) if s)

    def renamed(self, names: Mapping[str, str]) -> "AuxSpec":
        """This auxiliary with each checkpoint that is a key of ``names`` replaced by its value."""
        source, base = (names.get(s, s) if s else s for s in (self.source, self.base))
        return AuxSpec(source, self.control, base)


def resolve_aux(spec: "str | AuxSpec", target: Weights, seed: int, *, trust_pickle: bool = False) -> StateDict:
    """Auxiliary weights for one ``pathway.aux`` entry (an :class:`AuxSpec` or its text). ``target``
    supplies the shapes of a ``random`` control without a source."""
    spec = AuxSpec.parse(spec)
    if spec.base is not None:
        return difference(*(load_checkpoint(source, trust_pickle=trust_pickle) for source in spec.sources))
    if not spec.is_control:
        return load_checkpoint(spec.source, trust_pickle=trust_pickle)
    reference = load_checkpoint(spec.source, trust_pickle=trust_pickle) if spec.source else target
    return control_weights(spec.control, reference, seed)


def is_control(spec: "str | AuxSpec") -> bool:
    """Whether a ``pathway.aux`` entry names a control rather than a checkpoint."""
    return AuxSpec.parse(spec).is_control


def resolve_aux_list(
    specs: "list[str] | list[AuxSpec]", target: Weights, seed: int, *, trust_pickle: bool = False
) -> list[StateDict]:
    """Resolve several specs; each control gets its own seed derived from ``seed``."""
    return [resolve_aux(spec, target, seed * 1000 + i + 1, trust_pickle=trust_pickle) for i, spec in enumerate(specs)]
