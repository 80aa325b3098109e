import pytest

from m2pt.train.config import ConfigError, FinetuneRun, PretrainRun, apply_overrides, dump_yaml, load_config, project


def test_defaults_and_yaml_roundtrip(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(dump_yaml(FinetuneRun()))
    assert load_config(FinetuneRun, path) == FinetuneRun()


def test_overrides_are_parsed_and_type_checked(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 3\noptim:\n  lr: 0.01\n")
    config = load_config(FinetuneRun, path, ["optim.lr=3e-4", "pathway.aux=[a.safetensors, random]", "model.options.depth=2",
                                "optim.clip_grad=null", "pathway.block_map=[1, 0]", "optim.warmup_epochs=2"])  # fmt: skip
    assert config.epochs == 3 and config.optim.lr == 3e-4
    assert config.pathway.aux == ["a.safetensors", "random"]
    assert config.model.options == {"depth": 2}
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
        apply_overrides(FinetuneRun(), [override])


def test_missing_or_bad_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(FinetuneRun, tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(FinetuneRun, tmp_path / "list.yaml")


def test_a_run_config_holds_only_its_stage_sections():
    pretrain = project(FinetuneRun(epochs=3), PretrainRun, {"pretrain.mask_ratio": 0.5})
    assert pretrain.epochs == 3 and pretrain.pretrain.mask_ratio == 0.5
    assert "pathway" not in dump_yaml(pretrain) and "pretrain" not in dump_yaml(FinetuneRun())
    with pytest.raises(ConfigError, match="unknown config key pathway"):
        apply_overrides(PretrainRun(), ["pathway.lambda_init=1"])


@pytest.mark.parametrize(
    ("override", "allowed"),
    [
        ("epochs=0", r"\[1, inf\]"),
        ("optim.lr=0", r"\(0, 10\]"),
        ("optim.lr=-1e-3", r"\(0, 10\]"),
        ("optim.weight_decay=-0.1", r"\[0, 10\]"),
        ("optim.betas=[0.9, 1.5]", r"\[0, 1\]"),
        ("data.batch_size=0", r"\[1, inf\]"),
        ("data.train_limit=-5", r"\[1, inf\]"),
        ("pathway.lambda_init=.nan", "out of range"),
        ("pathway.lambda_lr_scale=-1", r"\[0, inf\]"),
        ("finetune.mode=fix", None),
    ],
)
def test_numbers_out_of_range_are_refused_with_the_allowed_range(override, allowed):
    if allowed is None:
        apply_overrides(FinetuneRun(), [override])
        return
    with pytest.raises(ConfigError, match=allowed):
        apply_overrides(FinetuneRun(), [override])


def numeric_fields(cls, prefix=""):
    """(dotted key, field, type) of every number setting of a config class, through its sections."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            yield from numeric_fields(kind, f"{prefix}{f.name}.")
            continue
        args = set(typing.get_args(kind)) | {kind}
        inner = {a for arg in args for a in typing.get_args(arg)} | args
        if inner & {int, float} and bool not in inner:
            yield f"{prefix}{f.name}", f, (float if float in inner else int)


def all_configs():
    from m2pt.train.config import EvaluateConfig, MergeConfig
    from workflows.config import ExperimentConfig, GridConfig

    return [PretrainRun, FinetuneRun, MergeConfig, EvaluateConfig, ExperimentConfig, GridConfig]


@pytest.mark.parametrize("cls", all_configs(), ids=lambda c: c.__name__)
def test_every_numeric_setting_has_bounds_and_each_bound_is_enforced(cls):
    seen = 0
    for key, f, kind in numeric_fields(cls):
        assert "range" in f.metadata, f"{cls.__name__}.{key} has no allowed range"
        low, high, open_low = f.metadata["range"]
        is_list = "list[" in str(f.type)
        wrap = (lambda v: [v]) if is_list else (lambda v: v)
        if low is not None:
            below = low if open_low else (low - 1 if kind is int else low - 1e-3)
            with pytest.raises(ConfigError, match=f"{key}.*out of range; allowed: [\\[(]"):
                apply_overrides(cls(), {key: wrap(below)})
            apply_overrides(cls(), {key: wrap(low if not open_low else (low + (1 if kind is int else 1e-3)))})
        if high is not None:
            with pytest.raises(ConfigError, match="out of range"):
                apply_overrides(cls(), {key: wrap(high + 1)})
        seen += 1
    assert seen or cls.__name__ == "EvaluateConfig"
