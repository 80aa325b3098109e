import math

import numpy as np
import pytest
from scipy import stats

from m2pt.comparison import Comparison
from m2pt.stats import (
    adjust_p_values,
    minimum_detectable_effect,
    paired_difference,
    paired_p_value,
    ratio_of_paired_means,
    relative_improvement,
    seeds_needed,
    summarize,
)
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


def test_each_positive_reference_has_its_own_sensitivity_sentence():
    scores = {"baseline": {0: 0.50, 1: 0.52, 2: 0.51}, "random": {0: 0.55, 1: 0.56, 2: 0.55},
              "weak": {0: 0.55, 1: 0.57, 2: 0.54}, "strong": {0: 0.65, 1: 0.66, 2: 0.66}}  # fmt: skip
    roles = {"random": CONTROL, "weak": ArmRole.POSITIVE_REFERENCE, "strong": ArmRole.POSITIVE_REFERENCE}
    c = Comparison(scores, roles=roles)
    assert c.sensitivity() == c.sensitivity("weak") and "(weak)" in c.sensitivity() and "cannot tell" in c.sensitivity()
    assert "(strong)" in c.sensitivity("strong") and "detects a helpful auxiliary" in c.sensitivity("strong")


def test_unknown_reference():
    with pytest.raises(ValueError, match="reference arm"):
        Comparison({"a": {0: 1.0}}, reference="baseline")


def test_paired_p_value_is_scipys_paired_t_test():
    reference = {0: 0.50, 1: 0.70, 2: 0.60, 3: 0.55}
    arm = {0: 0.53, 1: 0.71, 2: 0.64, 3: 0.55, 7: 0.9}  # seed 7 has no partner
    expected = stats.ttest_1samp([0.03, 0.01, 0.04, 0.0], 0.0).pvalue
    assert paired_p_value(arm, reference) == pytest.approx(expected)
    assert paired_p_value(reference, reference) == 1.0 and math.isnan(paired_p_value({0: 1.0}, {0: 0.5}))


@pytest.mark.parametrize(("std", "n"), [(0.07, 2), (1.0, 3), (1.0, 10), (0.013, 5), (2.5, 30)])
def test_minimum_detectable_effect_has_80_percent_power_by_the_noncentral_t(std, n):
    mde = minimum_detectable_effect(std, n)
    critical = stats.t.ppf(0.975, n - 1)
    noncentral = stats.nct(n - 1, mde * math.sqrt(n) / std)
    lower = np.nan_to_num(noncentral.cdf(-critical))  # scipy: NaN for some large non-centralities, where it is ~0
    assert noncentral.sf(critical) + lower == pytest.approx(0.8, abs=1e-6)
    assert minimum_detectable_effect(2 * std, n) == pytest.approx(2 * mde)  # in units of the spread
    assert minimum_detectable_effect(std, n + 1) < mde


def test_minimum_detectable_effect_on_textbook_values():
    # Cohen's d at 80% power, 5% two-sided, one-sample t: n = 34 pairs detect d = 0.5 (33 do not)
    assert minimum_detectable_effect(1.0, 34) < 0.5 < minimum_detectable_effect(1.0, 33)
    assert seeds_needed(0.5, 1.0) == 34 and seeds_needed(0.02, 0.0) == 2
    assert minimum_detectable_effect(0.0, 3) == 0.0 and math.isnan(minimum_detectable_effect(1.0, 1))
    assert seeds_needed(1e-9, 1.0, most=1000) is None


def test_minimum_detectable_effect_matches_a_simulated_paired_t_test():
    mde = minimum_detectable_effect(1.0, 3)
    differences = np.random.default_rng(0).normal(mde, 1.0, (40_000, 3))
    rejected = stats.ttest_1samp(differences, 0.0, axis=1).pvalue < 0.05
    assert rejected.mean() == pytest.approx(0.8, abs=0.01)


def test_holm_and_benjamini_hochberg_on_known_p_values():
    p = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.2, "e": math.nan}
    holm = adjust_p_values(p, "holm")
    # sorted 0.01, 0.03, 0.04, 0.2 times 4, 3, 2, 1, kept monotone: 0.04, 0.09, 0.09, 0.2
    assert [holm[k].p for k in "acbd"] == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert math.isnan(holm["e"].p) and holm["a"].tests == 4 and "Holm-adjusted over 4 tests" in holm["a"].format()
    bh = adjust_p_values(p, "benjamini-hochberg")
    assert [bh[k].p for k in "acbd"] == pytest.approx([0.04, 0.04 * 4 / 3 / 1, 0.04 * 4 / 3, 0.2])
    assert [a.p for a in adjust_p_values({"x": 0.01, "y": 0.3}, "holm").values()] == pytest.approx([0.02, 0.3])
    with pytest.raises(ValueError, match="unknown multiple-comparison correction 'bonferoni'"):
        adjust_p_values(p, "bonferoni")


def test_fieller_interval_of_a_ratio_of_paired_means():
    numerator = {0: 0.010, 1: 0.014, 2: 0.009, 3: 0.012}
    denominator = {0: 0.020, 1: 0.026, 2: 0.019, 3: 0.022}
    r = ratio_of_paired_means(numerator, denominator)
    assert r.estimate == pytest.approx(0.045 / 0.087) and r.n == 4 and r.low < r.estimate < r.high
    # the bounds are exactly where the t-test of numerator - R * denominator stops rejecting
    for bound in (r.low, r.high):
        residual = [numerator[s] - bound * denominator[s] for s in numerator]
        assert stats.ttest_1samp(residual, 0.0).pvalue == pytest.approx(0.05, abs=1e-9)
    noisy = ratio_of_paired_means(numerator, {0: 0.02, 1: -0.03, 2: 0.01, 3: -0.005})
    assert not noisy.bounded and "unbounded" in noisy.format()  # the denominator may be zero
    assert "undefined" in ratio_of_paired_means(numerator, {0: 1, 1: -1, 2: 1, 3: -1}).format()
    with pytest.raises(ValueError, match="at least two shared seeds"):
        ratio_of_paired_means({0: 1.0}, {0: 2.0})


def test_a_null_verdict_states_the_minimum_detectable_effect_and_the_seeds_needed():
    scores = {"baseline": {0: 0.50, 1: 0.60, 2: 0.55}, "m2pt": {0: 0.52, 1: 0.59, 2: 0.58}}
    c = Comparison(scores | {"random": {0: 0.51, 1: 0.60, 2: 0.56}}, roles={"random": CONTROL})
    mde = minimum_detectable_effect(c.versus("m2pt", "random").std, 3)
    needed = seeds_needed(0.02, c.versus("m2pt", "random").std)
    verdict = c.verdict("m2pt")
    assert f"no effect beyond extra weights larger than {100 * mde:.2f} points was found" in verdict
    assert f"detecting 2 points would need {needed} seeds" in verdict
    assert f"(paired t p = {c.p_value('m2pt', 'random'):.3f})" in verdict
    alone = Comparison(scores).verdict("m2pt")  # no control: the claim is vs the baseline
    assert "the interval includes zero: no effect larger than" in alone and "Beyond" not in alone


def test_a_verdict_decides_by_the_adjusted_p_value_when_given():
    c = comparison()  # m2pt beyond shuffled: +0.5 points at every seed
    assert "an effect beyond extra weights was found" in c.verdict("m2pt")
    assert c.headline("m2pt") == "shuffled" and set(c.headline_p_values()) == {"m2pt"}
    family = adjust_p_values({"m2pt": c.p_value("m2pt", "shuffled"), "other": 0.5, "third": 0.7})
    assert "Holm-adjusted over 3 tests" in c.verdict("m2pt", adjusted=family["m2pt"])
    weak = Comparison({"baseline": {0: 0.5, 1: 0.6, 2: 0.7}, "m2pt": {0: 0.52, 1: 0.615, 2: 0.725}})
    p = weak.p_value("m2pt")
    assert 0.01 < p < 0.05 and "the interval excludes zero." in weak.verdict("m2pt")
    corrected = adjust_p_values({"m2pt": p, "other": 0.5, "third": 0.6})["m2pt"]  # 3 x p
    assert corrected.p >= 0.05 and "but not after the correction" in weak.verdict("m2pt", adjusted=corrected)


def test_rows_carry_p_values_and_minimum_detectable_effects():
    c = comparison()
    m2pt = next(row for row in c.rows() if row["arm"] == "m2pt")
    assert m2pt["diff_p"] == pytest.approx(c.p_value("m2pt")) and m2pt["beyond_p"] == c.p_value("m2pt", "shuffled")
    assert m2pt["diff_mde"] == pytest.approx(minimum_detectable_effect(c.versus("m2pt").std, 3))
