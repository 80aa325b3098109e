import math

import pytest

from m2pt.comparison import Comparison
from m2pt.stats import paired_difference, relative_improvement, summarize
from m2pt.vocabulary import ArmRole

CONTROL = ArmRole.CONTROL


def test_summary_of_known_values():
    s = summarize([1.0, 2.0, 3.0])
    assert s.mean == 2.0 and s.std == 1.0 and s.n == 3
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2) * std / sqrt(n)
    assert s.low == pytest.approx(2 - half) and s.high == pytest.approx(2 + half)
    assert not s.excludes_zero  # 2 +- 2.48
    assert summarize([1.0, 1.5, 2.0]).excludes_zero  # 1.5 +- 1.24


def test_single_value_has_no_interval():
    s = summarize([0.5])
    assert s.mean == 0.5 and math.isnan(s.low) and not s.excludes_zero
    with pytest.raises(ValueError):
        summarize([])


def test_paired_difference_removes_the_seed_effect():
    reference = {0: 0.50, 1: 0.70, 2: 0.60}
    arm = {0: 0.52, 1: 0.72, 2: 0.62, 9: 0.1}  # seed 9 has no partner
    d = paired_difference(arm, reference)
    assert d.n == 3 and d.mean == pytest.approx(0.02) and d.std == pytest.approx(0, abs=1e-12)
    assert d.excludes_zero  # the paired view is exact here; the arm alone varies by 0.1 across seeds
    with pytest.raises(ValueError, match="share no seed"):
        paired_difference({5: 1.0}, reference)


def test_relative_improvement_as_the_paper_reports_it():
    assert relative_improvement(0.66, 0.60) == pytest.approx(10.0)


def comparison() -> Comparison:
    scores = {
        "baseline": {0: 0.60, 1: 0.62, 2: 0.61},
        "m2pt": {0: 0.64, 1: 0.66, 2: 0.645},
        "shuffled": {0: 0.635, 1: 0.655, 2: 0.64},
        "random": {0: 0.61, 1: 0.63, 2: 0.615},
    }
    return Comparison(scores, roles={"shuffled": CONTROL, "random": CONTROL})


def test_comparison_picks_the_best_control_and_measures_beyond_it():
    c = comparison()
    assert c.best_control() == "shuffled"
    beyond = c.beyond_controls("m2pt")
    assert beyond.mean == pytest.approx(0.005)
    assert c.versus("m2pt").mean == pytest.approx((0.04 + 0.04 + 0.035) / 3)


def test_comparison_table_verdict_and_json_roundtrip(tmp_path):
    c = comparison()
    table = c.markdown()
    assert "| m2pt |" in table and "best control (shuffled)" in table and "%" in table
    assert "interval excludes zero" in c.verdict("m2pt")
    assert "Beyond the best control (shuffled)" in c.verdict("m2pt")
    assert c.sensitivity() is None  # no positive reference arm
    c.save(tmp_path)
    again = Comparison.from_json(__import__("json").loads((tmp_path / "results.json").read_text()))
    assert again.scores == c.scores and again.roles == c.roles and again.controls == ["shuffled", "random"]


def test_sensitivity_says_whether_the_positive_reference_beats_the_controls():
    scores = {"baseline": {0: 0.50, 1: 0.52, 2: 0.51}, "random": {0: 0.55, 1: 0.56, 2: 0.55}}
    reference = {"random": CONTROL, "same_modality": ArmRole.POSITIVE_REFERENCE}
    weak = Comparison(scores | {"same_modality": {0: 0.55, 1: 0.57, 2: 0.54}}, roles=reference)
    assert "cannot tell" in weak.sensitivity()
    strong = Comparison(scores | {"same_modality": {0: 0.65, 1: 0.66, 2: 0.66}}, roles=reference)
    assert "+10.33" in strong.sensitivity() and "detects a helpful auxiliary" in strong.sensitivity()


def test_unknown_reference():
    with pytest.raises(ValueError, match="reference arm"):
        Comparison({"a": {0: 1.0}}, reference="baseline")
