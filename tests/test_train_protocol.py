"""The science protocol end to end at tiny size: the experiment (main job) and the modality grid."""

import json
import os

import pytest

from m2pt.comparison import Comparison
from m2pt.train import run_stage

COMMON = ["data.size=tiny", "data.batch_size=16", "data.eval_batch_size=64", "model.settings.depth=2", "epochs=1",
          "log_every=2", "compare.seeds=[0, 1]"]  # fmt: skip


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("M2PT_CACHE", os.environ.get("M2PT_TEST_CACHE") or str(tmp_path_factory.getbasetemp() / "cache"))


def test_experiment_pretrains_compares_merges_and_reports(tmp_path):
    arms = "{baseline: {}, m2pt: {pathway.aux: ['${audio}']}, shuffled: {pathway.aux: ['shuffled:${audio}']}}"
    result = run_stage("experiment", overrides=[
        f"output_dir={tmp_path}", "name=exp", *COMMON, "data.dataset=mnist", "model.modality=image",
        "experiment.auxiliaries={audio: {data.dataset: spoken_digits, model.modality: audio}}",
        "experiment.settings={tune: {}, fix: {finetune.mode: fix, finetune.train_tokenizer: true}}",
        f"compare.arms={arms}",
    ])  # fmt: skip
    root = tmp_path / "exp"
    assert set(result) == {"tune", "fix"}
    assert (root / "aux" / "audio" / "encoder.safetensors").is_file()
    for setting in ("tune", "fix"):
        comparison = Comparison.from_json(json.loads((root / setting / "results.json").read_text()))
        assert set(comparison.scores) == {"baseline", "m2pt", "shuffled"} and comparison.controls == ["shuffled"]
    merge = json.loads((root / "tune" / "m2pt" / "seed0" / "merge.json").read_text())
    assert merge["verified"]
    report = (root / "report.md").read_text()
    assert "## tune" in report and "## fix" in report and "Beyond the best control (shuffled)" in report
    assert "## Merge" in report and "verified" in report
    assert "figures/tune_comparison.html" in report and (root / "figures" / "fix_lambda_heatmap.html").is_file()
    config = (root / "tune" / "m2pt" / "seed1" / "config.yaml").read_text()
    assert "seed: 1" in config and "encoder.safetensors" in config


def test_grid_runs_every_ordered_pair_and_shares_pair_independent_arms(tmp_path):
    arms = (
        "{baseline: {}, m2pt: {pathway.aux: ['${aux}']}, random: {pathway.aux: [random]}, "
        "same_modality: {pathway.aux: ['${self}']}}"
    )
    result = run_stage("grid", overrides=[
        f"output_dir={tmp_path}", "name=grid", *COMMON,
        "grid.modalities={image: {data.dataset: mnist, model.modality: image}, "
        "audio: {data.dataset: spoken_digits, model.modality: audio}}",
        f"compare.arms={arms}",
    ])  # fmt: skip
    root = tmp_path / "grid"
    assert set(result) == {"image__audio", "audio__image"}
    assert (root / "image__audio" / "baseline").is_symlink()
    assert (root / "image__shared" / "baseline" / "seed1" / "summary.json").is_file()
    assert not (root / "image__audio" / "m2pt").is_symlink()
    assert (root / "image__audio" / "same_modality").is_symlink()  # the target's own encoder: pair-independent
    config = (root / "image__shared" / "same_modality" / "seed0" / "config.yaml").read_text()
    assert "aux/image/encoder.safetensors" in config
    comparison = Comparison.from_json(json.loads((root / "audio__image" / "results.json").read_text()))
    assert comparison.controls == ["random"] and "same_modality" in comparison.scores
    table = (root / "grid.md").read_text()
    assert "| image | audio |" in table and "| audio | image |" in table and "random" in table
    assert "Positive reference (same_modality)" in table
    assert (root / "figures" / "grid_heatmap.html").is_file()
