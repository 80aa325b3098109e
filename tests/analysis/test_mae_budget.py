"""The masked-autoencoder budget: reconstruction loss and init gain against pretraining epochs."""

import pytest

from analysis.mae_budget import budget_curve, budget_figure, budget_markdown, chosen_budget, reconstruction_losses
from m2pt.comparison import Comparison
from workflows.designs import init_epoch_arms

BASE = {0: 0.50, 1: 0.60, 2: 0.55}


def shifted(gain: float, spread: float = 0.0) -> dict[int, float]:
    return {s: v + gain + spread * (s - 1) for s, v in BASE.items()}


def test_the_curve_pairs_each_epochs_loss_with_its_init_gain(experiment_run):
    pretrain_run = experiment_run / "aux" / "audio"  # encoders of epochs 1 and 2
    losses = reconstruction_losses(pretrain_run)
    assert sorted(losses) == [1, 2] and all(loss > 0 for loss in losses.values())
    arms = init_epoch_arms(pretrain_run)
    assert arms["baseline"] == {} and arms["epoch1"]["set"]["finetune.start"] == "pretrained"
    assert arms["epoch2"]["set"]["finetune.init"].endswith("encoder.safetensors")
    tune = Comparison({"baseline": BASE, "epoch1": shifted(0.10, 0.01), "epoch2": shifted(0.12, 0.01)})
    fix = Comparison({"baseline": BASE, "epoch1": shifted(0.02), "epoch2": shifted(0.08)})
    curve = budget_curve(pretrain_run, {"tune": tune, "fix": fix})
    assert [p.epoch for p in curve] == [1, 2] and curve[1].reconstruction == losses[2]
    assert curve[0].gains["tune"].mean == pytest.approx(0.10) and curve[1].gains["fix"].mean == pytest.approx(0.08)
    assert chosen_budget(curve, "tune", share=0.8) == 1 and chosen_budget(curve, "fix", share=0.8) == 2
    harmful = Comparison({"baseline": BASE, "epoch1": shifted(-0.05), "epoch2": shifted(-0.02)})
    assert chosen_budget(budget_curve(pretrain_run, {"tune": harmful}), "tune") == 2  # no gain: the least harm
    table = budget_markdown(curve)
    assert (
        "| pretraining epochs | reconstruction loss (val) | init gain, tune [95% CI] | init gain, fix [95% CI] |"
        in table
    )
    assert "| 2 | " in table and "+8.00 [" in table
    figure = budget_figure(curve, chosen=2)
    assert [trace.name for trace in figure.data] == ["reconstruction loss (val)", "init gain, tune", "init gain, fix"]
    assert list(figure.data[2].y) == pytest.approx([2.0, 8.0])


def test_epochs_the_pretraining_run_did_not_log_are_refused(experiment_run):
    scores = Comparison({"baseline": BASE, "epoch7": shifted(0.1)})
    with pytest.raises(ValueError, match="no validation loss for epochs \\[7\\]"):
        budget_curve(experiment_run / "aux" / "audio", {"tune": scores})
