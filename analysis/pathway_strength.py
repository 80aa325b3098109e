"""How strongly each layer uses its pathway: λ over training and at the end, and the effective
contribution ``|λ| ‖W'‖ / ‖W‖`` of the auxiliary weight to the merged weight ``W + λ W'``.

λ alone can mislead: a small λ times a large ``W'`` may still change a layer, and a large λ
times a small ``W'`` may not. The effective contribution is the size of the change relative to
the layer's own weight (Frobenius norms), the number to compare across layers and auxiliaries.

Sources are a re-parameterized model or a fine-tuning run folder (see :mod:`analysis.runs`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from analysis.layers import layer_grid, layer_heatmap, split_layer
from analysis.runs import ModelSource, as_model
from m2pt import CrossModalLinear, cross_modal_layers
from m2pt.run_dir import RunDir


@dataclass(frozen=True)
class LambdaHistory:
    """λ of every re-parameterized layer at each logged step (step 0: ``pathway.lambda_init``)."""

    steps: np.ndarray  # [S]
    epochs: np.ndarray  # [S]
    layers: list[str]  # [L] module names, blocks.{i}.{layer}
    values: np.ndarray  # [S, L, K] λ_k of each layer, one k per auxiliary model
    contributions: np.ndarray  # [S, L, K] |λ_k| ‖W'_k‖/‖W‖ (NaN where not logged: runs before it was)

    def at(self, index: int = -1, aux: int = 0) -> dict[str, float]:
        """λ of auxiliary ``aux`` per layer at logged step number ``index``."""
        return {name: float(v) for name, v in zip(self.layers, self.values[index, :, aux])}


def lambda_history(run_dir: str | Path) -> LambdaHistory:
    """λ over training, from a fine-tuning run's ``lambdas.jsonl`` (and its ``config.yaml`` for step 0)."""
    run = RunDir(run_dir, writer=False)
    records = run.records(RunDir.LAMBDAS)
    if not records:
        raise FileNotFoundError(f"{run_dir} has no λ log (lambdas.jsonl): was it fine-tuned with a pathway?")
    layers = list(records[0]["lambdas"])
    steps = [r["step"] for r in records]
    epochs = [r["epoch"] for r in records]
    values = np.array([[r["lambdas"][name] for name in layers] for r in records], dtype=float)
    contributions = np.array(
        [[r["contributions"][name] for name in layers] if "contributions" in r else np.full(values.shape[1:], np.nan)
         for r in records], dtype=float)  # fmt: skip
    if run.config_file.exists():
        init = run.config().get("pathway", {}).get("lambda_init", 0.0)
        steps, epochs = [0, *steps], [0, *epochs]
        values = np.concatenate([np.full_like(values[:1], init), values])
        start = 0.0 if init == 0 else np.nan  # ‖W'‖/‖W‖ before training is not logged
        contributions = np.concatenate([np.full_like(contributions[:1], start), contributions])
    return LambdaHistory(np.array(steps), np.array(epochs), layers, values, contributions)


def final_lambdas(source: ModelSource, aux: int = 0) -> dict[str, float]:
    """λ of auxiliary ``aux`` per re-parameterized layer of a model (after training, for a run)."""
    return {name: layer.lambdas[aux].item() for name, layer in _pathways(source).items()}


def effective_contribution(source: ModelSource, aux: int = 0) -> dict[str, float]:
    """``|λ_k| ‖W'_k‖_F / ‖W‖_F`` per re-parameterized layer, for auxiliary ``k = aux``."""
    return {name: layer.contributions()[aux].item() for name, layer in _pathways(source).items()}


def lambda_heatmap(lambdas: Mapping[str, float], title: str = "λ per layer at the end of training") -> go.Figure:
    """Layer type x block heatmap of λ (red-blue, centred on zero)."""
    return layer_heatmap(lambdas, title=title, colorbar="λ", diverging=True)


def contribution_heatmap(
    contribution: Mapping[str, float], title: str = "Effective contribution |λ|·‖W'‖/‖W‖ per layer"
) -> go.Figure:
    """Layer type x block heatmap of the effective contribution."""
    return layer_heatmap(contribution, title=title, colorbar="|λ|·‖W'‖/‖W‖")


def lambda_lines(history: LambdaHistory, aux: int = 0, title: str = "λ over training") -> go.Figure:
    """One panel per layer type, one line per block (deeper blocks darker): λ against the training step."""
    return _history_lines(history, history.values[:, :, aux], "λ", title)


def contribution_lines(
    history: LambdaHistory, aux: int = 0, title: str = "Effective contribution |λ|·‖W'‖/‖W‖ over training"
) -> go.Figure:
    """As :func:`lambda_lines`, for the effective contribution (which also follows ``W'`` and ``W``
    as they train, where λ alone does not)."""
    return _history_lines(history, history.contributions[:, :, aux], "|λ|·‖W'‖/‖W‖", title)


def _history_lines(history: LambdaHistory, values: np.ndarray, label: str, title: str) -> go.Figure:
    """``values [S, L]`` of each layer against the step: a panel per layer type, a line per block."""
    _, types = layer_grid(history.at(0))
    fig = make_subplots(rows=1, cols=len(types), subplot_titles=types, shared_yaxes=True)
    depth = max(split_layer(name)[0] for name in history.layers) + 1
    for index, name in enumerate(history.layers):
        block, layer = split_layer(name)
        fig.add_trace(
            go.Scatter(
                x=history.steps,
                y=values[:, index],
                mode="lines",
                name=f"block {block}",
                legendgroup=f"block {block}",
                showlegend=layer == types[0],
                line={"color": sample_colorscale("Blues", 0.35 + 0.65 * block / max(depth - 1, 1))[0]},
                hovertemplate=f"{name}<br>step %{{x}}: {label}=%{{y:.3g}}<extra></extra>",
            ),
            row=1,
            col=types.index(layer) + 1,
        )
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text=label, col=1)
    fig.update_layout(title=title, legend_title_text="block")
    return fig


def _pathways(source: ModelSource) -> dict[str, CrossModalLinear]:
    layers = cross_modal_layers(as_model(source))
    if not layers:
        raise ValueError("the model has no re-parameterized layers (a baseline, or merged already)")
    return layers
