"""Every shipped config parses, and its model builds."""

from pathlib import Path

import pytest

from m2pt import build_model
from m2pt.train.config import load_config
from m2pt.train.data import dataset_modality

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_its_model_builds(path):
    config = load_config(path)
    model = build_model(config.model.modality, config.model.size, num_classes=3, **config.model.settings)
    assert len(model.blocks) > 0
    if config.data.dataset != "folder":
        assert dataset_modality(config.data) == config.model.modality
    else:
        assert config.data.modality == config.model.modality
