"""Pretrained encoders are cached like datasets: reused by a second workflow, rebuilt when their config changes."""

import dataclasses

import pytest

from data_tools import dataset_version
from data_tools.registry import _REGISTRY as REGISTRY
from m2pt.run_dir import RunDir
from m2pt.train.config import ConfigError, PretrainRun, apply_overrides, project
from workflows import executors
from workflows.config import ExperimentConfig
from workflows.encoder_cache import ENCODERS, _publish, cache_entry, cache_key
from workflows.experiment import train_auxiliaries

TINY = {"data.size": "tiny", "data.batch_size": 16, "data.train_limit": 32, "data.val_limit": 32,
        "model.options.depth": 2, "epochs": 1, "log_every": 2}  # fmt: skip
AUDIO = {"data.dataset": "spoken_digits", "model.modality": "audio"}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("M2PT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def config(tmp_path, name: str, **changes) -> ExperimentConfig:
    return apply_overrides(ExperimentConfig(), {**TINY, "output_dir": str(tmp_path), "name": name, **changes})


def pretrain(tmp_path, name: str, auxiliaries: dict, **changes) -> dict[str, str]:
    experiment = config(tmp_path, name, **changes)
    return train_auxiliaries(experiment, RunDir(experiment.path()), auxiliaries).files


def refuse_runs(monkeypatch) -> None:
    def refuse(jobs, config, description):
        raise AssertionError(f"pretrained again: {[job.label() for job in jobs]}")

    monkeypatch.setitem(executors.EXECUTORS, "sequential", refuse)


def test_a_second_experiment_reuses_the_cached_encoder(tmp_path, cache, monkeypatch):
    first = pretrain(tmp_path, "first", {"audio": AUDIO})
    entries = sorted(p.name for p in (cache / ENCODERS).iterdir() if not p.name.startswith("."))
    assert len(entries) == 1 and first["audio"] == str(tmp_path / "first" / "aux" / "audio" / RunDir.ENCODER)
    cached = cache / ENCODERS / entries[0] / RunDir.ENCODER
    refuse_runs(monkeypatch)
    second = pretrain(tmp_path, "second", {"sound": AUDIO}, verbose=True, threads=1)  # neither changes the weights
    copy = tmp_path / "second" / "aux" / "sound" / RunDir.ENCODER
    assert second["sound"] == str(copy) and copy.read_bytes() == cached.read_bytes()
    assert RunDir(copy.parent, writer=False).finished and not list(copy.parent.parent.glob(".tmp-*"))
    assert pretrain(tmp_path, "first", {"audio": AUDIO}) == first  # an experiment's own copy is kept


def test_a_changed_config_is_pretrained_again(tmp_path, cache):
    pretrain(tmp_path, "first", {"audio": AUDIO})
    changed = pretrain(tmp_path, "second", {"audio": {**AUDIO, "optim.lr": 0.002}})
    entries = [p for p in (cache / ENCODERS).iterdir() if not p.name.startswith(".")]
    assert len(entries) == 2 and not list((cache / ENCODERS / ".partial").iterdir())
    first = tmp_path / "first" / "aux" / "audio" / RunDir.ENCODER
    assert first.read_bytes() != (tmp_path / "second" / "aux" / "audio" / RunDir.ENCODER).read_bytes()
    assert RunDir(tmp_path / "second" / "aux" / "audio", writer=False).config()["optim"]["lr"] == 0.002
    assert changed["audio"].endswith(RunDir.ENCODER)
    with pytest.raises(ConfigError, match="trained with other settings or data"):  # its runs used the old encoder
        pretrain(tmp_path, "first", {"audio": {**AUDIO, "optim.lr": 0.002}})


def test_an_experiments_copy_of_an_encoder_on_an_earlier_build_of_its_data_is_refused(tmp_path, cache, monkeypatch):
    pretrain(tmp_path, "first", {"audio": AUDIO})
    built = REGISTRY["spoken_digits"].version
    monkeypatch.setitem(REGISTRY, "spoken_digits", dataclasses.replace(REGISTRY["spoken_digits"], version=built + 1))
    refuse_runs(monkeypatch)
    with pytest.raises(ConfigError, match="trained with other settings or data"):
        pretrain(tmp_path, "first", {"audio": AUDIO})


def test_the_key_ignores_where_a_run_goes_and_how_it_logs_but_not_its_training(tmp_path):
    base = project(config(tmp_path, "x"), PretrainRun, AUDIO)
    same = {"name": "y", "output_dir": "elsewhere", "log_every": 7, "verbose": False, "threads": 3,
            "data.num_workers": 2, "device": "cpu"}  # fmt: skip
    assert cache_key(apply_overrides(base, same)) == cache_key(base)
    for change in ({"epochs": 2}, {"seed": 1}, {"optim.lr": 0.01}, {"pretrain.mask_ratio": 0.5},
                   {"data.train_limit": 16}, {"pretrain.save_epochs": [1]}):  # fmt: skip
        assert cache_key(apply_overrides(base, change)) != cache_key(base), change
    assert cache_entry(base, tmp_path) == tmp_path / ENCODERS / cache_key(base)


def test_the_key_follows_the_build_version_of_a_built_in_dataset(tmp_path, monkeypatch):
    base = project(config(tmp_path, "x"), PretrainRun, AUDIO)
    before = cache_key(base)
    monkeypatch.setitem(REGISTRY, "spoken_digits", dataclasses.replace(REGISTRY["spoken_digits"], version=99))
    assert dataset_version("spoken_digits") == 99 and cache_key(base) != before  # rebuilt data: trained again
    assert dataset_version("folder") is None


def test_a_finished_run_is_published_whole_and_a_second_copy_is_dropped(tmp_path):
    entry, partial = tmp_path / ENCODERS / "key", tmp_path / ENCODERS / ".partial" / "key"
    for folder, text in ((partial, "first"), (tmp_path / "other", "second")):
        folder.mkdir(parents=True)
        (folder / RunDir.SUMMARY).write_text(text)
    _publish(partial, entry)
    assert (entry / RunDir.SUMMARY).read_text() == "first" and not partial.exists()
    _publish(tmp_path / "other", entry)  # another process finished the same encoder first: keep its copy
    assert (entry / RunDir.SUMMARY).read_text() == "first" and not (tmp_path / "other").exists()
