import pytest

from m2pt.train.config import Config, ConfigError, apply_overrides, dump_yaml, load_config


def test_defaults_and_yaml_roundtrip(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(dump_yaml(Config()))
    assert load_config(path) == Config()


def test_overrides_are_parsed_and_type_checked(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 3\noptim:\n  lr: 0.01\n")
    config = load_config(path, ["optim.lr=3e-4", "pathway.aux=[a.safetensors, random]", "model.settings.depth=2",
                                "optim.clip_grad=null", "pathway.block_map=[1, 0]", "optim.warmup_epochs=2"])  # fmt: skip
    assert config.epochs == 3 and config.optim.lr == 3e-4
    assert config.pathway.aux == ["a.safetensors", "random"]
    assert config.model.settings == {"depth": 2}
    assert config.pathway.block_map == [1, 0]
    assert config.optim.warmup_epochs == 2.0 and isinstance(config.optim.warmup_epochs, float)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lrr=1", r"unknown config key optim.lrr \(did you mean optim.lr\?\)"),
        ("epochs=ten", r"epochs: expected int, got 'ten'"),
        ("epochs=true", "expected int"),
        ("finetune.mode=frozen", r"not one of \['tune', 'fix'\]"),
        ("pathway.aux=file.pt", "expected a list"),
        ("optim=3", "expected a mapping"),
        ("epochs", "not of the form key=value"),
        ("epochs.x=3", "not a group of settings"),
        ("nothing.here=3", "unknown config key nothing"),
    ],
)
def test_bad_overrides_are_rejected(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Config(), [override])


def test_missing_or_bad_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")
