"""A run folder is kept only as the run its config asks for: the same settings (but how it logs and
where it runs), weight files that still hold what the run read, and the same build of its dataset."""

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from data_tools.registry import _REGISTRY as REGISTRY
from m2pt.run_dir import RunDir
from m2pt.train import ensure_run, run_stage
from m2pt.train.config import ConfigError, FinetuneRun, apply_overrides
from workflows.config import ExecutorConfig
from workflows.executors import Job, execute

TINY_IMAGES = {"data.dataset": "mnist", "data.size": "tiny", "data.batch_size": 16, "data.eval_batch_size": 64,
               "model.options.depth": 2, "log_every": 1, "epochs": 1, "verbose": False}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """Built-in datasets go to a temporary cache shared by this module's tests."""
    old = os.environ.get("M2PT_CACHE")
    os.environ["M2PT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        del os.environ["M2PT_CACHE"]
    else:
        os.environ["M2PT_CACHE"] = old


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    """A tiny audio encoder pretrained for one epoch."""
    out = tmp_path_factory.mktemp("aux")
    run_stage("pretrain", overrides=[f"output_dir={out}", "name=audio", "data.dataset=spoken_digits", "data.size=tiny",
                                     "data.batch_size=8", "model.modality=audio", "model.options.depth=2",
                                     "epochs=1"])  # fmt: skip
    return out / "audio" / "encoder.safetensors"


def finished_run(tmp_path: Path, encoder: Path, **changes) -> tuple[FinetuneRun, Path]:
    """A finished one-epoch run with a pathway to a copy of ``encoder`` and a random control."""
    aux = tmp_path / "aux.safetensors"
    shutil.copyfile(encoder, aux)
    overrides = {**TINY_IMAGES, "output_dir": str(tmp_path), "name": "run", "pathway.aux": [str(aux), "random"]}
    config = apply_overrides(FinetuneRun(), overrides | changes)
    ensure_run("finetune", config)
    return config, aux


def replace_content(checkpoint: Path) -> None:
    """Write other weights under the same name (one matrix scaled)."""
    weights = load_file(checkpoint)
    key = next(k for k in weights if k.endswith("qkv.weight"))
    weights[key] = weights[key] * 2
    save_file(weights, checkpoint)


def test_a_run_records_the_content_of_the_weight_files_it_reads(tmp_path, encoder):
    config, aux = finished_run(tmp_path, encoder)
    recorded = json.loads((config.path() / RunDir.INPUTS).read_text())
    weights = {str(aux): hashlib.sha256(aux.read_bytes()).hexdigest()}  # the random control reads no file
    assert recorded == {"weights": weights, "data": {"mnist": REGISTRY["mnist"].version}}


def test_a_finished_run_is_kept_only_for_the_settings_it_was_trained_with(tmp_path, encoder):
    config, _ = finished_run(tmp_path, encoder)
    finished_at = config.path().joinpath(RunDir.SUMMARY).stat().st_mtime_ns
    ensure_run("finetune", apply_overrides(config, {"log_every": 5, "threads": 1, "verbose": True}))
    assert config.path().joinpath(RunDir.SUMMARY).stat().st_mtime_ns == finished_at  # kept, not trained again
    for changed, shown in (({"optim.lr": 0.01}, "optim.lr: 0.001 -> 0.01"), ({"epochs": 2}, "epochs: 1 -> 2")):
        with pytest.raises(ConfigError, match="not the runs the config asks for") as refused:
            ensure_run("finetune", apply_overrides(config, changed))
        assert shown in str(refused.value)
    assert config.path().joinpath(RunDir.SUMMARY).stat().st_mtime_ns == finished_at  # and left as it was


def test_a_workflow_refuses_finished_runs_whose_auxiliary_was_replaced(tmp_path, encoder):
    config, aux = finished_run(tmp_path, encoder)
    execute([Job("finetune", config)], ExecutorConfig())  # unchanged: kept
    replace_content(aux)
    with pytest.raises(ConfigError, match="its content changed since the run read it") as refused:
        execute([Job("finetune", config)], ExecutorConfig())
    assert str(aux) in str(refused.value) and "Remove those run folders" in str(refused.value)
    with pytest.raises(ConfigError, match="content changed"):
        ensure_run("finetune", config)


def test_a_resume_refuses_an_auxiliary_whose_content_changed(tmp_path, encoder):
    config, aux = finished_run(tmp_path, encoder)
    replace_content(aux)
    with pytest.raises(ConfigError, match="cannot resume .* on other inputs than it started with"):
        run_stage("finetune", apply_overrides(config, {"epochs": 2}), resume=True)


def test_a_run_on_an_earlier_build_of_its_dataset_is_refused(tmp_path, encoder, monkeypatch):
    config, _ = finished_run(tmp_path, encoder)
    built = REGISTRY["mnist"].version
    monkeypatch.setitem(REGISTRY, "mnist", dataclasses.replace(REGISTRY["mnist"], version=built + 1))
    with pytest.raises(ConfigError, match=f"data: mnist was built at version {built}, now at {built + 1}"):
        execute([Job("finetune", config)], ExecutorConfig())


def test_a_run_whose_saved_settings_no_longer_read_is_refused_by_name(tmp_path, encoder):
    config, _ = finished_run(tmp_path, encoder)
    saved = config.path() / RunDir.CONFIG
    saved.write_text(saved.read_text() + "retired_setting: 3\n")
    with pytest.raises(ConfigError, match=r"run .*does not read as today's settings .*retired_setting"):
        execute([Job("finetune", config)], ExecutorConfig())


def test_a_run_from_before_the_record_is_kept(tmp_path, encoder):
    config, aux = finished_run(tmp_path, encoder)
    config.path().joinpath(RunDir.INPUTS).unlink()
    replace_content(aux)  # cannot be seen without the record
    execute([Job("finetune", config)], ExecutorConfig())
