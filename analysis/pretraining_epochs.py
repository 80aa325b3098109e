"""The paper's Table 6 as an analysis: auxiliary encoders from earlier pretraining epochs against the final one.

The paper reports that auxiliaries pretrained for longer help more. Here that is asked beyond the
controls: from a comparison whose pathway arms are the encoders one pretraining run saved at
successive epochs (``epoch<N>``, as :func:`workflows.designs.aux_epoch_arms` names them, with
``pretrain.save_epochs``) and, for a claim about knowledge, control arms, :func:`epoch_effects`
gives per epoch the effect beyond the best control (vs the baseline when there is no control) and
the difference from the final epoch's arm, paired over seeds, with paired t-tests adjusted over the
epochs (Holm by default). :func:`epoch_markdown` and :func:`epoch_figure` show them.
"""

import math
import re
from dataclasses import dataclass

import plotly.graph_objects as go

from m2pt.comparison import Comparison
from m2pt.stats import CORRECTION_NAMES, Adjusted, Summary, adjust_p_values, format_p

EPOCH_ARM = re.compile(r"epoch(\d+)")  # the arm names of workflows.designs.aux_epoch_arms


@dataclass(frozen=True)
class EpochEffect:
    epoch: int
    arm: str
    effect: Summary  # arm - best control (arm - baseline without controls)
    versus: str  # what ``effect`` is measured against
    adjusted: Adjusted  # its paired t-test, adjusted over the epochs
    versus_final: Summary | None  # arm - the final epoch's arm (None for the final one)


def epoch_arms(comparison: Comparison) -> dict[int, str]:
    """The arms named ``epoch<N>``, by epoch."""
    arms = {int(m.group(1)): arm for arm in comparison.scores if (m := EPOCH_ARM.fullmatch(arm))}
    if not arms:
        raise ValueError(
            f"the comparison has no arms named epoch<N> (arms: {sorted(comparison.scores)}): build its arms "
            "with workflows.designs.aux_epoch_arms"
        )
    return dict(sorted(arms.items()))


def epoch_effects(comparison: Comparison, correction: str = "holm") -> list[EpochEffect]:
    """Per pretraining epoch: the effect beyond the best control and the difference from the final epoch."""
    arms = epoch_arms(comparison)
    final = arms[max(arms)]
    versus = comparison.best_control() or comparison.reference
    adjusted = adjust_p_values({e: comparison.p_value(arm, versus) for e, arm in arms.items()}, correction)
    return [
        EpochEffect(
            epoch,
            arm,
            comparison.versus(arm, versus),
            versus,
            adjusted[epoch],
            comparison.versus(arm, final) if arm != final else None,
        )
        for epoch, arm in arms.items()
    ]


def epoch_markdown(effects: list[EpochEffect], scale: float = 100.0) -> str:
    """The table: per epoch, the effect beyond the best control [95% CI] with its adjusted p-value, and
    the paired difference from the final epoch's arm (percentage points when ``scale=100``)."""
    versus, final = effects[0].versus, effects[-1]
    method = CORRECTION_NAMES[effects[0].adjusted.method]
    lines = [
        f"| pretraining epoch | Δ vs {versus} [95% CI] | {method}-adjusted p | Δ vs final (epoch {final.epoch}) [95% CI] |",
        "|---|---|---|---|",
    ]
    for e in effects:
        mark = " *" if e.adjusted.p < 0.05 else ""
        to_final = e.versus_final.format(scale) if e.versus_final else "—"
        lines.append(f"| {e.epoch} | {e.effect.format(scale)} | {format_p(e.adjusted.p)}{mark} | {to_final} |")
    note = (
        f"(paired over seeds; p: paired t-tests of the effect vs {versus}, {method}-adjusted over the "
        f"{effects[0].adjusted.tests} epochs; * adjusted p < 0.05)"
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def epoch_figure(effects: list[EpochEffect], scale: float = 100.0, title: str | None = None) -> go.Figure:
    """The effect beyond the best control (and the difference from the final epoch's arm) against the
    pretraining epoch of the auxiliary, paired means with 95% intervals; filled markers are findings
    after the correction."""
    unit = " (points)" if scale == 100 else ""
    fig = go.Figure()
    series = {
        f"Δ vs {effects[0].versus}": [(e.epoch, e.effect, e.adjusted.p < 0.05) for e in effects],
        f"Δ vs final epoch ({effects[-1].epoch})": [
            (e.epoch, e.versus_final, False) for e in effects if e.versus_final
        ],
    }
    for (name, points), color in zip(series.items(), ("black", "#1f77b4")):
        if not points:
            continue
        fig.add_trace(
            go.Scatter(
                x=[epoch for epoch, _, _ in points],
                y=[s.mean * scale for _, s, _ in points],
                mode="lines+markers",
                name=name,
                line={"color": color},
                marker={"size": 10, "symbol": ["circle" if found else "circle-open" for _, _, found in points]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [_spread(s.high - s.mean, scale) for _, s, _ in points],
                    "arrayminus": [_spread(s.mean - s.low, scale) for _, s, _ in points],
                },
                text=[f"epoch {epoch}: {s.format(scale)}, {s.n} seeds" for epoch, s, _ in points],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line={"dash": "dot", "color": "grey"})
    fig.update_layout(
        title=title or f"Auxiliary pretraining epochs: effect{unit}, paired mean [95% CI] (filled: corrected finding)",
        xaxis_title="pretraining epoch of the auxiliary",
        yaxis_title=f"Δ{unit}",
    )
    return fig


def _spread(value: float, scale: float) -> float:
    return 0.0 if math.isnan(value) else value * scale
