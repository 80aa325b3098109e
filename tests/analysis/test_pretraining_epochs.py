"""Table 6 as an analysis: the effect beyond the best control of auxiliaries from successive pretraining epochs."""

import pytest

from analysis.pretraining_epochs import epoch_effects, epoch_figure, epoch_markdown
from m2pt.comparison import Comparison
from m2pt.vocabulary import ArmRole
from workflows.designs import aux_epoch_arms

BASE = {0: 0.50, 1: 0.60, 2: 0.55}


def shifted(gain: float, spread: float = 0.0) -> dict[int, float]:
    return {s: v + gain + spread * (s - 1) for s, v in BASE.items()}


def comparison(controls: bool = True) -> Comparison:
    scores = {"baseline": BASE, "epoch1": shifted(0.01, 0.01), "epoch4": shifted(0.03, 0.002),
              "epoch2": shifted(0.02, 0.01)}  # fmt: skip
    roles = {}
    if controls:
        scores |= {"random": shifted(0.005), "shuffled": shifted(0.01)}
        roles = {"random": ArmRole.CONTROL, "shuffled": ArmRole.CONTROL}
    return Comparison(scores, roles=roles)


def test_effects_beyond_the_best_control_per_epoch_and_against_the_final_one():
    effects = epoch_effects(comparison())
    assert [e.epoch for e in effects] == [1, 2, 4] and {e.versus for e in effects} == {"shuffled"}
    assert [e.effect.mean for e in effects] == pytest.approx([0.0, 0.01, 0.02])
    assert effects[0].versus_final.mean == pytest.approx(-0.02) and effects[-1].versus_final is None
    assert effects[-1].adjusted.tests == 3 and effects[-1].adjusted.p < 0.05 < effects[0].adjusted.p
    table = epoch_markdown(effects)
    assert "| pretraining epoch | Δ vs shuffled [95% CI] | Holm-adjusted p | Δ vs final (epoch 4) [95% CI] |" in table
    assert table.count(" * |") == 1 and "| 4 | +2.00 [" in table
    figure = epoch_figure(effects)
    assert list(figure.data[0].x) == [1, 2, 4] and list(figure.data[0].y) == pytest.approx([0.0, 1.0, 2.0])
    assert list(figure.data[0].marker.symbol) == ["circle-open", "circle-open", "circle"]
    assert list(figure.data[1].x) == [1, 2] and list(figure.data[1].y) == pytest.approx([-2.0, -1.0])


def test_without_controls_the_effect_is_vs_the_baseline_and_other_arms_are_refused():
    effects = epoch_effects(comparison(controls=False))
    assert {e.versus for e in effects} == {"baseline"} and effects[-1].effect.mean == pytest.approx(0.03)
    with pytest.raises(ValueError, match="no arms named epoch<N>"):
        epoch_effects(Comparison({"baseline": BASE, "m2pt": shifted(0.01)}))


def test_the_arms_of_aux_epoch_arms_are_read_by_epoch(experiment_run):
    arms = aux_epoch_arms(experiment_run / "aux" / "audio")  # encoders of epochs 1 and 2
    scores = {arm: shifted(0.01 * k, 0.004) for k, arm in enumerate(arms)}
    effects = epoch_effects(Comparison(scores))
    assert [(e.epoch, e.arm) for e in effects] == [(1, "epoch1"), (2, "epoch2")]
    assert effects[0].versus_final.mean == pytest.approx(-0.01)
