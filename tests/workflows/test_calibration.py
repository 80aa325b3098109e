"""The instrument on known answers: a helpful auxiliary is seen, supervised auxiliaries are trained
(from another auxiliary too) and cached, and a pretrained setting's init must fit."""

import pytest

from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.train.config import ConfigError, FinetuneRun, apply_overrides, project
from m2pt.vocabulary import ArmRole
from workflows.config import CompareConfig, ExperimentConfig
from workflows.encoder_cache import cache_key
from workflows.experiment import AUXILIARY_SEED, auxiliary_runs, experiment, seeds_using, train_auxiliaries

SMALL = {"data.dataset": "mnist", "data.train_limit": 400, "data.val_limit": 200, "data.batch_size": 32,
         "model.options.depth": 2, "epochs": 4, "log_every": 5, "threads": 1, "optim.lr": 0.002,
         "pathway.lambda_lr_scale": 30, "experiment.merge_arm": None}  # fmt: skip
OWN = {"stage": "finetune", "epochs": 8}  # the target's own task, learnt supervised: knowledge known to help
FIX = {"finetune.mode": "fix", "finetune.train_tokenizer": True}
# The pathway carries a supervised auxiliary's knowledge when its blocks read tokens like the target's:
# trained per seed from the target's own initial weights (per_seed), or both started from one MAE.
FROM_MAE = {"finetune.start": "pretrained", "finetune.init": "image"}
MAE = {"epochs": 3, "data.batch_size": 64}


def config(tmp_path, name: str, **changes) -> ExperimentConfig:
    return apply_overrides(ExperimentConfig(), {**SMALL, "output_dir": str(tmp_path), "name": name, **changes})


def test_an_auxiliary_of_the_targets_own_trained_weights_beats_a_random_control(tmp_path, cache):
    arms = {"baseline": {}, "random": {"aux": ["random"]}, "own": {"aux": ["own"], "role": "positive_reference"}}
    found = experiment(config(tmp_path, "calibration", **{
        "experiment.auxiliaries": {"own": {**OWN, "per_seed": True}}, "experiment.settings": {"fix": FIX},
        "compare.seeds": [0, 1, 2], "compare.arms": arms}))["fix"]  # fmt: skip
    assert found.roles["own"] is ArmRole.POSITIVE_REFERENCE
    gains = {seed: found.scores["own"][seed] - found.scores["random"][seed] for seed in (0, 1, 2)}
    assert all(gain > 0.08 for gain in gains.values()), gains  # the known answer, on every seed (measured: 14-21)
    assert found.versus("own", "random").low > 0
    report = (tmp_path / "calibration" / RunDir.REPORT).read_text()
    assert (
        "Positive reference (own) beyond the best control" in report
        and "this setup detects a helpful auxiliary." in report
    )


def test_a_supervised_auxiliary_may_start_from_another_and_is_cached_by_its_inits_content(tmp_path, cache):
    auxiliaries = {"image": {"epochs": 1}, "tuned": {**OWN, **FROM_MAE, "epochs": 1}}
    first = config(tmp_path, "first")
    encoders = train_auxiliaries(first, RunDir(first.path()), auxiliaries).files
    tuned = RunDir(tmp_path / "first" / "aux" / "tuned", writer=False)
    assert encoders["tuned"] == str(tuned.model_file) and encoders["image"].endswith(RunDir.ENCODER)
    assert tuned.config()["finetune"]["init"] == encoders["image"]
    again = config(tmp_path, "second")  # the same runs elsewhere: the same cache entries
    assert (
        train_auxiliaries(again, RunDir(again.path()), auxiliaries)
        .files["tuned"]
        .endswith("second/aux/tuned/" + RunDir.MODEL)
    )
    assert (tmp_path / "second" / "aux" / "tuned" / RunDir.MODEL).read_bytes() == tuned.model_file.read_bytes()
    # the key follows the init file's bytes, not its path
    supervised = project(again, FinetuneRun, {"finetune.start": "pretrained", "finetune.init": encoders["image"]})
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes((tmp_path / "first" / "aux" / "image" / RunDir.ENCODER).read_bytes())
    assert cache_key(apply_overrides(supervised, {"finetune.init": str(copy)})) == cache_key(supervised)
    copy.write_bytes(copy.read_bytes()[:-8] + b"\0" * 8)
    assert cache_key(apply_overrides(supervised, {"finetune.init": str(copy)})) != cache_key(supervised)


def test_a_per_seed_auxiliary_is_trained_only_for_the_seeds_of_the_settings_that_use_it(tmp_path):
    own = {"aux": ["own"], "role": "positive_reference"}
    found = config(tmp_path, "needs", **{
        "experiment.auxiliaries": {"base": {**OWN, "per_seed": True}, "image": {},
                                   "own": {**OWN, "per_seed": True, **FROM_MAE, "finetune.init": "base"}},
        "compare.seeds": [0, 1, 2], "compare.arms": {"baseline": {}},
        "experiment.settings": {"tune": {}, "fix": {**FIX, "compare.seeds": [0, 1],
                                "compare.arms": {"baseline": {}, "own": own, "m2pt": {"aux": ["image"]}}}}})  # fmt: skip
    subs = {name: apply_overrides(project(found, CompareConfig), changes)
            for name, changes in found.experiment.settings.items()}  # fmt: skip
    needed = seeds_using(subs)
    assert needed == {"own": [0, 1], "image": [0, 1]}
    subs["fix"].compare.arms["learnt"] = {"aux": ["difference:own,base"], "role": "positive_reference"}
    assert seeds_using(subs) == {"own": [0, 1], "image": [0, 1], "base": [0, 1]}  # both checkpoints of a difference
    runs = auxiliary_runs(found, found.experiment.auxiliaries, [0, 1, 2], needed)
    # base only where own, which starts from it, is needed; a shared auxiliary always
    assert set(runs) == {("base", 0), ("base", 1), ("own", 0), ("own", 1), ("image", None)}
    assert set(auxiliary_runs(found, found.experiment.auxiliaries, [0, 1, 2])) >= {("own", 2), ("base", 2)}


def test_a_per_seed_auxiliary_is_each_seeds_own_and_others_never_share_a_fine_tuning_seed(tmp_path, cache):
    arms = {"baseline": {}, "own": {"aux": ["own"], "role": "positive_reference"},
            "learnt": {"aux": ["difference:own,image"], "role": "positive_reference"}}  # fmt: skip
    experiment(config(tmp_path, "per_seed", **{
        "epochs": 1, "experiment.auxiliaries": {"own": {**OWN, "epochs": 1, "per_seed": True}, "image": {"epochs": 1}},
        "experiment.settings": {"tune": {}}, "compare.seeds": [0, 1], "compare.arms": arms}))  # fmt: skip
    root = RunDir(tmp_path / "per_seed", writer=False)
    for seed in (0, 1):
        own = RunDir(root.auxiliary("own") / RunDir.seed_name(seed), writer=False)
        assert own.finished and own.config()["seed"] == seed
        run = RunDir(root.path / "tune" / "own" / RunDir.seed_name(seed), writer=False).config()
        assert run["pathway"]["aux"] == [str(own.model_file)]
        learnt = RunDir(root.path / "tune" / "learnt" / RunDir.seed_name(seed), writer=False).config()
        image = RunDir(root.auxiliary("image"), writer=False)
        assert learnt["pathway"]["aux"] == [f"difference:{own.model_file},{image.path / RunDir.ENCODER}"]
    assert RunDir(root.auxiliary("image"), writer=False).config()["seed"] == AUXILIARY_SEED
    assert "and one per other seed" in root.report_file.read_text()
    clash = config(tmp_path, "clash", **{"compare.seeds": [0, 1]})
    with pytest.raises(ConfigError, match="seed 1 is a fine-tuning seed too"):
        train_auxiliaries(clash, RunDir(clash.path()), {"image": {"epochs": 1, "seed": 1}}, [0, 1])


@pytest.mark.parametrize(("auxiliaries", "message"), [
    ({"own": {"stage": "distil"}}, "stage: 'distil'; choose from"),
    ({"own": {**OWN, "per_seed": True, "seed": 3}}, "per_seed auxiliaries take each fine-tuning seed"),
    ({"a": {**OWN, "finetune.start": "pretrained", "finetune.init": "b"},
      "b": {**OWN, "finetune.start": "pretrained", "finetune.init": "c"}, "c": {}}, "starts from another auxiliary"),
])  # fmt: skip
def test_bad_auxiliaries_are_refused_before_training(tmp_path, cache, auxiliaries, message):
    bad = config(tmp_path, "bad")
    with pytest.raises(ConfigError, match=message):
        train_auxiliaries(bad, RunDir(bad.path()), auxiliaries)
    assert not (tmp_path / "bad" / "aux").exists()


def test_a_pretrained_setting_whose_init_has_another_width_fails_before_training(tmp_path, cache):
    wide = {"epochs": 1, "model.options.embed_dim": 48, "model.options.num_heads": 3}
    with pytest.raises(ValueError, match="width|shape"):
        experiment(config(tmp_path, "wrong", **{
            "experiment.auxiliaries": {"image": wide},
            "experiment.settings": {"pretrained_tune": {"finetune.start": "pretrained", "finetune.init": "image"}},
            "compare.seeds": [0], "compare.arms": {"baseline": {}}}))  # fmt: skip
    run = RunDir(tmp_path / "wrong" / "pretrained_tune" / "baseline" / RunDir.seed_name(0), writer=False)
    assert not run.last.exists() and not run.finished


def test_a_setting_may_run_its_own_arms(tmp_path, cache):
    found = experiment(config(tmp_path, "own_arms", **{
        "epochs": 1, "experiment.auxiliaries": {}, "compare.seeds": [0],
        "compare.arms": {"baseline": {}, "random": {"aux": ["random"]}},
        "experiment.settings": {"tune": {}, "fix": {**FIX, "compare.arms": {"baseline": {}}}}}))  # fmt: skip
    assert sorted(found["tune"].scores) == ["baseline", "random"] and sorted(found["fix"].scores) == ["baseline"]
    assert isinstance(found["fix"], Comparison)


def test_a_setting_may_not_start_from_a_per_seed_auxiliary(tmp_path, cache):
    with pytest.raises(ConfigError, match="names the per_seed auxiliary 'own'"):
        experiment(config(tmp_path, "init_per_seed", **{
            "experiment.auxiliaries": {"own": {**OWN, "per_seed": True}}, "compare.seeds": [0],
            "experiment.settings": {"pretrained_tune": {"finetune.start": "pretrained", "finetune.init": "own"}},
            "compare.arms": {"baseline": {}}}))  # fmt: skip
    assert not (tmp_path / "init_per_seed" / "aux").exists()  # refused before anything trained
