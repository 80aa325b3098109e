"""How alike a target model and an auxiliary model are, block by block.

Weights: the cosine similarity of flattened weight matrices, target block i against the
auxiliary block a block map pairs it with (identity, reversed or a list); and, inside a
re-parameterized model, between its own weight ``W``, the auxiliary weight ``W'`` and the merged
``W + λW'``.

Representations: linear CKA (centred kernel alignment) of block outputs on one batch, every
token an example, or of block updates (output minus input: where weights are small the residual
stream makes all outputs alike). Both models see the same tokens: the target's tokenizer embeds
the batch, then the target's blocks and the auxiliary's blocks each process it (an auxiliary of
another modality has no tokenizer for the target's data).
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor, nn

from analysis.runs import ModelSource, as_model, probe_batch
from m2pt import DEFAULT_LAYERS, StateDict, cross_modal_layers, load_checkpoint, merge
from m2pt.checkpoint import block_indices
from m2pt.reparameterize import BlockMap, block_pairing
from m2pt.saved import model_file

Part = Literal["output", "update"]
WeightSource = nn.Module | Mapping[str, Tensor] | str | Path  # a model, checkpoint, or run folder


def cosine_similarity(a: Tensor, b: Tensor) -> float:
    """Cosine of the angle between ``a`` and ``b``, flattened (equal numbers of entries)."""
    a, b = a.detach().double().flatten(), b.detach().double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


def block_weights(source: WeightSource) -> StateDict:
    """The weights of a model, a checkpoint, or a run folder (its ``model.safetensors``), under timm's
    names. For a re-parameterized model these are the target's own weights ``W`` (its
    ``blocks.{i}.{layer}.weight``), not the merged ones."""
    if isinstance(source, nn.Module):
        return StateDict(source.state_dict(), layout="module", source=f"<{type(source).__name__}>")
    return load_checkpoint(model_file(source) if isinstance(source, (str, Path)) else source)


def weight_similarity(
    target: WeightSource, aux: WeightSource, *, block_map: BlockMap = "identity", layers: Sequence[str] = DEFAULT_LAYERS
) -> dict[str, float]:
    """``cos(W[blocks.i.layer], W_aux[blocks.pairing[i].layer])`` per target layer."""
    target_weights, aux_weights = block_weights(target), block_weights(aux)
    pairing = block_pairing(block_map, len(block_indices(target_weights)), aux_weights)
    return {
        f"blocks.{i}.{layer}": cosine_similarity(
            target_weights[f"blocks.{i}.{layer}.weight"], aux_weights[f"blocks.{j}.{layer}.weight"]
        )
        for i, j in enumerate(pairing)
        for layer in layers
    }


def pathway_similarity(source: ModelSource, aux: int = 0) -> dict[str, dict[str, float]]:
    """Per re-parameterized layer: cosines between ``W``, ``W'`` (auxiliary ``aux``) and ``W + ΣλW'``.

    Returns ``{"W vs W'": {...}, "W vs merged": {...}, "W' vs merged": {...}}``.
    """
    model = as_model(source)
    out: dict[str, dict[str, float]] = {"W vs W'": {}, "W vs merged": {}, "W' vs merged": {}}
    for name, layer in cross_modal_layers(model).items():
        own, other, merged = layer.weight, layer.aux_weights[aux], layer.merged_weight()
        out["W vs W'"][name] = cosine_similarity(own, other)
        out["W vs merged"][name] = cosine_similarity(own, merged)
        out["W' vs merged"][name] = cosine_similarity(other, merged)
    return out


def linear_cka(x: Tensor, y: Tensor) -> float:
    """Linear CKA of ``x [N, D1]`` and ``y [N, D2]`` (rows are the same N examples).

    1 for representations equal up to rotation and scale, near 0 for unrelated ones.
    """
    x = x.detach().double()
    y = y.detach().double()
    x, y = x - x.mean(dim=0), y - y.mean(dim=0)
    return float((y.T @ x).norm() ** 2 / ((x.T @ x).norm() * (y.T @ y).norm()))


@torch.no_grad()
def block_outputs(model: nn.Module, x: Tensor, part: Part = "output") -> list[Tensor]:
    """What every block of ``model`` produces on the batch ``x`` (eval mode), each ``[B, 1+N, D]``:
    its ``"output"``, or its ``"update"`` (output minus input: what the block adds to the residual
    stream, which the output hides when the blocks' weights are small)."""
    if part not in ("output", "update"):
        raise ValueError(f"part must be 'output' or 'update', got {part!r}")
    captured: list[Tensor] = []

    def keep(_module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        captured.append(output - inputs[0] if part == "update" else output)

    hooks = [block.register_forward_hook(keep) for block in model.blocks]
    training = model.training
    try:
        model.eval()
        model.forward_features(x)
    finally:
        model.train(training)
        for hook in hooks:
            hook.remove()
    return captured


def with_aux_blocks(model: nn.Module, aux: WeightSource) -> nn.Module:
    """A merged copy of ``model`` whose blocks carry ``aux``'s block weights (tokenizer kept).

    Norms and biases that ``aux`` lacks (a control holds only the matrices) keep the target's.
    """
    weights = {k.removeprefix("blocks."): v for k, v in block_weights(aux).items() if k.startswith("blocks.")}
    out = merge(model)
    missing, unexpected = out.blocks.load_state_dict(weights, strict=False)
    absent = [k for k in missing if k.endswith(tuple(f"{layer}.weight" for layer in DEFAULT_LAYERS))]
    if absent or unexpected:
        raise ValueError(f"the auxiliary's blocks do not fit the target's: missing {absent}, unexpected {unexpected}")
    return out


def cka_matrix(target: ModelSource, aux: WeightSource, x: Tensor, part: Part = "output") -> np.ndarray:
    """``[target blocks, aux blocks]`` linear CKA of what the blocks produce (see :func:`block_outputs`)
    on the same tokens of ``x``, every token an example."""
    model = as_model(target)
    ours = [o.flatten(0, 1) for o in block_outputs(model, x, part)]
    theirs = [o.flatten(0, 1) for o in block_outputs(with_aux_blocks(model, aux), x, part)]
    return np.array([[linear_cka(a, b) for b in theirs] for a in ours])


def representation_similarity(
    target: ModelSource, aux: WeightSource, x: Tensor, *, block_map: BlockMap = "identity", part: Part = "output"
) -> dict[str, float]:
    """Linear CKA of target block i's output (or update) and its paired auxiliary block's, per block."""
    matrix = cka_matrix(target, aux, x, part)
    pairing = block_pairing(block_map, matrix.shape[0], block_weights(aux))
    return {f"blocks.{i}": float(matrix[i, j]) for i, j in enumerate(pairing)}


def evaluation_batch(run_dir: str | Path, size: int = 32) -> Tensor:
    """``[size, ...]``: the first examples of the evaluation split of a fine-tuning run's data."""
    return probe_batch(run_dir, size)


def cka_heatmap(matrix: np.ndarray, title: str = "Linear CKA of block outputs on the target's tokens") -> go.Figure:
    """Target block x auxiliary block heatmap; the identity and reversed pairings are outlined."""
    depth_t, depth_a = matrix.shape
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=[f"aux {j}" for j in range(depth_a)],
            y=[f"target {i}" for i in range(depth_t)],
            zmin=0,
            zmax=1,
            colorscale="Viridis",
            text=np.round(matrix, 2),
            texttemplate="%{text}",
            colorbar={"title": {"text": "CKA"}},
        )
    )
    if depth_t == depth_a:
        steps = list(range(depth_t))
        for label, pairs in (("identity", steps), ("reversed", steps[::-1])):
            fig.add_trace(
                go.Scatter(
                    x=[f"aux {j}" for j in pairs],
                    y=[f"target {i}" for i in steps],
                    mode="markers",
                    marker={"symbol": "square-open", "size": 28, "line": {"width": 2}},
                    name=label,
                )
            )
    fig.update_layout(title=title, yaxis={"autorange": "reversed"}, legend={"orientation": "h", "y": -0.12})
    return fig
