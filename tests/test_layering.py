"""Imports run downward only: the library and trainer (m2pt) and data_tools below analysis, analysis below
workflows. Checked on the source, so a function-local import cannot hide an upward one."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {  # package -> the packages it must never import
    "m2pt": {"analysis", "workflows"},
    "data_tools": {"m2pt", "analysis", "workflows"},
    "analysis": {"workflows", "m2pt.train"},
}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_runs_up(package):
    upward = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[package]):
                upward.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not upward, "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from workflows.grid import grid\n")
    assert "workflows.grid" in imported(module)


def test_data_tools_reads_the_vocabularys_modalities():
    """data_tools stands below m2pt and cannot import its vocabulary: the two must name the same modalities."""
    from data_tools import READERS
    from m2pt.vocabulary import MODALITIES

    assert set(READERS) == set(MODALITIES)
