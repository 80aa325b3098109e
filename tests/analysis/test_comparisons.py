import pytest

from analysis.comparisons import comparison_figure
from m2pt.comparison import Comparison
from m2pt.vocabulary import ArmRole

CONTROL = ArmRole.CONTROL

SCORES = {
    "baseline": {0: 0.50, 1: 0.60, 2: 0.55},
    "m2pt": {0: 0.60, 1: 0.62, 2: 0.61},
    "random": {0: 0.58, 1: 0.61, 2: 0.57},
}


def traces(fig):
    return {t.name: t for t in fig.data}


def test_every_seed_every_mean_and_the_paired_differences():
    comparison = Comparison(SCORES, roles={"random": CONTROL})
    fig = traces(comparison_figure(comparison))
    assert list(fig["seed 1"].x) == pytest.approx([60.0, 62.0, 61.0])
    means = fig["mean, 95% CI"]
    assert list(means.x) == pytest.approx([comparison.summary(a).mean * 100 for a in SCORES])
    high = comparison.summary("m2pt").high * 100
    assert means.error_x.array[1] == pytest.approx(high - means.x[1])
    assert list(fig["Δ vs baseline"].x) == pytest.approx(
        [comparison.versus("m2pt").mean * 100, (0.08 + 0.01 + 0.02) / 3 * 100]
    )
    beyond = fig["Δ vs best control (random)"]
    assert list(beyond.x) == pytest.approx([comparison.versus("m2pt", "random").mean * 100])
    assert beyond.y[0] != fig["Δ vs baseline"].y[0]  # drawn beside, not on top


def test_versus_another_arm_and_no_control_trace_without_controls():
    fig = traces(comparison_figure(Comparison(SCORES), versus="m2pt"))
    assert not any(name.startswith("Δ vs best control") for name in fig)
    assert fig["Δ vs m2pt"].text[0].startswith("baseline:")


def test_one_seed_draws_no_interval():
    fig = traces(comparison_figure(Comparison({"baseline": {0: 0.5}, "m2pt": {0: 0.7}})))
    assert list(fig["mean, 95% CI"].error_x.array) == [0.0, 0.0]


def test_load_comparison_reads_what_a_compare_run_saved(tmp_path):
    Comparison(SCORES, roles={"random": CONTROL}).save(tmp_path)
    loaded = Comparison.load(tmp_path)
    assert loaded.scores == SCORES and loaded.controls == ["random"]
