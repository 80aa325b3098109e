"""Training curves of one run: loss per logged step, and evaluation metrics per epoch."""

from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.runs import metric_records


def curves_figure(run_dir: str | Path, title: str | None = None) -> go.Figure:
    """Left: training loss per logged step and validation loss per epoch. Right: validation
    accuracy per epoch (fine-tuning runs). Works on a run in progress (what is logged so far)."""
    train, evaluation = metric_records(run_dir)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "validation accuracy"))
    series = (("train loss", train, "loss", 1), ("val loss", evaluation, "val_loss", 1),
              ("val accuracy", evaluation, "val_acc", 2))  # fmt: skip
    for name, records, key, col in series:
        kept = [r for r in records if key in r]
        mode = "lines" if records is train else "lines+markers"
        fig.add_trace(go.Scatter(x=[r["step"] for r in kept], y=[r[key] for r in kept], name=name, mode=mode), 1, col)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_layout(title=title or Path(run_dir).name)
    return fig
