"""Parameter roles, declared by the modules that own the parameters (as timm's ``no_weight_decay``).

A module that knows what its parameters are for defines ``parameter_roles()``, yielding
``(parameter, role)`` pairs; :func:`parameter_roles` walks a model and gives every named parameter
the role its innermost declaring module gave it (``BODY`` when none did). Roles are matched by
identity, not by name: renaming a field cannot silently change which parameters are λ.
"""

from collections.abc import Iterable

from torch import nn

from m2pt.vocabulary import ParameterRole

RoleDeclaration = Iterable[tuple[nn.Parameter, ParameterRole]]


def parameter_roles(model: nn.Module) -> dict[str, ParameterRole]:
    """``{parameter name: role}`` for every parameter of ``model`` (inner declarations win)."""
    by_id: dict[int, ParameterRole] = {}
    for _, module in model.named_modules():  # parents before children: inner modules overwrite
        declare = getattr(module, "parameter_roles", None)
        if callable(declare):
            for parameter, role in declare():
                by_id[id(parameter)] = ParameterRole(role)
    return {name: by_id.get(id(p), ParameterRole.BODY) for name, p in model.named_parameters()}


def no_weight_decay(model: nn.Module) -> set[str]:
    """Names of parameters exempt from weight decay: what the modules declare through
    ``no_weight_decay()`` (names relative to that module), every 1-D parameter, and λ."""
    exempt = set()
    for prefix, module in model.named_modules():
        declare = getattr(module, "no_weight_decay", None)
        if callable(declare):
            exempt |= {f"{prefix}.{name}" if prefix else name for name in declare()}
    roles = parameter_roles(model)
    exempt |= {n for n, p in model.named_parameters() if p.dim() <= 1 or roles[n] is ParameterRole.LAMBDA}
    return exempt


def block_depths(model: nn.Module) -> dict[str, int]:
    """Each parameter's depth for layer-wise learning-rate decay: 0 for the tokenizer, i+1 for
    transformer block i (the first ``blocks`` in the model, e.g. an autoencoder's encoder's),
    depth+1 for everything after it (final norm, head, decoders)."""
    owner = next((m for _, m in model.named_modules() if isinstance(getattr(m, "blocks", None), nn.Sequential)), None)
    blocks = list(owner.blocks) if owner is not None else []
    in_block = {id(p): i + 1 for i, block in enumerate(blocks) for p in block.parameters()}
    roles = parameter_roles(model)
    return {
        name: 0 if roles[name] is ParameterRole.TOKENIZER else in_block.get(id(p), len(blocks) + 1)
        for name, p in model.named_parameters()
    }
