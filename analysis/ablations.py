"""Ablations of the pathway presented together: each a comparison (baseline included) of the
arms :mod:`workflows.designs` builds (layers, λ init, auxiliary epochs, controls);
:func:`ablation_markdown` and :func:`ablation_figure` show several at once.
"""

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.comparisons import interval_trace
from m2pt.comparison import Comparison


def ablation_rows(comparisons: Mapping[str, Comparison]) -> list[dict[str, Any]]:
    """One row per (ablation, arm): mean, std, interval, paired difference from the baseline and beyond
    the best control (see :meth:`Comparison.rows`)."""
    return [{"ablation": name} | row for name, comparison in comparisons.items() for row in comparison.rows()]


def ablation_markdown(comparisons: Mapping[str, Comparison], scale: float = 100.0) -> str:
    """Every ablation's table (mean ± std, 95% interval, paired differences), one section each."""
    return "\n\n".join(f"### {name}\n\n{comparison.markdown(scale)}" for name, comparison in comparisons.items())


def ablation_figure(
    comparisons: Mapping[str, Comparison], scale: float = 100.0, title: str = "Ablations: paired Δ vs baseline"
) -> go.Figure:
    """One panel per ablation: each arm's paired difference from the baseline with its 95% interval
    (controls in grey), on a shared axis, with zero marked."""
    sizes = [max(len(c.scores) - 1, 1) for c in comparisons.values()]
    fig = make_subplots(rows=len(sizes), cols=1, shared_xaxes=True, subplot_titles=list(comparisons), row_heights=sizes)
    legend: set[str] = set()
    for index, comparison in enumerate(comparisons.values(), start=1):
        arms = [a for a in comparison.scores if a != comparison.reference]
        for kind, color in (("pathway", "black"), ("control", "grey")):
            chosen = [a for a in arms if (a in comparison.controls) == (kind == "control")]
            if chosen:
                trace = interval_trace(chosen, [comparison.versus(a) for a in chosen], chosen, scale, kind, color=color)
                fig.add_trace(trace.update(legendgroup=kind, showlegend=kind not in legend), index, 1)
                legend.add(kind)
        fig.update_yaxes(autorange="reversed", row=index, col=1)
        fig.add_vline(x=0, line={"dash": "dot", "color": "grey"}, row=index, col=1)
    unit = " (points)" if scale == 100 else ""
    fig.update_xaxes(title_text=f"paired Δ vs baseline{unit}", row=len(comparisons), col=1)
    fig.update_layout(title=title, height=140 + sum(60 + 28 * n for n in sizes))
    return fig
