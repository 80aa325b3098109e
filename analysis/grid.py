"""A pair grid: which auxiliary modality helps which target, beyond what controls do.

A grid folder holds one comparison per pair, named by :meth:`m2pt.run_dir.RunDir.pair_name`
(``<target>__<aux>/``), each with a baseline, a pathway arm and controls. :func:`load_grid` reads
every pair's effects back from the folders alone; :func:`grid_heatmap` plots them.

A grid asks one question per pair, so its findings are corrected for the number of pairs: each
pair's effect has a paired t-test (scipy), the family's p-values are adjusted
(:func:`m2pt.stats.adjust_p_values`, Holm by default: family-wise error; or Benjamini-Hochberg:
false discovery rate), and the heatmap marks only pairs whose adjusted p is below 0.05.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.stats import (
    CORRECTION_CONTROLS,
    CORRECTION_NAMES,
    Adjusted,
    Summary,
    adjust_p_values,
    format_p,
    minimum_detectable_effect,
)


@dataclass(frozen=True)
class PairEffect:
    """The effect of one (target, auxiliary) pair's pathway arm, paired over seeds."""

    target: str
    aux: str
    versus_baseline: Summary  # arm - baseline
    beyond_control: Summary | None  # arm - best control (None without controls)
    best_control: str | None
    p_versus_baseline: float = math.nan  # paired t-test, two-sided
    p_beyond_control: float | None = None

    def shown(self, beyond_control: bool = True) -> tuple[Summary | None, float]:
        """The effect a heatmap shows (beyond the best control, or vs the baseline) and the p-value of the
        pair's test in that family: the main test (beyond the best control, or vs the baseline without
        controls), or the test vs the baseline."""
        if not beyond_control:
            return self.versus_baseline, self.p_versus_baseline
        p = self.p_beyond_control if self.p_beyond_control is not None else self.p_versus_baseline
        return self.beyond_control, p


pair_name = RunDir.pair_name


def load_grid(folder: str | Path, arm: str | None = None) -> dict[tuple[str, str], PairEffect]:
    """Every pair comparison under ``folder``: the effect of ``arm`` (default: each pair's pathway arm)."""
    return pair_effects(pair_comparisons(folder), arm)


def pair_comparisons(folder: str | Path) -> dict[tuple[str, str], Comparison]:
    """Every ``<target>__<aux>/results.json`` under ``folder``, by (target, aux)."""
    comparisons = {}
    for pair in sorted(Path(folder).iterdir()):
        names = RunDir.parse_pair(pair.name)
        if names and RunDir(pair, writer=False).results(".json").is_file():
            comparisons[names] = Comparison.load(pair)
    if not comparisons:
        raise FileNotFoundError(f"{folder} holds no pair comparisons ({RunDir.pair_name('<target>', '<aux>')}/)")
    return comparisons


def pair_effects(
    comparisons: Mapping[tuple[str, str], Comparison], arm: str | None = None
) -> dict[tuple[str, str], PairEffect]:
    """The effect of ``arm`` (default: the first pathway arm) in each pair's comparison."""
    grid = {}
    for (target, aux), comparison in comparisons.items():
        chosen = arm or next(iter(comparison.pathways), None)
        if chosen not in comparison.scores:
            raise ValueError(f"{pair_name(target, aux)} has no arm {chosen!r} (arms: {sorted(comparison.scores)})")
        control = comparison.best_control()
        grid[target, aux] = PairEffect(
            target, aux, comparison.versus(chosen), comparison.beyond_controls(chosen), control,
            comparison.p_value(chosen), comparison.p_value(chosen, control) if control else None,
        )  # fmt: skip
    return grid


def corrected(
    grid: Mapping[tuple[str, str], PairEffect], *, beyond_control: bool = True, correction: str = "holm"
) -> dict[tuple[str, str], Adjusted]:
    """The p-value of each pair's test (:meth:`PairEffect.shown`), adjusted over the pairs."""
    return adjust_p_values({pair: effect.shown(beyond_control)[1] for pair, effect in grid.items()}, correction)


def finding(effect: Summary | None, adjusted: Adjusted) -> bool:
    """A corrected finding: an effect whose adjusted p-value is below 0.05."""
    return effect is not None and bool(adjusted.p < 0.05)


def grid_heatmap(
    grid: Mapping[tuple[str, str], PairEffect],
    *,
    beyond_control: bool = True,
    scale: float = 100.0,
    title: str | None = None,
    correction: str = "holm",
) -> go.Figure:
    """Target (rows) x auxiliary (columns) heatmap of the paired effect beyond the best control
    (or vs the baseline with ``beyond_control=False``), with its 95% interval in each cell;
    ``*`` marks a corrected finding (:func:`corrected`: adjusted p < 0.05 over the shown pairs).
    Hover shows both effects, the control and the p-values."""
    adjusted = corrected(grid, beyond_control=beyond_control, correction=correction)
    targets = sorted({t for t, _ in grid})
    auxes = sorted({a for _, a in grid})
    z = np.full((len(targets), len(auxes)), np.nan)
    text = [[""] * len(auxes) for _ in targets]
    hover = [["no run"] * len(auxes) for _ in targets]
    for (target, aux), effect in grid.items():
        i, j = targets.index(target), auxes.index(aux)
        shown, p = effect.shown(beyond_control)
        beyond = effect.beyond_control.format(scale) if effect.beyond_control else "no control"
        hover[i][j] = (
            f"target {target}, auxiliary {aux}<br>vs baseline: {effect.versus_baseline.format(scale)}"
            f"<br>beyond best control ({effect.best_control}): {beyond}<br>{effect.versus_baseline.n} seeds"
            f"<br>shown effect: paired t {format_p(p)}, {adjusted[target, aux].format()}"
        )
        if shown is None:
            text[i][j] = "no control"
            continue
        z[i, j] = shown.mean * scale
        text[i][j] = shown.format(scale) + (" *" if finding(shown, adjusted[target, aux]) else "")
    finite = np.abs(z[np.isfinite(z)])
    bound = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    effect_name = "beyond best control" if beyond_control else "vs baseline"
    unit = " (points)" if scale == 100 else ""
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=auxes,
            y=targets,
            text=text,
            texttemplate="%{text}",
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale="RdBu",
            zmid=0.0,
            zmin=-bound,
            zmax=bound,
            colorbar={"title": {"text": f"Δ{unit}"}},
        )
    )
    fig.update_layout(
        title=title
        or f"Effect of the pathway {effect_name}{unit}, paired mean [95% CI]; * {CORRECTION_NAMES[correction]}-adjusted "
        "p < 0.05",
        xaxis_title="auxiliary modality",
        yaxis_title="target modality",
        yaxis={"autorange": "reversed"},
    )
    return fig


def grid_markdown(grid: Mapping[tuple[str, str], PairEffect], scale: float = 100.0, correction: str = "holm") -> str:
    """One row per pair: the effect vs the baseline and beyond the best control, paired [95% CI], and the
    pair's main test (beyond the best control, or vs the baseline without controls) with its p-value
    adjusted over the pairs by ``correction``."""
    adjusted = corrected(grid, correction=correction)
    name = CORRECTION_NAMES[correction]
    lines = [
        "| target | auxiliary | Δ vs baseline [95% CI] | best control | Δ beyond best control [95% CI] | "
        f"main test: paired t | {name}-adjusted | MDE (80% power) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (target, aux), effect in sorted(grid.items()):
        beyond = effect.beyond_control.format(scale) if effect.beyond_control else "—"
        shown = effect.beyond_control if effect.best_control else effect.versus_baseline
        mark = " *" if finding(shown, adjusted[target, aux]) else ""
        lines.append(
            f"| {target} | {aux} | {effect.versus_baseline.format(scale)} | {effect.best_control or '—'} | {beyond} | "
            f"{format_p(effect.shown()[1])} | {format_p(adjusted[target, aux].p)}{mark} | "
            f"{minimum_detectable_effect(shown.std, shown.n) * scale:.2f} |"
        )
    return "\n".join(lines) + "\n\n" + correction_note(adjusted, correction)


def correction_note(adjusted: Mapping[tuple[str, str], Adjusted], correction: str) -> str:
    tests = next(iter(adjusted.values())).tests if adjusted else 0
    return (
        "(percentage points, paired over seeds. Main test: the paired t-test of the effect beyond the best control, "
        f"or vs the baseline without controls; the {tests} tests are {CORRECTION_NAMES[correction]}-adjusted "
        f"(controlling {CORRECTION_CONTROLS[correction]} at 5%); * marks an adjusted p below 0.05, as in the "
        "heatmap. MDE: the main test's minimum detectable effect at 80% power, 5% two-sided, at these seeds and the "
        "observed spread of its paired differences.)\n"
    )


NOT_CALIBRATED = "at this size the grid cannot see a known effect on this target"
HELD, NOT_HELD = "(not a test) the pathway can hold it", "(not a test) not seen even with λ held"
REACH_NOTE = (
    "Rows marked (λ held) hold λ instead of learning it: they say whether the pathway can hold what "
    "that auxiliary knows, not whether the grid can detect it."
)


def reference_markdown(comparisons: Mapping[tuple[str, str], Comparison], scale: float = 100.0) -> str:
    """Per target, each of its positive reference arms (auxiliaries known to carry the target's
    knowledge, shared by the target's pairs) vs the baseline and beyond the strongest control of any
    of its pairs (the controls of a pair with the paired encoder's norm differ), paired [95% CI]. A
    calibration check, not a claim: a reference passes when that interval excludes zero, unadjusted
    (as a main job's positive reference). Arms of role ``reach`` (λ held, not learnt) follow, marked:
    whether the pathway can hold what an auxiliary knows, which calibrates nothing. Empty when no
    pair has a positive reference."""
    checked: dict[str, list[Comparison]] = {}  # target -> its pairs with a positive reference and controls
    for (target, _), comparison in sorted(comparisons.items()):
        if comparison.positive_references and comparison.best_control():
            checked.setdefault(target, []).append(comparison)
    if not checked:
        return ""
    strongest = {
        target: max(pairs, key=lambda c: c.summary(c.best_control()).mean) for target, pairs in checked.items()
    }
    names = sorted({arm for comparison in strongest.values() for arm in comparison.positive_references})
    lines = [f"Positive reference ({', '.join(names)}): can this grid see a helpful auxiliary?", "",
             "| target | reference | Δ vs baseline [95% CI] | strongest control | Δ beyond it [95% CI] | detects a "
             "helpful auxiliary |", "|---|---|---|---|---|---|"]  # fmt: skip
    for target, comparison in strongest.items():
        control = comparison.best_control()
        beyond = {arm: comparison.versus(arm, control) for arm in comparison.positive_references + comparison.reaches}
        another_seen = any(beyond[arm].low > 0 for arm in comparison.positive_references)
        blind = "this reference's effect is not seen" if another_seen else NOT_CALIBRATED
        for arm, effect in beyond.items():
            if arm in comparison.reaches:
                label, verdict = f"{arm} (λ held)", HELD if effect.low > 0 else NOT_HELD
            else:
                label, verdict = arm, "yes" if effect.low > 0 else f"no: {blind}"
            lines.append(f"| {target} | {label} | {comparison.versus(arm).format(scale)} | {control} | "
                         f"{effect.format(scale)} | {verdict} |")  # fmt: skip
    if any(comparison.reaches for comparison in strongest.values()):
        lines += ["", REACH_NOTE]
    return "\n".join(lines) + "\n"


def write_grid_report(folder: str | Path, arm: str | None = None, correction: str = "holm") -> list[Path]:
    """``grid.md`` (the pair table, and the positive reference when the grid has one) and the heatmap
    of the effect beyond the best control, re-read from ``folder``; findings corrected by ``correction``."""
    from analysis.figures import save_figure

    run = RunDir(folder)
    comparisons = pair_comparisons(folder)
    reference = reference_markdown(comparisons)
    if arm is None and not any(c.pathways for c in comparisons.values()):  # e.g. a pilot of the shared arms
        text = "No pair of this grid has a pathway arm: no pair table and no heatmap.\n"
        return [run.write_text(RunDir.GRID_REPORT, text + (f"\n{reference}" if reference else ""))]
    grid = pair_effects(comparisons, arm)
    text = grid_markdown(grid, correction=correction) + (f"\n{reference}" if reference else "")
    table = run.write_text(RunDir.GRID_REPORT, text)
    return [table, *save_figure(grid_heatmap(grid, correction=correction), run.figures / "grid_heatmap")]
