"""Every shipped config parses as the config of what runs it, and its model builds."""

from pathlib import Path

import pytest

from m2pt import build_model
from m2pt.train.config import FinetuneRun, load_config
from m2pt.train.data import dataset_modality
from workflows.config import BudgetConfig, ExperimentConfig, GridConfig

ROOT = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = {path: FinetuneRun for path in sorted((ROOT / "paper").glob("*.yaml"))} | {
    ROOT / "main.yaml": ExperimentConfig,
    ROOT / "grid.yaml": GridConfig,
    ROOT / "pilots" / "reachable.yaml": GridConfig,
    ROOT / "mae_budget.yaml": BudgetConfig,
}


@pytest.mark.parametrize(("path", "kind"), CONFIGS.items(), ids=lambda p: getattr(p, "name", ""))
def test_config_loads_and_its_model_builds(path, kind):
    config = load_config(kind, path)
    model = build_model(config.model.modality, config.model.size, num_classes=3, **config.model.options)
    assert len(model.blocks) > 0
    if config.data.dataset != "folder":
        assert dataset_modality(config.data) == config.model.modality
    else:
        assert config.data.modality == config.model.modality


def test_every_shipped_config_is_tested():
    assert set(ROOT.rglob("*.yaml")) == set(CONFIGS)
