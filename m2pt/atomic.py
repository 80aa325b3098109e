"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A reader never sees a half-written file, and a write killed midway leaves the previous version
(and a hidden ``.<name>.*.tmp`` file, which :meth:`m2pt.run_dir.RunDir.remove_partial_files`
clears). A full disk or a read-only folder is reported as such (:class:`WriteError`), naming
the file, and the previous version stays as it was.
"""

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_SUFFIX = ".tmp"
NEARLY_FULL = 1 << 20  # bytes free below which a failed write is put down to a full disk


class WriteError(OSError):
    """A file could not be written: no space left, or a folder that cannot be written to."""


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``."""
    path = Path(path)
    with disk_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
        os.close(fd)
    tmp = Path(name)
    try:
        with disk_errors(path):
            yield tmp
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


@contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """Turn the ways a write fails for lack of space or permission into a :class:`WriteError` that
    says so (torch and safetensors report a full disk in their own words: the free space decides)."""
    try:
        yield
    except WriteError:
        raise
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise WriteError(error.errno, f"no space left on device while writing {path}") from error
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise WriteError(error.errno, f"cannot write to {path.parent}: read-only or not permitted") from error
        raise
    except Exception as error:
        if _free_bytes(path.parent) < NEARLY_FULL:
            raise WriteError(errno.ENOSPC, f"no space left on device while writing {path} ({error})") from error
        raise


def _free_bytes(folder: Path) -> int:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return NEARLY_FULL
