"""Optional compiled CPU fast path for m2pt.ops.

The C++ kernels in ``cpu_kernels.cpp`` are compiled on first use with the system C++ compiler (``$CXX``,
else ``c++``; no ninja, no torch headers: about a second), cached in torch's extension directory and loaded
with ctypes, which releases the GIL during the calls. They return exactly the indices of the pure-torch
reference. Where they cannot be built, :func:`available` is False (with one warning) and callers fall back
to the reference.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor

_SOURCE = Path(__file__).with_name("cpu_kernels.cpp")
_FLAGS = "-O3 -march=native -ffp-contract=off -fopenmp-simd -std=c++17 -shared -fPIC -pthread".split()
# Work worth a thread of its own (about a millisecond; starting one costs about 0.1 ms):
_FPS_UPDATES_PER_THREAD = 1 << 21  # distance updates, B * N * n in all
_KNN_CENTERS_PER_THREAD = 256


def available() -> bool:
    """Whether the compiled kernels can be used (compiles them on the first call)."""
    return _library() is not None


def farthest_point_sample(points: Tensor, n: int, start: int, lengths: Tensor) -> Tensor:
    """Compiled :func:`m2pt.ops.farthest_point_sample` on checked CPU input.

    points [B,N,3] float, lengths [B] -> [B,n] int64.
    """
    (points,), precision = _coordinates(points)
    lengths = lengths.to(torch.int64).contiguous()
    batch, n_points, _ = points.shape
    out = torch.empty(batch, n, dtype=torch.int64)
    threads = _threads(batch * n_points * n // _FPS_UPDATES_PER_THREAD)
    kernel = getattr(_library(), f"m2pt_farthest_point_sample_{precision}")
    kernel(points.data_ptr(), batch, n_points, lengths.data_ptr(), n, start, out.data_ptr(), threads)
    return out


def knn(points: Tensor, centers: Tensor, k: int, lengths: Tensor) -> Tensor:
    """Compiled :func:`m2pt.ops.knn` on checked CPU input.

    points [B,N,3] float, centers [B,G,3] float, lengths [B] -> [B,G,k] int64.
    """
    (points, centers), precision = _coordinates(points, centers)
    lengths = lengths.to(torch.int64).contiguous()
    (batch, n_points, _), n_centers = points.shape, centers.shape[1]
    out = torch.empty(batch, n_centers, k, dtype=torch.int64)
    threads = _threads(batch * n_centers // _KNN_CENTERS_PER_THREAD)
    kernel = getattr(_library(), f"m2pt_knn_{precision}")
    kernel(
        points.data_ptr(),
        batch,
        n_points,
        lengths.data_ptr(),
        centers.data_ptr(),
        n_centers,
        k,
        out.data_ptr(),
        threads,
    )
    return out


def _coordinates(*tensors: Tensor) -> tuple[list[Tensor], str]:
    """The tensors as contiguous float32, or float64 if one is (no copy when they already are), and which.

    Any float converts to float32 exactly, except float64; the kernels compute in double either way.
    """
    double = any(tensor.dtype == torch.float64 for tensor in tensors)
    dtype = torch.float64 if double else torch.float32
    return [tensor.to(dtype).contiguous() for tensor in tensors], "f64" if double else "f32"


def _threads(useful: int) -> int:
    """Threads to run on: torch's CPU threads, but no more than are useful (at least one)."""
    return max(1, min(torch.get_num_threads(), useful))


@functools.cache
def _library() -> ctypes.CDLL | None:
    try:
        library = ctypes.CDLL(str(_build()))
    except (OSError, subprocess.CalledProcessError) as error:
        details = getattr(error, "stderr", None) or error
        warnings.warn(
            f"m2pt.ops: compiled CPU kernels unavailable, using the slower pure-torch path ({details})",
            RuntimeWarning,
            stacklevel=4,  # the caller of farthest_point_sample or knn
        )
        return None
    pointer, int64 = ctypes.c_void_p, ctypes.c_int64
    signatures = {  # the extern "C" functions at the end of cpu_kernels.cpp
        "m2pt_farthest_point_sample": [pointer, int64, int64, pointer, int64, int64, pointer, int64],
        "m2pt_knn": [pointer, int64, int64, pointer, pointer, int64, int64, pointer, int64],
    }
    for name, argtypes in signatures.items():
        for precision in ("f32", "f64"):
            function = getattr(library, f"{name}_{precision}")
            function.argtypes, function.restype = argtypes, None
    return library


def _build() -> Path:
    """Compiles the kernels unless a build of this source, compiler, flags and CPU is cached; returns it."""
    from torch.utils.cpp_extension import get_default_build_root

    compiler = os.environ.get("CXX", "c++")
    fingerprint = b"\0".join([_SOURCE.read_bytes(), " ".join((compiler, *_FLAGS)).encode(), _cpu_features()])
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root()  # as torch's own builds
    directory = Path(root) / f"m2pt_ops_{hashlib.sha256(fingerprint).hexdigest()[:16]}"
    library = directory / "m2pt_ops.so"
    if not library.exists():
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory) as scratch:  # concurrent builds never clash
            built = Path(scratch) / library.name
            command = [compiler, *_FLAGS, str(_SOURCE), "-o", str(built)]
            subprocess.run(command, check=True, capture_output=True, text=True)
            os.replace(built, library)
    return library


def _cpu_features() -> bytes:
    """The CPU's feature flags (the build uses -march=native), so a shared cache never serves another CPU."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    flags = next((line for line in lines if line.startswith(("flags", "Features"))), "")
    return f"{platform.machine()} {flags}".encode()
