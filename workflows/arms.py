"""Arms of a comparison: each a role, the auxiliaries of its pathway, and other overrides.

In YAML an arm reads as it means::

    baseline: {}                                         # no pathway: the reference
    m2pt: {aux: [audio]}                                 # a pathway (role inferred)
    norm_matched: {aux: ["norm_matched:audio"]}          # a control (all its auxiliaries are)
    same_modality: {aux: [image], role: positive_reference}
    learnt: {aux: ["difference:supervised,image"], role: positive_reference}   # what fine-tuning added
    held: {aux: ["difference:supervised,image"], role: reach,                 # λ held at 1: what the
           set: {pathway.lambda_init: 1.0, pathway.lambda_trainable: false}}    # pathway can hold
    reversed: {aux: [audio], set: {pathway.block_map: reversed}}

An ``aux`` entry is an :class:`m2pt.controls.AuxSpec`: a checkpoint, or a control of one; its
source may be a *name* that the workflow resolves to a checkpoint (an experiment's auxiliaries,
a grid's ``paired`` and ``own``). The role is inferred unless given: no auxiliary is the
baseline, only controls is a control, anything else a pathway; a positive reference and a reach (λ held) are said.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from m2pt.controls import AuxSpec
from m2pt.train.config import ConfigError
from m2pt.vocabulary import ArmRole

ARM_KEYS = ("aux", "role", "set")


@dataclass(frozen=True)
class Arm:
    role: ArmRole
    aux: tuple[AuxSpec, ...] = ()
    changes: Mapping[str, Any] = field(default_factory=dict)  # other fine-tuning overrides

    @classmethod
    def parse(cls, name: str, entry: Mapping[str, Any] | Arm) -> Arm:
        """The arm of one YAML entry (see the module doc)."""
        if isinstance(entry, Arm):
            return entry
        if not isinstance(entry, Mapping) or set(entry) - set(ARM_KEYS):
            raise ConfigError(f"arm {name}: expected a mapping of {list(ARM_KEYS)}, got {entry!r}")
        texts = entry.get("aux", [])
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise ConfigError(f"arm {name}: aux is a list of auxiliaries, got {texts!r}")
        try:
            aux = tuple(AuxSpec.parse(text) for text in texts)
            role = ArmRole(entry["role"]) if "role" in entry else inferred_role(aux)
        except ValueError as error:
            raise ConfigError(f"arm {name}: {error}") from None
        if (role is ArmRole.BASELINE) != (not aux):
            raise ConfigError(f"arm {name}: a baseline has no auxiliary, every other arm has one")
        if role is ArmRole.CONTROL and not all(a.is_control for a in aux):
            raise ConfigError(f"arm {name}: a control's auxiliaries must all be controls")
        changes = dict(entry.get("set", {}))
        if "pathway.aux" in changes:
            raise ConfigError(f"arm {name}: give the auxiliaries as aux, not as pathway.aux")
        if role is ArmRole.REACH and changes.get("pathway.lambda_trainable", True) is not False:
            raise ConfigError(f"arm {name}: a reach arm holds λ: set {{pathway.lambda_trainable: false}} "
                              "(and pathway.lambda_init, e.g. 1.0)")  # fmt: skip
        return cls(role, aux, changes)

    def to_yaml(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"aux": [str(a) for a in self.aux]} if self.aux else {}
        if self.role is not inferred_role(self.aux):
            entry["role"] = self.role.value
        return entry | ({"set": dict(self.changes)} if self.changes else {})

    def uses(self, name: str) -> bool:
        """Whether any auxiliary of this arm comes from the checkpoint named ``name``."""
        return any(name in a.sources for a in self.aux)

    def resolve(self, names: Mapping[str, str]) -> Arm:
        """This arm with every auxiliary source that is a key of ``names`` replaced by its checkpoint."""
        aux = tuple(a.renamed(names) for a in self.aux)
        return Arm(self.role, aux, self.changes)

    def overrides(self) -> dict[str, Any]:
        """The fine-tuning overrides of this arm."""
        return {"pathway.aux": [str(a) for a in self.aux], **self.changes}


def inferred_role(aux: Sequence[AuxSpec]) -> ArmRole:
    if not aux:
        return ArmRole.BASELINE
    return ArmRole.CONTROL if all(a.is_control for a in aux) else ArmRole.PATHWAY


def parse_arms(entries: Mapping[str, Any]) -> dict[str, Arm]:
    return {name: Arm.parse(name, entry) for name, entry in entries.items()}


def pathway_arm(aux: str | Sequence[str], *, role: ArmRole | None = None, **pathway: Any) -> dict[str, Any]:
    """The YAML entry of an arm with auxiliary ``aux`` (a checkpoint or a control spec, or a list of
    them) and ``pathway.<key>=value`` for each keyword, e.g. ``block_map="reversed"``."""
    specs = [aux] if isinstance(aux, str) else list(aux)
    entry: dict[str, Any] = {"aux": specs}
    if role is not None:
        entry["role"] = ArmRole(role).value
    if pathway:
        entry["set"] = {f"pathway.{key}": value for key, value in pathway.items()}
    return entry
