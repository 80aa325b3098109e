"""Set-up step: make the registry's CUDA builds of torchvision and torchaudio import under a
CPU-only torch. Idempotent, and a no-op when torch is a CUDA (or ROCm) build.

The registry ships torchvision and torchaudio wheels whose compiled parts link
``libc10_cuda.so``, which a CPU torch lacks:

- torchaudio: its compiled libraries are moved aside (``*.so`` -> ``*.so.cuda-only``); torchaudio
  supports running without them and keeps its pure-Python paths (``compliance.kaldi.fbank``,
  ``transforms``, ``functional``).
- torchvision: it already tolerates its compiled ops failing to load, except for two fake-kernel
  registrations; ``torchvision_cpu_hook.py`` (copied into site-packages with a ``.pth`` line)
  defines those two op schemas just before they are needed.

Run with the virtual environment's Python: ``.venv/bin/python scripts/cpu_wheel_compat.py``.
"""

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

HOOK_NAME = "_m2pt_torchvision_cpu"


def is_cuda_build() -> bool:
    import torch

    return bool(torch.version.cuda or torch.version.hip)


def imports(module: str) -> bool:
    """Whether ``import module`` succeeds in a fresh interpreter of this environment."""
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def set_torchaudio_libraries_aside() -> list[str]:
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or imports("torchaudio"):
        return []
    libraries = sorted((Path(spec.origin).parent / "lib").glob("*.so"))
    for library in libraries:
        library.rename(library.with_name(library.name + ".cuda-only"))
    return [library.name for library in libraries]


def install_torchvision_hook() -> bool:
    site = Path(sysconfig.get_paths()["purelib"])
    hook, pth = site / f"{HOOK_NAME}.py", site / f"{HOOK_NAME}.pth"
    if importlib.util.find_spec("torchvision") is None or imports("torchvision"):
        return False  # fine as it is (with or without an earlier hook)
    shutil.copyfile(Path(__file__).with_name("torchvision_cpu_hook.py"), hook)
    pth.write_text(f"import {HOOK_NAME}\n")
    return True


def main() -> int:
    if is_cuda_build():
        print("cpu_wheel_compat: torch is a CUDA build; nothing to do")
        return 0
    moved = set_torchaudio_libraries_aside()
    hooked = install_torchvision_hook()
    if moved:
        print(f"cpu_wheel_compat: set torchaudio's CUDA-linked libraries aside: {moved}")
    if hooked:
        print("cpu_wheel_compat: torchvision runs without its compiled ops (import hook installed)")
    for module in ("torchvision", "torchaudio"):
        if importlib.util.find_spec(module) is not None and not imports(module):
            print(f"cpu_wheel_compat: `import {module}` still fails", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
