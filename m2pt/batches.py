"""Batches as DataLoaders collate them: a tensor, or nested tuples of tensors (e.g. ``((points,
category), parts)``). Moving one to a device, finding its first tensor and counting its bytes, for the
trainer and the tasks."""

from typing import Any

import torch
from torch import Tensor


def to_device(value: Any, device: torch.device | str) -> Any:
    """``value`` with every tensor in it (nested tuples and lists too) moved to ``device``."""
    if isinstance(value, Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, (tuple, list)):
        return type(value)(to_device(item, device) for item in value)
    return value


def first_tensor(value: Any) -> Tensor:
    """The first tensor of ``value`` (itself, or the first of its nested tuples): ``len()`` of it is
    the number of examples of a batch."""
    while isinstance(value, (tuple, list)):
        value = value[0]
    return value


def tensor_bytes(value: Any) -> int:
    """The bytes of the tensors in ``value`` (itself, or those of its nested tuples, lists and dicts)."""
    if isinstance(value, Tensor):
        return value.nbytes
    if isinstance(value, dict):
        return sum(tensor_bytes(item) for item in value.values())
    if isinstance(value, (tuple, list)):
        return sum(tensor_bytes(item) for item in value)
    return 0
