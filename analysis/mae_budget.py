"""How long to pretrain a masked autoencoder: reconstruction loss and init gain against epochs.

An auxiliary that has not learnt anything cannot show a cross-modal effect, so its pretraining
budget is read off a measured curve rather than guessed. One pretraining run saves its encoder at
several epochs (``pretrain.save_epochs``); a comparison built with
:func:`workflows.designs.init_epoch_arms` fine-tunes the target from each of them (``epoch<N>``)
and from scratch (``baseline``). :func:`budget_curve` pairs each epoch's validation reconstruction
loss with its init gain (the fine-tuned accuracy minus the from-scratch one, paired over seeds),
:func:`chosen_budget` picks the shortest budget that reaches a given share of the largest gain,
and :func:`budget_markdown` and :func:`budget_figure` show them.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.pretraining_epochs import epoch_arms
from analysis.runs import metric_records
from m2pt.comparison import Comparison
from m2pt.stats import Summary


@dataclass(frozen=True)
class BudgetPoint:
    epoch: int
    reconstruction: float  # the masked autoencoder's validation loss after this epoch
    gains: dict[str, Summary]  # per setting (e.g. tune, fix): init gain over from scratch, paired over seeds


def reconstruction_losses(pretrain_run: str | Path) -> dict[int, float]:
    """A pretraining run's validation reconstruction loss per epoch."""
    _, evaluations = metric_records(pretrain_run)
    return {int(row["epoch"]): float(row["val_loss"]) for row in evaluations if "val_loss" in row}


def budget_curve(pretrain_run: str | Path, comparisons: dict[str, Comparison]) -> list[BudgetPoint]:
    """Per saved epoch: its reconstruction loss and, in each comparison (a setting's name -> the
    comparison of :func:`workflows.designs.init_epoch_arms`), the init gain over the baseline."""
    losses = reconstruction_losses(pretrain_run)
    arms = {name: epoch_arms(c) for name, c in comparisons.items()}
    epochs = sorted(set.intersection(*(set(a) for a in arms.values())) if arms else ())
    missing = [e for e in epochs if e not in losses]
    if missing:
        raise ValueError(
            f"{pretrain_run} logged no validation loss for epochs {missing}: is it the run those encoders came from?"
        )
    return [
        BudgetPoint(e, losses[e], {name: c.versus(arms[name][e]) for name, c in comparisons.items()}) for e in epochs
    ]


def chosen_budget(curve: list[BudgetPoint], setting: str, share: float = 0.9) -> int:
    """The fewest epochs whose mean init gain in ``setting`` reaches ``share`` of the largest one (the
    epochs of the largest when no budget gains anything: the curve then says to pretrain longer)."""
    if not curve:
        raise ValueError("the curve is empty")
    best = max(p.gains[setting].mean for p in curve)
    wanted = share * best if best > 0 else best
    return next(p.epoch for p in curve if p.gains[setting].mean >= wanted)


def budget_markdown(curve: list[BudgetPoint], scale: float = 100.0) -> str:
    """The table: epoch, reconstruction loss and each setting's init gain [95% CI]."""
    settings = list(curve[0].gains) if curve else []
    lines = [
        "| pretraining epochs | reconstruction loss (val) | "
        + " | ".join(f"init gain, {s} [95% CI]" for s in settings)
        + " |",
        "|---|---|" + "---|" * len(settings),
    ]
    for p in curve:
        lines.append(
            f"| {p.epoch} | {p.reconstruction:.4f} | " + " | ".join(p.gains[s].format(scale) for s in settings) + " |"
        )
    seeds = sorted({p.gains[s].n for p in curve for s in settings})
    return (
        "\n".join(lines)
        + f"\n\n(init gain: fine-tuned from that epoch's encoder minus from scratch, paired over {seeds} seeds)\n"
    )


def budget_figure(curve: list[BudgetPoint], scale: float = 100.0, chosen: int | None = None) -> go.Figure:
    """Reconstruction loss (left axis) and each setting's init gain with 95% intervals (right axis)
    against pretraining epochs; a dotted line marks the ``chosen`` budget."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    epochs = [p.epoch for p in curve]
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=[p.reconstruction for p in curve],
            name="reconstruction loss (val)",
            mode="lines+markers",
            line={"color": "grey", "dash": "dash"},
        ),  # fmt: skip
        secondary_y=False,
    )
    for setting in curve[0].gains if curve else []:
        gains = [p.gains[setting] for p in curve]
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=[g.mean * scale for g in gains],
                name=f"init gain, {setting}",
                mode="lines+markers",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [_spread(g.high - g.mean) * scale for g in gains],
                    "arrayminus": [_spread(g.mean - g.low) * scale for g in gains],
                },  # fmt: skip
            ),
            secondary_y=True,
        )
    if chosen is not None:
        fig.add_vline(x=chosen, line={"dash": "dot", "color": "black"}, annotation_text=f"chosen: {chosen} epochs")
    fig.update_layout(title="Masked-autoencoder budget: what the encoder learns against how long it trains",
                      xaxis_title="pretraining epochs")  # fmt: skip
    fig.update_yaxes(title_text="reconstruction loss", secondary_y=False)
    fig.update_yaxes(
        title_text="init gain over from scratch (points)" if scale == 100 else "init gain", secondary_y=True
    )
    return fig


def _spread(value: float) -> float:
    return 0.0 if math.isnan(value) else value
