"""The science protocol end to end at tiny size: compare, the experiment (main job), the modality grid."""

import dataclasses
import json
import os

import pytest
import yaml

from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.train.config import ConfigError, FinetuneRun, load_config
from m2pt.vocabulary import ArmRole
from workflows import run_workflow
from workflows.__main__ import main as cli
from workflows.arms import Arm
from workflows.config import GridConfig
from workflows.grid import grid_settings

COMMON = ["data.size=tiny", "data.batch_size=16", "data.eval_batch_size=64", "model.options.depth=2", "epochs=1",
          "log_every=2", "compare.seeds=[0, 1]"]  # fmt: skip


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("M2PT_CACHE", os.environ.get("M2PT_TEST_CACHE") or str(tmp_path_factory.getbasetemp() / "cache"))


def test_experiment_pretrains_compares_merges_and_reports(tmp_path):
    arms = "{baseline: {}, m2pt: {aux: [audio]}, shuffled: {aux: ['shuffled:audio']}}"
    result = run_workflow("experiment", overrides=[
        f"output_dir={tmp_path}", "name=exp", *COMMON, "data.dataset=mnist", "model.modality=image",
        "experiment.auxiliaries={audio: {data.dataset: spoken_digits, model.modality: audio}}",
        "experiment.settings={tune: {}, fix: {finetune.mode: fix, finetune.train_tokenizer: true}}",
        f"compare.arms={arms}",
    ])  # fmt: skip
    root = tmp_path / "exp"
    assert set(result) == {"tune", "fix"}
    assert RunDir(root / "aux" / "audio", writer=False).encoder.is_file()
    for setting in ("tune", "fix"):
        comparison = Comparison.load(root / setting)
        assert set(comparison.scores) == {"baseline", "m2pt", "shuffled"} and comparison.controls == ["shuffled"]
        assert comparison.roles["m2pt"] is ArmRole.PATHWAY
    merge = json.loads((root / "tune" / "m2pt" / "seed0" / "merge.json").read_text())
    assert merge["verified"]
    report = (root / "report.md").read_text()
    assert "## tune" in report and "## fix" in report and "Beyond the best control (shuffled)" in report
    assert "## Merge" in report and "verified" in report
    assert "figures/tune_comparison.html" in report and (root / "figures" / "fix_lambda_heatmap.html").is_file()
    seed_config = (root / "tune" / "m2pt" / "seed1" / "config.yaml").read_text()
    assert "seed: 1" in seed_config and "encoder.safetensors" in seed_config
    assert set(yaml.safe_load(seed_config)) == {f.name for f in dataclasses.fields(FinetuneRun)}  # that run only
    assert (root / "tune" / "m2pt" / "seed1" / "log.txt").is_file()  # quiet runs log into their folders


def test_grid_runs_every_ordered_pair_and_shares_pair_independent_arms(tmp_path):
    arms = ("{baseline: {}, m2pt: {aux: [paired]}, random: {aux: [random]}, "
            "same_modality: {aux: [own], role: positive_reference}}")  # fmt: skip
    result = run_workflow("grid", overrides=[
        f"output_dir={tmp_path}", "name=grid", *COMMON,
        "grid.modalities={image: {data.dataset: mnist, model.modality: image}, "
        "audio: {data.dataset: spoken_digits, model.modality: audio}}",
        f"compare.arms={arms}",
    ])  # fmt: skip
    root = tmp_path / "grid"
    assert set(result) == {("image", "audio"), ("audio", "image")}
    assert (root / "image__audio" / "baseline").is_symlink()
    assert (root / "image__shared" / "baseline" / "seed1" / "summary.json").is_file()
    assert not (root / "image__audio" / "m2pt").is_symlink()
    assert (root / "image__audio" / "same_modality").is_symlink()  # the target's own encoder: pair-independent
    config = (root / "image__shared" / "same_modality" / "seed0" / "config.yaml").read_text()
    assert "aux/image/encoder.safetensors" in config
    comparison = Comparison.load(root / "audio__image")
    assert comparison.controls == ["random"] and comparison.positive_references == ["same_modality"]
    table = (root / "grid.md").read_text()
    assert "| image | audio |" in table and "| audio | image |" in table and "random" in table
    assert "Positive reference (same_modality): can this grid see a helpful auxiliary?" in table
    assert "| image | " in table.split("Positive reference")[1] and "| random |" in table.split("Positive reference")[1]
    assert (root / "figures" / "grid_heatmap.html").is_file()


def test_grid_references_are_trained_per_modality_and_stand_for_the_targets_own(tmp_path):
    config = load_config(GridConfig, None, [
        f"output_dir={tmp_path}", "name=grid", *COMMON,
        "grid.modalities={image: {data.dataset: mnist, model.modality: image}, "
        "audio: {data.dataset: spoken_digits, model.modality: audio}}",
        "grid.references={trained: {stage: finetune, per_seed: true}, "
        "supervised: {stage: finetune, finetune.start: pretrained, finetune.init: own}}",
        "compare.arms={baseline: {}, m2pt: {aux: [paired]}, random: {aux: [random]}, "
        "trained: {aux: [trained], role: positive_reference}, supervised: {aux: [supervised]}, "
        "learnt: {aux: ['difference:supervised,own'], role: positive_reference}}",
    ])  # fmt: skip
    grid_settings(config)
    root = tmp_path / "grid"
    aux = root / "aux"
    supervised = RunDir(aux / "audio.supervised", writer=False).config()
    assert supervised["finetune"]["init"] == str(aux / "audio" / RunDir.ENCODER)  # `own`: audio's own encoder
    assert supervised["data"]["dataset"] == "spoken_digits"
    for seed in (0, 1):  # per seed: the target's own trained weights, from that seed's initial weights
        trained = RunDir(aux / "image.trained" / RunDir.seed_name(seed), writer=False).config()
        assert trained["seed"] == seed and trained["data"]["dataset"] == "mnist"
        run = RunDir(root / "image__shared" / "trained" / RunDir.seed_name(seed), writer=False).config()
        [weights] = run["pathway"]["aux"]
        assert weights.startswith(str(aux / "image.trained" / RunDir.seed_name(seed)) + os.sep)
    [weights] = RunDir(root / "audio__shared" / "supervised" / "seed0", writer=False).config()["pathway"]["aux"]
    assert weights.startswith(str(aux / "audio.supervised") + os.sep)
    [learnt] = RunDir(root / "audio__shared" / "learnt" / "seed0", writer=False).config()["pathway"]["aux"]
    assert learnt == f"difference:{weights},{aux / 'audio' / RunDir.ENCODER}"  # what fine-tuning from `own` learnt
    assert (root / "image__audio" / "learnt").is_symlink()  # pair-independent
    assert (root / "image__audio" / "trained").is_symlink()
    assert "Positive reference (learnt, trained)" in (root / "grid.md").read_text()
    config.grid.references = {"own": {"stage": "finetune"}}
    with pytest.raises(ConfigError, match="grid.references names"):
        grid_settings(config)
    config.grid.references = {"trained": {"stage": "finetune", "seed": 1}}  # a fine-tuning seed
    with pytest.raises(ConfigError, match=r"^grid.references.trained \(of image\): seed 1 is a fine-tuning seed"):
        grid_settings(config)


def test_a_grid_with_settings_runs_each_in_its_own_folder_and_starts_pretrained_targets_from_their_own_encoder(
    tmp_path,
):
    config = load_config(GridConfig, None, [
        f"output_dir={tmp_path}", "name=grid", *COMMON,
        "grid.modalities={image: {data.dataset: mnist, model.modality: image}, "
        "audio: {data.dataset: spoken_digits, model.modality: audio}}",
        "grid.settings={from_scratch_tune: {}, pretrained_tune: {finetune.start: pretrained, finetune.init: own}}",
        "compare.arms={baseline: {}, m2pt: {aux: [paired]}, same_modality: {aux: [own]}}",
        "grid.references={trained: {stage: finetune, per_seed: true}}",
        # one target of one setting runs its own seeds and arms: its per-seed reference is trained for it alone
        "grid.settings_by_modality={pretrained_tune: {audio: {compare.seeds: [0, 1, 2], "
        "compare.arms: {baseline: {}, m2pt: {aux: [paired]}, trained: {aux: [trained], role: positive_reference}}}}}",
    ])  # fmt: skip
    result = grid_settings(config)
    root = tmp_path / "grid"
    assert set(result) == {"from_scratch_tune", "pretrained_tune"}
    assert set(result["pretrained_tune"]) == {("image", "audio"), ("audio", "image")}
    assert set(result["pretrained_tune"]["audio", "image"].scores) == {"baseline", "m2pt", "trained"}
    assert set(result["pretrained_tune"]["audio", "image"].scores["trained"]) == {0, 1, 2}
    assert set(result["pretrained_tune"]["image", "audio"].scores["m2pt"]) == {0, 1}
    assert set(result["from_scratch_tune"]["audio", "image"].scores["m2pt"]) == {0, 1}
    assert sorted(path.name for path in (root / "aux").iterdir()) == ["audio", "audio.trained", "image"]
    assert len(RunDir.seed_runs(root / "aux" / "audio.trained")) == 3
    baseline = RunDir(root / "pretrained_tune" / "image__shared" / "baseline" / "seed0", writer=False).config()
    assert baseline["finetune"]["init"] == str(root / "aux" / "image" / RunDir.ENCODER)
    scratch = RunDir(root / "from_scratch_tune" / "audio__image" / "m2pt" / "seed0", writer=False).config()
    assert scratch["finetune"]["init"] is None and scratch["pathway"]["aux"] == [
        str(root / "aux" / "image" / RunDir.ENCODER)
    ]
    assert (root / "pretrained_tune" / "grid.md").is_file() and (root / "from_scratch_tune" / "figures").is_dir()
    table = (root / "grid.md").read_text()
    assert "## from_scratch_tune" in table and "## pretrained_tune" in table and table.count("| image | audio |") == 2
    assert (
        "## Transfer efficiency" in table and "- image (from_scratch_tune / pretrained_tune): same_modality:" in table
    )
    config.grid.settings_by_modality = {"pretrained_tune": {"point": {"compare.seeds": [0, 1, 2]}}}
    with pytest.raises(ConfigError, match=r"grid.settings_by_modality names \['pretrained_tune.point'\]"):
        grid_settings(config)


def test_compare_writes_a_paired_table_and_reuses_finished_runs(tmp_path, capsys):
    arms = "{baseline: {}, random: {aux: [random]}, shuffled: {aux: ['shuffled:random']}}"
    overrides = [f"output_dir={tmp_path}", "name=cmp", *COMMON, f"compare.arms={arms}"]
    assert cli(["compare", *overrides]) == 2  # "shuffled:random" is no checkpoint
    assert "checkpoint not found" in capsys.readouterr().err
    arms = "{baseline: {}, random: {aux: [random]}}"
    first = run_workflow("compare", overrides=[f"output_dir={tmp_path}", "name=cmp", *COMMON, f"compare.arms={arms}"])
    folder = tmp_path / "cmp"
    assert (folder / "results.md").is_file() and (folder / "results.csv").is_file()
    assert first.controls == ["random"] and set(first.scores["baseline"]) == {0, 1}
    modified = (folder / "random" / "seed0" / "summary.json").stat().st_mtime_ns
    again = run_workflow("compare", overrides=[f"output_dir={tmp_path}", "name=cmp", *COMMON, f"compare.arms={arms}"])
    assert again.scores == first.scores
    assert (folder / "random" / "seed0" / "summary.json").stat().st_mtime_ns == modified  # reused, not rerun


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        ("{baseline: {}, m2pt: {pathway.aux: [x]}}", "expected a mapping of"),
        ("{baseline: {}, b: {aux: [random], role: baseline}}", "a baseline has no auxiliary"),
        ("{baseline: {}, c: {aux: [x.safetensors], role: control}}", "must all be controls"),
        ("{baseline: {}, c: {aux: [random], role: nonsense}}", "'nonsense' is not a valid ArmRole"),
        ("{baseline: {}, c: {aux: random}}", "aux is a list"),
        ("{m2pt: {aux: [random]}}", "compare.reference='baseline' is not among the arms"),
        ("{baseline: {}, h: {aux: [random], role: reach, set: {pathway.lambda_init: 1.0}}}", "a reach arm holds λ"),
    ],
)
def test_bad_arms_are_refused_before_anything_runs(tmp_path, arms, message, capsys):
    assert cli(["compare", f"output_dir={tmp_path}", "name=bad", *COMMON, f"compare.arms={arms}"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_a_grid_with_a_dense_task_target_scores_each_pair_by_its_targets_metric(tmp_path):
    arms = "{baseline: {}, m2pt: {aux: [paired]}, random: {aux: [random]}}"
    result = run_workflow("grid", overrides=[
        f"output_dir={tmp_path}", "name=grid", *COMMON, "data.batch_size=8",
        "grid.modalities={image: {data.dataset: mnist, model.modality: image}, "
        "point: {data.dataset: part_shapes, model.modality: point, model.options.num_points: 512}}",
        "grid.pretrain_by_modality={point: {data.dataset: shapes, model.options.num_points: 1024}}",
        f"compare.arms={arms}",
    ])  # fmt: skip
    assert result["point", "image"].metric == "val_instance_mIoU" and result["image", "point"].metric == "val_acc"
    encoder = tmp_path / "grid" / "aux" / "point" / "config.yaml"
    assert not encoder.exists() or "shapes" in encoder.read_text()
    assert "| point | image |" in (tmp_path / "grid" / "grid.md").read_text()


def test_a_reach_arm_holds_lambda_on_a_positive_references_auxiliary():
    entry = {"aux": ["difference:supervised,own"], "role": "reach",
             "set": {"pathway.lambda_init": 1.0, "pathway.lambda_trainable": False}}  # fmt: skip
    arm = Arm.parse("held", entry)
    assert arm.role is ArmRole.REACH and arm.overrides()["pathway.lambda_trainable"] is False
    assert Arm.parse("held", arm.to_yaml()) == arm
