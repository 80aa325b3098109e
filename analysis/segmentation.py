"""Dense predictions as pictures: a point cloud coloured by its parts, a canvas beside its masks.

:func:`predict` runs a model of a segmentation task (:mod:`m2pt.tasks`) on one example of its
validation data; the figures show the truth and the prediction side by side, so a reader sees
where the parts or digits are confused, not only the mIoU.
"""

from typing import Any

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor, nn
from torch.utils.data import default_collate

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78")  # fmt: skip


@torch.no_grad()
def predict(model: nn.Module, example: tuple[Any, Tensor]) -> tuple[Any, Tensor, Tensor]:
    """``(inputs, truth, prediction)`` of one dataset item: ``prediction`` is the argmax over classes
    (``[P]`` part ids of a cloud, ``[H, W]`` labels of an image)."""
    inputs, truth = default_collate([example])
    logits = model.eval()(inputs)  # [1, P, parts] or [1, classes, H, W]
    prediction = logits.argmax(dim=-1 if logits.dim() == 3 else 1)[0]
    return inputs, truth[0], prediction


def point_parts_figure(points: Tensor, truth: Tensor, prediction: Tensor, title: str | None = None) -> go.Figure:
    """``points [P, 3]`` coloured by the true parts (left) and the predicted ones (right)."""
    fig = make_subplots(rows=1, cols=2, specs=[[{"type": "scene"}, {"type": "scene"}]],
                        subplot_titles=("truth", f"prediction ({(prediction == truth).float().mean():.0%} of points)"))  # fmt: skip
    x, y, z = points[:, :3].T.tolist()
    for col, parts in ((1, truth), (2, prediction)):
        colors = [PALETTE[int(p) % len(PALETTE)] for p in parts]
        text = [f"part {int(p)}" for p in parts]
        marker = {"size": 2.5, "color": colors}
        trace = go.Scatter3d(x=x, y=y, z=z, mode="markers", marker=marker, text=text, hoverinfo="text")
        fig.add_trace(trace, 1, col)
    fig.update_layout(title=title, showlegend=False, height=420)
    return fig


def canvas_figure(image: Tensor, truth: Tensor, prediction: Tensor, title: str | None = None) -> go.Figure:
    """An image ``[C, H, W]`` (its first channel), its true label map and the predicted one ``[H, W]``."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("image", "truth", "prediction"))
    fig.add_trace(go.Heatmap(z=image[0].flip(0).tolist(), colorscale="gray", showscale=False), 1, 1)
    classes = int(max(truth.max(), prediction.max())) + 1
    for col, labels in ((2, truth), (3, prediction)):
        heatmap = go.Heatmap(z=labels.flip(0).tolist(), zmin=0, zmax=max(classes - 1, 1), colorscale="Turbo",
                             showscale=col == 3, hovertemplate="label %{z}<extra></extra>")  # fmt: skip
        fig.add_trace(heatmap, 1, col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, scaleanchor="x")
    fig.update_layout(title=title, height=330)
    return fig
