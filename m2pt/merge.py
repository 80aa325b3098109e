"""Merging a re-parameterized model back into a plain one."""

import copy

from torch import nn

from m2pt.cross_modal_linear import CrossModalLinear


def merge(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Replace every :class:`CrossModalLinear` by the plain ``nn.Linear`` it computes.

    The result holds only the modules the model had before re-parameterization, so its
    ``state_dict()`` has exactly the original keys and shapes and loads with ``strict=True``
    into a freshly built model of the same configuration. ``inplace=False`` leaves ``model``
    untouched and returns a merged copy.
    """
    if isinstance(model, CrossModalLinear):
        return model.fuse()
    if not inplace:
        model = copy.deepcopy(model)
    pathways = [name for name, module in model.named_modules() if isinstance(module, CrossModalLinear)]
    for name in pathways:
        parent_name, _, child_name = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child_name, getattr(parent, child_name).fuse())
    return model
