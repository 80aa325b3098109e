"""A pair grid: which auxiliary modality helps which target, beyond what controls do.

A grid folder holds one comparison per pair, named by :meth:`m2pt.run_dir.RunDir.pair_name`
(``<target>__<aux>/``), each with a baseline, a pathway arm and controls. :func:`load_grid` reads
every pair's effects back from the folders alone; :func:`grid_heatmap` plots them.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from m2pt.comparison import Comparison
from m2pt.run_dir import RunDir
from m2pt.stats import Summary


@dataclass(frozen=True)
class PairEffect:
    """The effect of one (target, auxiliary) pair's pathway arm, paired over seeds."""

    target: str
    aux: str
    versus_baseline: Summary  # arm - baseline
    beyond_control: Summary | None  # arm - best control (None without controls)
    best_control: str | None


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
        grid[target, aux] = PairEffect(
            target, aux, comparison.versus(chosen), comparison.beyond_controls(chosen), comparison.best_control()
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


def reference_markdown(comparisons: Mapping[tuple[str, str], Comparison], scale: float = 100.0) -> str:
    """Per target, its positive reference arm (e.g. an auxiliary pretrained on the target modality's
    own training data, shared by the target's pairs) vs the baseline, paired [95% CI]: what a
    helpful auxiliary does at this scale. Empty when no pair has one."""
    rows, names = {}, set()
    for (target, _), comparison in sorted(comparisons.items()):
        for arm in comparison.positive_references[:1]:
            if target not in rows:
                rows[target] = f"| {target} | {comparison.versus(arm).format(scale)} |"
                names.add(arm)
    if not rows:
        return ""
    header = [
        f"Positive reference ({', '.join(sorted(names))}):",
        "",
        "| target | Δ vs baseline [95% CI] |",
        "|---|---|",
    ]
    return "\n".join(header + list(rows.values())) + "\n"


def write_grid_report(folder: str | Path, arm: str | None = None) -> list[Path]:
    """``grid.md`` (the pair table, and the positive reference when the grid has one) and the heatmap
    of the effect beyond the best control, re-read from ``folder``."""
    from analysis.figures import save_figure

    run = RunDir(folder)
    comparisons = pair_comparisons(folder)
    grid = pair_effects(comparisons, arm)
    reference = reference_markdown(comparisons)
    table = run.write_text(RunDir.GRID_REPORT, grid_markdown(grid) + (f"\n{reference}" if reference else ""))
    return [table, *save_figure(grid_heatmap(grid), run.figures / "grid_heatmap")]
