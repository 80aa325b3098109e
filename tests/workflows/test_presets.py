import pytest
import torch

from m2pt import build_model
from m2pt.train.data import build_data
from m2pt.vocabulary import MODALITIES
from workflows import presets


@pytest.mark.parametrize("modality", MODALITIES)
def test_small_models_read_their_builtin_data(modality, tmp_path):
    config = presets.run_config(modality, size="small", output_dir=tmp_path)
    assert config.data.dataset == presets.DATASETS[modality] and config.data.size == "tiny"
    data = build_data(config.data)
    assert data.modality == modality
    model = build_model(modality, config.model.size, num_classes=len(data.classes), **config.model.options)
    x = torch.stack([data.train[i][0] for i in range(2)])
    assert model(x).shape == (2, len(data.classes)) and len(model.blocks) == presets.SMALL.depth


def test_full_size_is_a_real_run(tmp_path):
    config = presets.run_config("point", size="full", output_dir=tmp_path, name="p")
    assert config.data.size == "default" and len(presets.FULL.seeds) >= 5 and config.epochs >= 20
    assert config.threads is None and config.name == "p" and config.finetune.mode == "tune"
    with pytest.raises(ValueError, match="unknown modality"):
        presets.run_config("smell", size="small", output_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown size"):
        presets.run_config("image", size="medium", output_dir=tmp_path)


def test_demo_size_fine_tunes_part_of_the_default_data_in_the_fix_setting(tmp_path):
    config = presets.experiment_config("image", "point", size="demo", output_dir=tmp_path, name="e")
    assert config.data.size == "default" and (config.data.train_limit, config.data.val_limit) == (1000, 500)
    assert config.finetune.mode == "fix" and config.finetune.train_tokenizer
    assert list(config.experiment.settings) == ["from_scratch_fix"] and config.threads == 1
    pretrain = presets.pretrain_config("point", size="demo", output_dir=tmp_path)
    assert pretrain.data.size == "tiny" and pretrain.model.options == {"depth": 3, **presets.FEWER_POINTS["point"]}


def test_experiment_config_pretrains_the_auxiliary_and_compares_with_controls(tmp_path):
    config = presets.experiment_config("point", "video", size="small", output_dir=tmp_path, name="e")
    assert config.model.modality == "point" and config.data.dataset == "shapes"
    pretrain = config.experiment.auxiliaries["video"]
    assert pretrain["data.dataset"] == "moving_digits" and pretrain["model.options"] == {"depth": presets.SMALL.depth}
    assert pretrain["pretrain.save_epochs"] == [1]
    assert config.compare.arms == {"baseline": {}, "m2pt": {"aux": ["video"]}, "random": {"aux": ["random"]},
                                   "shuffled": {"aux": ["shuffled:video"]}}  # fmt: skip
    assert config.compare.seeds == list(presets.SMALL.seeds)
    assert list(config.experiment.settings) == ["from_scratch_tune"]


def test_pretrained_encoder_is_reused(experiment_run):
    encoder = experiment_run / "aux" / "audio" / "encoder.safetensors"
    before = encoder.stat().st_mtime_ns
    assert presets.pretrained_encoder("audio", experiment_run, size="small") == encoder
    assert encoder.stat().st_mtime_ns == before


@pytest.mark.parametrize("target", sorted(presets.DEMO_BY_TARGET))
def test_demo_sizes_of_the_other_targets_show_the_own_reference(target, tmp_path):
    b = presets.DEMO_BY_TARGET[target]
    assert presets.budget(f"demo_{target}") is b
    config = presets.experiment_config(target, "image", size=f"demo_{target}", output_dir=tmp_path, name="e",
                                       own_reference=True)  # fmt: skip
    assert config.optim.lr == b.lr and config.epochs == b.epochs and config.data.batch_size == b.batch_size
    assert list(config.experiment.settings) == [b.setting] and config.compare.seeds == list(b.seeds)
    own = config.experiment.auxiliaries[presets.OWN]
    assert own["per_seed"] and own["finetune.mode"] == "tune" and own["epochs"] == (b.own_epochs or 2 * b.epochs)
    assert config.compare.arms[presets.OWN] == {"aux": [presets.OWN], "role": "positive_reference"}
    assert presets.pretrain_config("image", size=f"demo_{target}", output_dir=tmp_path).optim.lr == b.lr
