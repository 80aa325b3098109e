import json

import pytest

from analysis.ablations import ablation_figure, ablation_markdown, ablation_rows
from analysis.runs import as_model
from m2pt import cross_modal_layers
from m2pt.comparison import Comparison
from m2pt.vocabulary import ArmRole
from workflows.arms import pathway_arm
from workflows.designs import LAYER_CHOICES, aux_epoch_arms, control_arms, lambda_arms, layer_arms
from workflows.presets import run_arms, run_config


def test_pathway_arm_overrides():
    assert pathway_arm("a.safetensors") == {"aux": ["a.safetensors"]}
    assert pathway_arm(["a", "random"], lambda_init=0.1, layers=["mlp.fc1"]) == {
        "aux": ["a", "random"], "set": {"pathway.lambda_init": 0.1, "pathway.layers": ["mlp.fc1"]}}  # fmt: skip


def test_arm_builders():
    layers = layer_arms("aux")
    assert list(layers) == ["baseline", "layers_qkv", "layers_proj", "layers_fc1", "layers_fc2", "layers_all"]
    assert layers["layers_fc1"]["set"]["pathway.layers"] == ["mlp.fc1"] and len(LAYER_CHOICES["all"]) == 4
    lambdas = lambda_arms("aux")
    assert len(lambdas) == 1 + 4 * 2
    assert lambdas["init1e-06_fixed"] == pathway_arm("aux", lambda_init=1e-6, lambda_trainable=False)
    assert lambdas["init0.01_trained"]["set"]["pathway.lambda_trainable"] is True
    controls = control_arms("aux", ("random", "shuffled", "norm_matched"))
    assert [arm["aux"] for arm in controls.values() if arm] == [
        ["aux"], ["random"], ["shuffled:aux"], ["norm_matched:aux"]]  # fmt: skip
    with_reference = control_arms("aux", ("random",), same_modality="own")
    assert list(with_reference) == ["baseline", "m2pt", "random", "same_modality"]
    assert with_reference["same_modality"] == {"aux": ["own"], "role": "positive_reference"}
    with pytest.raises(ValueError, match="unknown control"):
        control_arms("aux", ("noise",))


def test_aux_epoch_arms_finds_every_saved_encoder(experiment_run):
    folder = experiment_run / "aux" / "audio"
    arms = aux_epoch_arms(folder)
    assert arms == {"baseline": {}, "epoch1": pathway_arm(str(folder / "encoder_epoch1.safetensors")),
                    "epoch2": pathway_arm(str(folder / "encoder.safetensors"))}  # fmt: skip
    with pytest.raises(FileNotFoundError):
        aux_epoch_arms(experiment_run / "from_scratch_tune")


def test_ablation_runs_through_the_trainer(tmp_path, aux_encoder):
    """λ fixed at 0 computes the baseline's function: it must match the baseline exactly; a trained λ
    does not. Re-parameterizing fc1 alone touches only fc1."""
    arms = lambda_arms(str(aux_encoder), inits=(0.0,)) | {"layers_fc1": layer_arms(str(aux_encoder))["layers_fc1"]}
    comparison = run_arms("ablation", arms, run_config("image", size="small", output_dir=tmp_path), seeds=[0])
    assert list(comparison.scores) == ["baseline", "init0_trained", "init0_fixed", "layers_fc1"]

    def final(arm):
        return json.loads((tmp_path / "ablation" / arm / "seed0" / "summary.json").read_text())["final"]

    assert final("init0_fixed") == final("baseline")
    assert final("init0_trained")["val_loss"] != final("baseline")["val_loss"]
    fc1 = cross_modal_layers(as_model(tmp_path / "ablation" / "layers_fc1" / "seed0"))
    assert sorted(fc1) == [f"blocks.{i}.mlp.fc1" for i in range(3)]


@pytest.fixture
def comparisons():
    layers = Comparison({"baseline": {0: 0.5, 1: 0.6}, "qkv": {0: 0.6, 1: 0.8}, "fc1": {0: 0.5, 1: 0.5}})
    controls = Comparison(
        {"baseline": {0: 0.5, 1: 0.6}, "m2pt": {0: 0.7, 1: 0.7}, "random": {0: 0.6, 1: 0.6}},
        roles={"random": ArmRole.CONTROL},
    )
    return {"layers": layers, "controls": controls}


def test_tables_and_figure(comparisons):
    rows = ablation_rows(comparisons)
    assert [(r["ablation"], r["arm"]) for r in rows] == [
        ("layers", "baseline"), ("layers", "qkv"), ("layers", "fc1"),
        ("controls", "baseline"), ("controls", "m2pt"), ("controls", "random")]  # fmt: skip
    assert rows[1]["diff"] == pytest.approx(0.15)
    text = ablation_markdown(comparisons)
    assert text.index("### layers") < text.index("### controls") and "+15.00" in text
    fig = ablation_figure(comparisons)
    by_name = {(t.name, tuple(t.y)): list(t.x) for t in fig.data}
    assert by_name[("pathway", ("qkv", "fc1"))] == pytest.approx([15.0, -5.0])
    assert by_name[("control", ("random",))] == pytest.approx([5.0])
