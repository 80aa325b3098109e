"""The cache folder of built-in datasets, atomic builds, and the system tools a build needs."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from data_tools.errors import MissingToolError


def cache_root(root: str | Path | None = None) -> Path:
    """`root`, else `$M2PT_CACHE`, else `~/.cache/m2pt`."""
    if root is not None:
        return Path(root).expanduser()
    return Path(os.environ.get("M2PT_CACHE") or Path.home() / ".cache" / "m2pt")


def build_once(dest: Path, build: Callable[[Path], None]) -> Path:
    """Return `dest`, first running `build(tmp)` into a sibling temp folder renamed to `dest` when done.

    A killed build leaves only a hidden `.tmp-*` folder, never a half `dest`. When two processes build
    at once, the first rename wins and the other's copy is discarded.
    """
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}-", dir=dest.parent))
    try:
        build(tmp)
        os.rename(tmp, dest)
    except OSError:
        if not dest.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def require_tool(tool: str, apt_package: str | None = None) -> str:
    """Path of the executable `tool`, or MissingToolError saying which apt package to install."""
    path = shutil.which(tool)
    if path is None:
        raise MissingToolError(tool, apt_package or tool)
    return path


def apt_deb(package: str, root: str | Path | None = None) -> Path:
    """The Debian package `package` as a .deb in `<cache>/debs/`, downloaded (not installed) once."""
    require_tool("apt-get", "apt")
    require_tool("dpkg-deb", "dpkg")
    debs = cache_root(root) / "debs"
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]

    debs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tmp-", dir=debs) as tmp:
        result = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
        if result.returncode != 0:
            hint = "run 'apt-get update' first" if "Unable to locate" in result.stderr else result.stderr.strip()
            raise RuntimeError(f"apt-get download {package} failed: {hint}")
        (deb,) = Path(tmp).glob("*.deb")
        os.replace(deb, debs / deb.name)
    return debs / deb.name
