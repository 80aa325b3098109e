"""Tiny runs shared by the analysis tests: built once per session (per xdist worker)."""

from pathlib import Path

import pytest

from m2pt.run_dir import RunDir
from workflows import presets
from workflows.experiment import experiment

TARGET, AUX = "image", "audio"
SETTING = "from_scratch_tune"  # the experiment's one setting (the default)
# The notebook executions take most of the time. They run last, the longest first: pytest-xdist
# hands its workers the first tests in contiguous chunks, then the rest one by one as workers
# free up, which shares long tests evenly only at the end.
LONGEST_FIRST = [
    "04_point",
    "06_analysis",
    "03_audio",
    "05_video",
    "02_image",
    "08_dense_tasks",
    "01_quickstart",
    "07_widgets",
]


def pytest_collection_modifyitems(items):
    last = [f"test_runs_headless_at_small_size[{name}]" for name in LONGEST_FIRST]
    items.sort(key=lambda item: 1 + last.index(item.name) if item.name in last else 0)


@pytest.fixture(scope="session", autouse=True)
def cache(tmp_path_factory):
    """Built-in datasets go to a temporary cache shared by the analysis tests (and notebooks)."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv("M2PT_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def experiment_run(tmp_path_factory) -> Path:
    """A small ``experiment`` run: an image target, an audio auxiliary pretrained for 2 epochs (encoders
    of epochs 1 and 2), arms baseline / m2pt / random / shuffled over seeds 0 and 1, 2 epochs each."""
    out = tmp_path_factory.mktemp("runs")
    experiment(presets.experiment_config(TARGET, AUX, size="small", output_dir=out, name="exp"))
    return out / "exp"


@pytest.fixture(scope="session")
def aux_encoder(experiment_run) -> Path:
    return RunDir(experiment_run / "aux" / AUX, writer=False).encoder


@pytest.fixture(scope="session")
def m2pt_run(experiment_run) -> Path:
    """The first seed of the experiment's m2pt arm (a finished fine-tuning run with a pathway)."""
    return experiment_run / SETTING / "m2pt" / RunDir.seed_name(0)
