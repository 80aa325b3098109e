"""Every notebook runs headless at its small size, and is committed without outputs.

Notebooks execute with papermill in a ``python3`` kernel of this interpreter (a kernel spec
written for the test and found first through ``JUPYTER_PATH``: nothing needs registering), with
``OUTPUT_DIR`` pointed at a temporary folder and this checkout first on the kernel's
``PYTHONPATH``. A failing cell fails the test.
"""

import json
import os
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "01_quickstart",
    "02_image",
    "03_audio",
    "04_point",
    "05_video",
    "06_analysis",
    "07_widgets",
    "08_dense_tasks",
]


def test_the_notebooks_are_there():
    assert [path.stem for path in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        i for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]  # fmt: skip
    assert not dirty, f"cells {dirty} of {path.name} hold outputs: jupyter nbconvert --clear-output --inplace {path}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_small_parameters_cell(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "one cell tagged `parameters` (papermill injects overrides after it)"
    assert "SMALL = True" in cells[0].source and "OUTPUT_DIR = " in cells[0].source


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory) -> Path:
    """A folder with a ``python3`` kernel spec that starts this interpreter (shadowing any other)."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_headless_at_small_size(path, tmp_path, monkeypatch, jupyter_path):
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny models; and xdist workers share the cores
    papermill.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        parameters={"OUTPUT_DIR": str(tmp_path / "runs")},
        cwd=str(path.parent),
        kernel_name="python3",
        progress_bar=False,
    )
