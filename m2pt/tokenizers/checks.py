"""Input checks shared by the tokenizers: each failure names what was expected and what came."""

import torch
from torch import Tensor


def check_input(x: Tensor, *, name: str, layout: str, rank: int, channels: tuple[int, int] | None = None) -> None:
    """Raise a ValueError unless ``x`` has ``rank`` dims, float values, and (if given)
    ``channels = (dim, count)`` entries along ``dim``; and, for tensors on the CPU, finite values.

    On an accelerator the finiteness check would stall the host on every forward (a device
    synchronisation); there the engine's loss check at log steps and the data readers' checks of
    every file guard against NaNs instead."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a tensor {layout}, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(f"{name} expects {layout} ({rank} dims), got shape {list(x.shape)}")
    if channels is not None and x.shape[channels[0]] != channels[1]:
        raise ValueError(
            f"{name} expects {channels[1]} channels in {layout} (dim {channels[0]}), got shape {list(x.shape)}"
        )
    if not x.is_floating_point():
        raise ValueError(f"{name} expects a floating-point tensor, got {x.dtype}")
    if x.device.type == "cpu" and not torch.isfinite(x).all():
        raise ValueError(f"{name}: the input contains NaN or inf values")


def check_divisible(name: str, what: str, size: int, by: int) -> None:
    if size % by:
        raise ValueError(f"{name}: {what} {size} is not divisible by the patch size {by}")
