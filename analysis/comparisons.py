"""A comparison's results as a figure: every seed, every arm's mean and interval, paired differences.

A :class:`m2pt.comparison.Comparison` is read back from a ``compare`` run folder's
``results.json``. The figure shows what the table summarises, so that a gain within the
seed-to-seed spread, or one that a control reproduces, is visible at a glance.
"""

import math
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from m2pt.comparison import Comparison
from m2pt.stats import Summary

SEED_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def comparison_figure(
    comparison: Comparison, *, versus: str | None = None, title: str | None = None, scale: float = 100.0
) -> go.Figure:
    """Left: each arm's score per seed (one colour per seed, so pairs show) and its mean with the
    95% interval. Right: each arm's paired difference from ``versus`` (default: the reference arm)
    with its 95% interval, and, for arms that are not controls, from the best control.

    ``scale=100`` shows accuracies and differences in percentage points.
    """
    arms = list(comparison.scores)
    versus = versus or comparison.reference
    position = {arm: i for i, arm in enumerate(arms)}
    unit = " (points)" if scale == 100 else ""
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=(f"{comparison.metric}{unit}", f"paired Δ vs {versus}{unit}"),
    )
    seeds = sorted({seed for scores in comparison.scores.values() for seed in scores})
    for k, seed in enumerate(seeds):
        present = [arm for arm in arms if seed in comparison.scores[arm]]
        offset = 0.25 * (k / max(len(seeds) - 1, 1) - 0.5)
        fig.add_trace(
            go.Scatter(
                x=[comparison.scores[arm][seed] * scale for arm in present],
                y=[position[arm] + offset for arm in present],
                mode="markers",
                marker={"color": SEED_COLORS[k % len(SEED_COLORS)], "size": 7, "opacity": 0.7},
                name=f"seed {seed}",
                legendgroup="seeds",
                hovertemplate=f"seed {seed}: %{{x:.2f}}<extra></extra>",
            ),
            1,
            1,
        )
    fig.add_trace(
        interval_trace(arms, [comparison.summary(a) for a in arms], list(position.values()), scale, "mean, 95% CI"),
        1,
        1,
    )
    others = [arm for arm in arms if arm != versus]
    diffs = [comparison.versus(a, versus) for a in others]
    fig.add_trace(interval_trace(others, diffs, [position[a] for a in others], scale, f"Δ vs {versus}"), 1, 2)
    control = comparison.best_control()
    knowing = [a for a in arms if a not in comparison.controls and a not in (comparison.reference, versus)]
    if control and knowing:
        diffs = [comparison.versus(a, control) for a in knowing]
        name = f"Δ vs best control ({control})"
        fig.add_trace(
            interval_trace(knowing, diffs, [position[a] + 0.2 for a in knowing], scale, name, color="#d62728"), 1, 2
        )
    fig.add_vline(x=0, line={"dash": "dot", "color": "grey"}, row=1, col=2)
    fig.update_yaxes(tickvals=list(position.values()), ticktext=arms, autorange="reversed")
    fig.update_layout(title=title, height=180 + 45 * len(arms), legend={"orientation": "h", "y": -0.15})
    return fig


def interval_trace(
    labels: Sequence[str],
    summaries: Sequence[Summary],
    y: Sequence[float | str],
    scale: float,
    name: str,
    *,
    color: str = "black",
) -> go.Scatter:
    """Means at heights (or categories) ``y`` with error bars to their 95% interval bounds (none where n < 2)."""

    def spread(values: list[float]) -> list[float]:
        return [0.0 if math.isnan(v) else v * scale for v in values]

    return go.Scatter(
        x=[s.mean * scale for s in summaries],
        y=y,
        mode="markers",
        name=name,
        marker={"symbol": "diamond", "size": 11, "color": color},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": spread([s.high - s.mean for s in summaries]),
            "arrayminus": spread([s.mean - s.low for s in summaries]),
        },
        text=[
            f"{label}: {s.format(scale)}" + (f", {s.n} seeds" if s.n > 1 else "") for label, s in zip(labels, summaries)
        ],
        hovertemplate="%{text}<extra></extra>",
    )
