"""Errors that name the data file or the missing tool, so a long run says what to fix."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class DataFileError(ValueError):
    """A file that cannot be turned into model input: missing, empty, corrupt or of an unsupported type."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read '{self.path}': {reason}")


class MissingToolError(RuntimeError):
    """A system tool that a built-in dataset needs is not installed."""

    def __init__(self, tool: str, apt_package: str) -> None:
        self.tool = tool
        super().__init__(f"{tool} not found: apt-get install {apt_package}")


def check_file(path: str | Path, extensions: Iterable[str]) -> Path:
    """Return `path` as a Path, or raise DataFileError if it is missing, empty or has the wrong suffix."""
    path = Path(path)
    extensions = tuple(extensions)
    if path.suffix.lower() not in extensions:
        raise DataFileError(path, f"unsupported file type '{path.suffix}' (expected {', '.join(extensions)})")
    if not path.is_file():
        raise DataFileError(path, "no such file")
    if path.stat().st_size == 0:
        raise DataFileError(path, "file is empty")
    return path


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Turn any error raised while decoding `path` into a DataFileError naming it."""
    try:
        yield
    except DataFileError:
        raise
    except Exception as error:
        raise DataFileError(path, f"{type(error).__name__}: {error}") from error
