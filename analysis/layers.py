"""Per-layer values of a ViT, arranged by layer type and depth.

Analyses produce one number per linear layer of the blocks, keyed by module name
(``blocks.{i}.attn.qkv``). :func:`layer_grid` arranges such a mapping as a ``[layer type, block]``
array and :func:`layer_heatmap` plots it.
"""

import re
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from m2pt import DEFAULT_LAYERS

LAYER_TYPES: tuple[str, ...] = tuple(DEFAULT_LAYERS)


def split_layer(name: str) -> tuple[int, str]:
    """``"blocks.3.attn.qkv" -> (3, "attn.qkv")``."""
    match = re.fullmatch(r"blocks\.(\d+)\.(.+)", name)
    if match is None:
        raise ValueError(f"{name!r} is not a layer of the blocks (blocks.<i>.<layer>)")
    return int(match.group(1)), match.group(2)


def layer_grid(values: Mapping[str, float]) -> tuple[np.ndarray, list[str]]:
    """``values`` by layer name -> (``[types, depth]`` array, NaN where a layer is absent; the row types).

    Rows follow :data:`LAYER_TYPES` (qkv, proj, fc1, fc2), then any other layer type; only types
    present in ``values`` get a row.
    """
    parsed = {split_layer(name): float(value) for name, value in values.items()}
    if not parsed:
        raise ValueError("no layer values to arrange")
    present = {layer for _, layer in parsed}
    types = [t for t in LAYER_TYPES if t in present] + sorted(present - set(LAYER_TYPES))
    grid = np.full((len(types), max(block for block, _ in parsed) + 1), np.nan)
    for (block, layer), value in parsed.items():
        grid[types.index(layer), block] = value
    return grid, types


def layer_heatmap(
    values: Mapping[str, float], *, title: str, colorbar: str, diverging: bool = False, text_format: str = ".2g"
) -> go.Figure:
    """Heatmap of per-layer ``values``: layer type (rows) x block (columns), each cell labelled.

    ``diverging`` centres a red-blue scale on zero (for signed values such as λ).
    """
    grid, types = layer_grid(values)
    text = [[("" if np.isnan(v) else format(v, text_format)) for v in row] for row in grid]
    colors = {"colorscale": "RdBu", "zmid": 0.0} if diverging else {"colorscale": "Viridis"}
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=[f"block {i}" for i in range(grid.shape[1])],
            y=types,
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y}, %{x}: %{z:.4g}<extra></extra>",
            colorbar={"title": {"text": colorbar}},
            **colors,
        )
    )
    fig.update_layout(title=title, yaxis={"autorange": "reversed"}, xaxis={"side": "top"})
    return fig


def layer_bars(series: Mapping[str, Mapping[str, float]], *, title: str, yaxis: str) -> go.Figure:
    """Grouped bars: one group per layer or block (``blocks.{i}[.{layer}]``, in block order), one bar
    per series (e.g. per pairing)."""
    fig = go.Figure()
    for label, values in series.items():
        names = sorted(values, key=_layer_order)
        fig.add_trace(go.Bar(x=names, y=[values[n] for n in names], name=label))
    fig.update_layout(title=title, barmode="group", yaxis_title=yaxis, xaxis_tickangle=-45)
    return fig


def _layer_order(name: str) -> tuple[int, int, str]:
    match = re.fullmatch(r"blocks\.(\d+)(?:\.(.+))?", name)
    if match is None:
        raise ValueError(f"{name!r} names no block (blocks.<i>[.<layer>])")
    layer = match.group(2) or ""
    return int(match.group(1)), LAYER_TYPES.index(layer) if layer in LAYER_TYPES else len(LAYER_TYPES), layer
