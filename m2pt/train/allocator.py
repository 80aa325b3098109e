"""Keep freed memory in the process, so a training step does not fault its buffers in again.

glibc's malloc serves large blocks by ``mmap`` and gives them back to the operating system when
they are freed, and trims the top of its heap once enough is free. A training step frees and
allocates the same large buffers every step (activations, gradients, and with the pathway the
summed weight, formed in forward and again in backward), so with glibc's defaults every step
faults their pages in again: at ViT-B width, about 13,000 minor page faults a step with the
pathway and 5,700 without (README, "Benchmarks"). Raising both thresholds keeps the freed memory
in the heap for the next step, as PyTorch's CUDA allocator keeps GPU memory; the process's
resident memory then stays at its peak instead of shrinking between steps.

Every training stage calls :func:`keep_freed_memory` first. ``M2PT_KEEP_FREED_MEMORY=0`` in the
environment keeps glibc's defaults; other C libraries are left alone.
"""

import ctypes
import functools
import os

ENVIRONMENT_SWITCH = "M2PT_KEEP_FREED_MEMORY"
THRESHOLD = 1 << 30  # bytes: blocks up to 1 GiB come from the heap, and up to 1 GiB of it stays free
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds to :data:`THRESHOLD`; whether they were set (False
    when switched off by ``M2PT_KEEP_FREED_MEMORY=0`` or when the C library is not glibc)."""
    if os.environ.get(ENVIRONMENT_SWITCH, "1") == "0":
        return False
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    # Both or neither: setting either one fixes both (glibc stops adapting them), and either
    # left at its default undoes the other (every large block mapped anew, or the heap trimmed).
    return bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, THRESHOLD))


@functools.cache
def _glibc_mallopt():
    """glibc's ``mallopt`` from this process's own symbols (looked up once), or None on another C library."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (present in glibc only)
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc.mallopt
