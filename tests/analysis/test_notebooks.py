"""Every notebook runs headless at the tests' small size, and is committed without outputs.

Each notebook's sizes are parameters naming budgets of :mod:`workflows.presets` (``SIZE``, and
``ABLATION_SIZE`` in ``06_analysis``), which default to the size a person runs first (the demo
budgets of ``02``-``06``, whose figures show an effect); the tests set every one of them to
``"small"``: the same cells over tiny data, the plumbing only.

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

from workflows.presets import BUDGETS

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


def parameters(path: Path) -> dict:
    """The names and default values of the notebook's cell tagged ``parameters``."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "one cell tagged `parameters` (papermill injects overrides after it)"
    defaults: dict = {}
    exec(cells[0].source, {}, defaults)  # the repository's own notebook: plain assignments
    return defaults


def small_sizes(path: Path) -> dict[str, str]:
    """Every budget parameter of the notebook (a name ending in ``SIZE``) at the tests' small size."""
    return {name: "small" for name in parameters(path) if name.endswith("SIZE")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_names_budgets(path):
    defaults = parameters(path)
    assert "OUTPUT_DIR" in defaults and "SIZE" in small_sizes(path)
    sizes = {name: value for name, value in defaults.items() if name.endswith("SIZE")}
    assert set(sizes.values()) <= set(BUDGETS), f"sizes {sizes} name budgets of workflows.presets: {sorted(BUDGETS)}"


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
        parameters={"OUTPUT_DIR": str(tmp_path / "runs"), **small_sizes(path)},
        cwd=str(path.parent),
        kernel_name="python3",
        progress_bar=False,
    )
