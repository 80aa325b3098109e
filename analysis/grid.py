"""A pair grid: which auxiliary modality helps which target, beyond what controls do.

A grid folder holds one ``compare`` run per pair, named ``<target>__<aux>/`` (see
:func:`pair_name`), each with arms ``baseline``, ``m2pt`` and controls. :func:`load_grid` reads
every pair's effects back from the folders alone; :func:`grid_heatmap` plots them.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from analysis.comparisons import load_comparison
from m2pt.comparison import Comparison
from m2pt.stats import Summary

SEPARATOR = "__"


@dataclass(frozen=True)
class PairEffect:
    """The effect of one (target, auxiliary) pair's pathway arm, paired over seeds."""

    target: str
    aux: str
    versus_baseline: Summary  # arm - baseline
    beyond_control: Summary | None  # arm - best control (None without controls)
    best_control: str | None


def pair_name(target: str, aux: str) -> str:
    """The folder name of a pair: ``image__audio``."""
    return f"{target}{SEPARATOR}{aux}"


def load_grid(folder: str | Path, arm: str = "m2pt") -> dict[tuple[str, str], PairEffect]:
    """Every ``<target>__<aux>/results.json`` under ``folder``: the effect of ``arm`` by (target, aux)."""
    return pair_effects(pair_comparisons(folder), arm)


def pair_comparisons(folder: str | Path) -> dict[tuple[str, str], Comparison]:
    """Every ``<target>__<aux>/results.json`` under ``folder``, by (target, aux)."""
    comparisons = {}
    for results in sorted(Path(folder).glob(f"*{SEPARATOR}*/results.json")):
        target, _, aux = results.parent.name.partition(SEPARATOR)
        comparisons[target, aux] = load_comparison(results.parent)
    if not comparisons:
        raise FileNotFoundError(f"{folder} holds no <target>{SEPARATOR}<aux>/results.json")
    return comparisons


def pair_effects(
    comparisons: Mapping[tuple[str, str], Comparison], arm: str = "m2pt"
) -> dict[tuple[str, str], PairEffect]:
    """The effect of ``arm`` in each pair's comparison."""
    grid = {}
    for (target, aux), comparison in comparisons.items():
        if arm not in comparison.scores:
            raise ValueError(f"{pair_name(target, aux)} has no arm {arm!r} (arms: {sorted(comparison.scores)})")
        grid[target, aux] = PairEffect(
            target, aux, comparison.versus(arm), comparison.beyond_controls(arm), comparison.best_control()
        )
    return grid


def grid_heatmap(
    grid: Mapping[tuple[str, str], PairEffect],
    *,
    beyond_control: bool = True,
    scale: float = 100.0,
    title: str | None = None,
) -> go.Figure:
    """Target (rows) x auxiliary (columns) heatmap of the paired effect beyond the best control
    (or vs the baseline with ``beyond_control=False``), with its 95% interval in each cell;
    ``*`` marks an interval that excludes zero. Hover shows both effects and the control."""
    targets = sorted({t for t, _ in grid})
    auxes = sorted({a for _, a in grid})
    z = np.full((len(targets), len(auxes)), np.nan)
    text = [[""] * len(auxes) for _ in targets]
    hover = [["no run"] * len(auxes) for _ in targets]
    for (target, aux), effect in grid.items():
        i, j = targets.index(target), auxes.index(aux)
        shown = effect.beyond_control if beyond_control else effect.versus_baseline
        beyond = effect.beyond_control.format(scale) if effect.beyond_control else "no control"
        hover[i][j] = (
            f"target {target}, auxiliary {aux}<br>vs baseline: {effect.versus_baseline.format(scale)}"
            f"<br>beyond best control ({effect.best_control}): {beyond}<br>{effect.versus_baseline.n} seeds"
        )
        if shown is None:
            text[i][j] = "no control"
            continue
        z[i, j] = shown.mean * scale
        text[i][j] = shown.format(scale) + (" *" if shown.excludes_zero else "")
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
        title=title or f"Effect of the pathway {effect_name}{unit}, paired mean [95% CI]",
        xaxis_title="auxiliary modality",
        yaxis_title="target modality",
        yaxis={"autorange": "reversed"},
    )
    return fig


def grid_markdown(grid: Mapping[tuple[str, str], PairEffect], scale: float = 100.0) -> str:
    """One row per pair: the effect vs the baseline and beyond the best control, paired [95% CI]."""
    lines = [
        "| target | auxiliary | Δ vs baseline [95% CI] | best control | Δ beyond best control [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for (target, aux), effect in sorted(grid.items()):
        beyond = effect.beyond_control.format(scale) if effect.beyond_control else "—"
        lines.append(
            f"| {target} | {aux} | {effect.versus_baseline.format(scale)} | {effect.best_control or '—'} | {beyond} |"
        )
    return "\n".join(lines) + "\n\n(percentage points, paired over seeds)\n"


def reference_markdown(
    comparisons: Mapping[tuple[str, str], Comparison], arm: str = "same_modality", scale: float = 100.0
) -> str:
    """Per target, the positive reference ``arm`` (an auxiliary pretrained on the target modality's
    own training data, shared by the target's pairs) vs the baseline, paired [95% CI]: what a
    helpful auxiliary does at this scale. Empty when no pair has that arm."""
    rows = {}
    for (target, _), comparison in sorted(comparisons.items()):
        if arm in comparison.scores and target not in rows:
            rows[target] = f"| {target} | {comparison.versus(arm).format(scale)} |"
    if not rows:
        return ""
    header = [f"Positive reference ({arm}):", "", "| target | Δ vs baseline [95% CI] |", "|---|---|"]
    return "\n".join(header + list(rows.values())) + "\n"


def write_grid_report(folder: str | Path, arm: str = "m2pt") -> list[Path]:
    """``grid.md`` (the pair table, and the positive reference when the grid has one) and the heatmap
    of the effect beyond the best control, re-read from ``folder``."""
    from analysis.figures import save_figure
    from m2pt.atomic import atomic_write_text

    folder = Path(folder)
    comparisons = pair_comparisons(folder)
    grid = pair_effects(comparisons, arm)
    reference = reference_markdown(comparisons)
    table = atomic_write_text(folder / "grid.md", grid_markdown(grid) + (f"\n{reference}" if reference else ""))
    return [table, *save_figure(grid_heatmap(grid), folder / "figures" / "grid_heatmap")]
