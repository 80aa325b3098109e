"""Device and numeric precision choice."""

import contextlib

import torch

from m2pt.train.distributed import World


def choose_device(name: str, world: World) -> torch.device:
    """``auto``: CUDA (this process's local GPU), else Apple MPS, else CPU; or the named device."""
    if name == "auto":
        if torch.cuda.is_available():
            name = f"cuda:{world.local_rank}"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but CUDA is not available")
        torch.cuda.set_device(device)
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (None: plain float32). ``auto``: bf16 on GPUs that
    support it, fp16 on other GPUs, fp32 on CPU."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
