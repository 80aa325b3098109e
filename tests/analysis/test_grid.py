import shutil

import numpy as np
import pytest
from scipy import stats

from analysis.grid import (
    HELD,
    NOT_CALIBRATED,
    NOT_HELD,
    REACH_NOTE,
    corrected,
    grid_heatmap,
    grid_markdown,
    load_grid,
    pair_name,
    reference_markdown,
    write_grid_report,
)
from m2pt.comparison import Comparison
from m2pt.stats import format_p, minimum_detectable_effect
from m2pt.vocabulary import ArmRole

CONTROL = ArmRole.CONTROL


def save_pair(folder, target, aux, gain, control_gain, spread, controls=True):
    """Three seeds; m2pt = baseline + gain + (-spread, 0, +spread), control = baseline + control_gain."""
    base = {0: 0.5, 1: 0.6, 2: 0.7}
    scores = {"baseline": base, "m2pt": {s: v + gain + spread * (s - 1) for s, v in base.items()}}
    if controls:
        scores["shuffled"] = {s: v + control_gain for s, v in base.items()}
    Comparison(scores, roles={"shuffled": CONTROL} if controls else {}).save(folder / pair_name(target, aux))


@pytest.fixture
def grid_folder(tmp_path):
    save_pair(tmp_path, "image", "audio", gain=0.05, control_gain=0.04, spread=0.01)
    save_pair(tmp_path, "image", "point", gain=0.02, control_gain=0.0, spread=0.002)
    save_pair(tmp_path, "audio", "image", gain=0.03, control_gain=0.0, spread=0.0, controls=False)
    return tmp_path


def test_load_grid_reads_each_pair_effect(grid_folder):
    grid = load_grid(grid_folder)
    assert set(grid) == {("image", "audio"), ("image", "point"), ("audio", "image")}
    effect = grid["image", "audio"]
    assert effect.versus_baseline.mean == pytest.approx(0.05) and effect.versus_baseline.n == 3
    assert effect.beyond_control.mean == pytest.approx(0.01) and effect.best_control == "shuffled"
    assert effect.beyond_control.low < 0.01 < effect.beyond_control.high
    assert grid["audio", "image"].beyond_control is None


def test_heatmap_shows_the_effect_beyond_the_control_with_its_interval(grid_folder):
    grid = load_grid(grid_folder)
    heatmap = grid_heatmap(grid).data[0]
    assert list(heatmap.y) == ["audio", "image"] and list(heatmap.x) == ["audio", "image", "point"]
    z = np.array(heatmap.z, dtype=float)
    assert z[1, 0] == pytest.approx(1.0) and z[1, 2] == pytest.approx(2.0)
    assert np.isnan(z[0, 1]) and heatmap.text[0][1] == "no control"  # audio target: no control arm
    assert np.isnan(z[0, 0]) and heatmap.customdata[0][0] == "no run"
    assert heatmap.text[1][0] == grid["image", "audio"].beyond_control.format(100)  # interval includes zero
    assert heatmap.text[1][2] == grid["image", "point"].beyond_control.format(100) + " *"  # excludes zero
    versus = np.array(grid_heatmap(grid, beyond_control=False).data[0].z, dtype=float)
    assert versus[0, 1] == pytest.approx(3.0) and versus[1, 0] == pytest.approx(5.0)


def test_a_real_compare_run_is_a_pair(tmp_path, experiment_run):
    shutil.copytree(experiment_run / "from_scratch_tune", tmp_path / pair_name("image", "audio"))
    effect = load_grid(tmp_path)["image", "audio"]
    assert effect.best_control in ("random", "shuffled") and effect.versus_baseline.n == 2


def test_errors(tmp_path, grid_folder):
    with pytest.raises(FileNotFoundError):
        load_grid(tmp_path / "empty")
    with pytest.raises(ValueError, match="no arm 'm3pt'"):
        load_grid(grid_folder, arm="m3pt")


def test_the_heatmap_and_table_mark_only_corrected_findings(grid_folder):
    save_pair(grid_folder, "point", "image", gain=0.02, control_gain=0.0, spread=0.006)  # p = 0.029 alone
    grid = load_grid(grid_folder)
    effect = grid["point", "image"]
    assert effect.beyond_control.excludes_zero and effect.p_beyond_control == pytest.approx(
        stats.ttest_1samp([0.014, 0.02, 0.026], 0.0).pvalue
    )
    holm, bh = corrected(grid), corrected(grid, correction="benjamini-hochberg")
    assert holm["point", "image"].tests == 4 and holm["point", "image"].p == pytest.approx(2 * effect.p_beyond_control)
    assert holm["point", "image"].p > 0.05 > bh["point", "image"].p  # Holm: no finding; BH: one
    heatmap = grid_heatmap(grid).data[0]
    row, column = list(heatmap.y).index("point"), list(heatmap.x).index("image")
    assert (
        not heatmap.text[row][column].endswith("*") and "Holm-adjusted over 4 tests" in heatmap.customdata[row][column]
    )
    assert grid_heatmap(grid, correction="benjamini-hochberg").data[0].text[row][column].endswith(" *")
    table = grid_markdown(grid)
    assert "| point | image |" in table and f"{format_p(holm['point', 'image'].p)} |" in table
    assert "the 4 tests are Holm-adjusted (controlling the family-wise error rate at 5%)" in table
    assert f"| {100 * minimum_detectable_effect(0.006, 3):.2f} |" in table.split("| point | image |")[1].split("\n")[0]
    assert table.count(" * |") == 2  # image/point beyond its control, audio/image vs its baseline (no control)
    with pytest.raises(ValueError, match="unknown multiple-comparison correction"):
        grid_markdown(grid, correction="none")


def test_the_positive_reference_is_checked_against_the_strongest_control_of_any_of_the_targets_pairs():
    base = {0: 0.50, 1: 0.60, 2: 0.70}
    shifted = lambda gain, wobble=0.0: {s: v + gain + wobble * (s - 1) for s, v in base.items()}  # noqa: E731
    roles = {"random": CONTROL, "norm_matched": CONTROL, "trained": ArmRole.POSITIVE_REFERENCE}

    def pair(norm_matched_gain, reference_gain):
        scores = {"baseline": base, "m2pt": shifted(0.01), "random": shifted(0.01),
                  "norm_matched": shifted(norm_matched_gain), "trained": shifted(reference_gain, 0.005)}  # fmt: skip
        return Comparison(scores, roles=roles)

    # image's reference clears the weak pair's control but not the strong one's; audio's clears both
    comparisons = {("image", "audio"): pair(0.0, 0.06), ("image", "point"): pair(0.059, 0.06),
                   ("audio", "image"): pair(0.0, 0.10), ("audio", "point"): pair(0.02, 0.10)}  # fmt: skip
    table = reference_markdown(comparisons)
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert "norm_matched" in rows["image"] and "| no: at this size" in rows["image"]
    assert "+0.10 [" in rows["image"]  # beyond the strongest control: 0.06 - 0.059 (in points)
    assert "norm_matched" in rows["audio"] and rows["audio"].endswith("| yes |")
    assert "+8.00 [" in rows["audio"]  # 0.10 - 0.02
    assert reference_markdown({("image", "audio"): Comparison({"baseline": base, "random": base})}) == ""


def test_every_positive_reference_of_a_target_gets_its_own_verdict():
    base = {0: 0.50, 1: 0.60, 2: 0.70}
    scores = {"baseline": base, "random": base, "supervised": {s: v + 0.01 * (s - 1) for s, v in base.items()},
              "trained": {s: v + 0.2 + 0.01 * s for s, v in base.items()}}  # fmt: skip
    roles = {"random": CONTROL, "supervised": ArmRole.POSITIVE_REFERENCE, "trained": ArmRole.POSITIVE_REFERENCE}
    table = reference_markdown({("point", "audio"): Comparison(scores, roles=roles)})
    rows = [line for line in table.splitlines() if line.startswith("| point |")]
    assert table.startswith("Positive reference (supervised, trained)") and len(rows) == 2
    assert rows[0].startswith("| point | supervised |") and rows[0].endswith(
        "| no: this reference's effect is not seen |"
    )
    assert rows[1].startswith("| point | trained |") and rows[1].endswith("| yes |")


def test_an_arm_with_lambda_held_is_reported_apart_and_calibrates_nothing():
    """A reach arm (λ held) seen beyond the control does not make its target calibrated."""
    base = {0: 0.50, 1: 0.60, 2: 0.70}
    scores = {"baseline": base, "random": base, "difference": {s: v + 0.01 * (s - 1) for s, v in base.items()},
              "held": {s: v + 0.1 + 0.01 * s for s, v in base.items()}}  # fmt: skip
    roles = {"random": CONTROL, "difference": ArmRole.POSITIVE_REFERENCE, "held": ArmRole.REACH}
    table = reference_markdown({("video", "point"): Comparison(scores, roles=roles)})
    rows = [line for line in table.splitlines() if line.startswith("| video |")]
    assert table.startswith("Positive reference (difference)") and len(rows) == 2
    assert rows[0].startswith("| video | difference |") and rows[0].endswith(f"| no: {NOT_CALIBRATED} |")
    assert rows[1].startswith("| video | held (λ held) |") and rows[1].endswith(f"| {HELD} |")
    assert table.rstrip().endswith(REACH_NOTE)
    scores["held"] = base
    assert reference_markdown({("video", "point"): Comparison(scores, roles=roles)}).count(f"| {NOT_HELD} |") == 1


def test_a_grid_without_pathway_arms_reports_its_positive_references_alone(tmp_path):
    base = {0: 0.50, 1: 0.60, 2: 0.70}
    scores = {"baseline": base, "random": base, "trained": {s: v + 0.2 + 0.01 * s for s, v in base.items()}}
    roles = {"random": CONTROL, "trained": ArmRole.POSITIVE_REFERENCE}
    for target, aux in (("image", "audio"), ("audio", "image")):
        Comparison(scores, roles=roles).save(tmp_path / pair_name(target, aux))
    [table] = write_grid_report(tmp_path)
    text = table.read_text()
    assert text.startswith("No pair of this grid has a pathway arm") and "| image | " in text and "| yes |" in text
    assert not (tmp_path / "figures").exists()
