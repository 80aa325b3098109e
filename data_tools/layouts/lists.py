"""Reading the text lists of the upstream layouts: lines with their numbers, and errors naming both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from data_tools.errors import DataFileError


def list_lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """`(line number from 1, stripped line)` of the non-blank lines of the list file `path` (its `what`)."""
    if not path.is_file():
        present = sorted(entry.name for entry in path.parent.iterdir()) if path.parent.is_dir() else []
        where = f"'{path.parent}' holds {present[:12]}" if path.parent.is_dir() else f"'{path.parent}' does not exist"
        raise DataFileError(path, f"no such file ({what}); {where}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(path, f"{type(error).__name__}: {error}") from error
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.strip()


def bad_line(path: Path, number: int, line: str, expected: str) -> DataFileError:
    """The error for line `number` of the list `path`, which should hold `expected`."""
    return DataFileError(path, f"line {number}: expected {expected}, got {line[:100]!r}")
