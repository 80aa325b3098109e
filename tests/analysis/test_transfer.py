"""Transfer efficiency: the pathway's gain over the gain of starting from the same auxiliary, paired by seed."""

import pytest
from scipy import stats

from analysis.transfer import transfer_efficiency
from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.train.config import apply_overrides, project
from m2pt.vocabulary import ArmRole
from workflows.arms import parse_arms
from workflows.config import CompareConfig, ExperimentConfig
from workflows.experiment import transfer_efficiencies, write_report

SCRATCH = {0: 0.50, 1: 0.60, 2: 0.55, 3: 0.58}


def settings(pathway_gain: dict[int, float], init_gain: dict[int, float]) -> tuple[Comparison, Comparison]:
    scratch = Comparison({"baseline": SCRATCH, "own": {s: v + pathway_gain[s] for s, v in SCRATCH.items()},
                          "m2pt": {s: v + 0.002 * (-1) ** s for s, v in SCRATCH.items()}},
                         roles={"own": ArmRole.POSITIVE_REFERENCE})  # fmt: skip
    pretrained = Comparison({"baseline": {s: v + init_gain[s] for s, v in SCRATCH.items()}})
    return scratch, pretrained


def test_efficiency_is_the_ratio_of_mean_gains_with_fieller_bounds():
    pathway = {0: 0.010, 1: 0.014, 2: 0.009, 3: 0.012}
    init = {0: 0.020, 1: 0.026, 2: 0.019, 3: 0.022}
    t = transfer_efficiency(*settings(pathway, init), "own")
    assert t.efficiency.estimate == pytest.approx(0.045 / 0.087)
    assert t.pathway_gain.mean == pytest.approx(0.045 / 4) and t.init_gain.mean == pytest.approx(0.087 / 4)
    for bound in (t.efficiency.low, t.efficiency.high):  # where pathway - R * init stops being rejected
        residual = [pathway[s] - bound * init[s] for s in SCRATCH]
        assert stats.ttest_1samp(residual, 0.0).pvalue == pytest.approx(0.05, abs=1e-9)
    assert "transfer efficiency 0.52 [" in t.sentence() and "Fieller 95% interval)." in t.sentence()


def test_an_init_gain_indistinguishable_from_zero_gives_no_bounds():
    t = transfer_efficiency(*settings({s: 0.01 for s in SCRATCH}, {0: 0.02, 1: -0.03, 2: 0.01, 3: -0.005}), "own")
    assert not t.efficiency.bounded and "not distinguishable from zero" in t.sentence()
    with pytest.raises(ValueError, match="no arm 'random'"):
        transfer_efficiency(*settings(SCRATCH, SCRATCH), "random")


def test_the_experiment_report_pairs_a_pretrained_setting_with_the_arm_of_its_init(tmp_path):
    encoders = {"audio": str(tmp_path / "aux/audio/encoder.safetensors"), "image": str(tmp_path / "img.safetensors")}
    config = apply_overrides(ExperimentConfig(), {"output_dir": str(tmp_path)})
    changes = {"tune": {}, "fix": {"finetune.mode": "fix"},
               "pretrained": {"finetune.start": "pretrained", "finetune.init": encoders["image"]}}  # fmt: skip
    subs = {name: apply_overrides(project(config, CompareConfig), c) for name, c in changes.items()}
    arms = parse_arms({"baseline": {}, "m2pt": {"aux": ["audio"]}, "shuffled": {"aux": ["shuffled:image"]},
                       "own": {"aux": ["image"], "role": "positive_reference"}})  # fmt: skip
    arms = dict.fromkeys(changes, {name: arm.resolve(encoders) for name, arm in arms.items()})
    scratch, pretrained = settings({0: 0.010, 1: 0.014, 2: 0.009, 3: 0.012}, {0: 0.020, 1: 0.026, 2: 0.019, 3: 0.022})
    comparisons = {"tune": scratch, "fix": scratch, "pretrained": pretrained}
    found = transfer_efficiencies(subs, arms, comparisons)
    assert [(a, b, t.arm) for a, b, t in found] == [("tune", "pretrained", "own")]  # fix: another mode
    report = write_report(RunDir(tmp_path), config, comparisons, encoders, None, [], found).read_text()
    assert "## Transfer efficiency" in report and "- tune / pretrained: own: gain through the pathway" in report
    assert "Holm-adjusted over 2 tests" in report and "are Holm-adjusted as one family" in report


def test_the_experiment_report_gives_every_positive_reference_its_sentence(tmp_path):
    config = apply_overrides(ExperimentConfig(), {"output_dir": str(tmp_path)})
    scores = {"baseline": SCRATCH, "random": {s: v + 0.01 for s, v in SCRATCH.items()},
              "first": {s: v + 0.011 for s, v in SCRATCH.items()}, "second": {s: v + 0.2 for s, v in SCRATCH.items()}}  # fmt: skip
    roles = {"random": ArmRole.CONTROL, "first": ArmRole.POSITIVE_REFERENCE, "second": ArmRole.POSITIVE_REFERENCE}
    report = write_report(RunDir(tmp_path), config, {"tune": Comparison(scores, roles=roles)}, {}, None, []).read_text()
    assert "Positive reference (first) beyond the best control" in report
    assert "Positive reference (second) beyond the best control" in report
