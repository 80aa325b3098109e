"""Cross-Modal Re-parameterization of a whole ViT.

:func:`reparameterize` pairs every block of a target ViT with a block of one or more auxiliary
models (same width, pretrained on other modalities) and replaces the chosen linear layers of
each target block by a :class:`~m2pt.cross_modal_linear.CrossModalLinear` holding the paired
auxiliary weights. :func:`m2pt.merge.merge` undoes the structure after training.
"""

from collections.abc import Callable, Sequence

from torch import nn

from m2pt.checkpoint import CheckpointSource, StateDict, block_indices, check_heads, load_checkpoint
from m2pt.cross_modal_linear import CrossModalLinear

DEFAULT_LAYERS = ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")

BlockMap = str | Sequence[int]

# Named pairings: target block i -> auxiliary block pairing[i], for models of equal depth.
BLOCK_MAPS: dict[str, Callable[[int], list[int]]] = {
    "identity": lambda depth: list(range(depth)),
    "reversed": lambda depth: list(range(depth - 1, -1, -1)),
}


def reparameterize(
    model: nn.Module,
    aux: CheckpointSource | Sequence[CheckpointSource],
    *,
    layers: Sequence[str] = DEFAULT_LAYERS,
    block_map: BlockMap = "identity",
    lambda_init: float = 0.0,
    aux_trainable: bool = True,
    lambda_trainable: bool = True,
    trust_pickle: bool = False,
) -> nn.Module:
    """Re-parameterize ``model``'s blocks with the auxiliary model(s) ``aux``, in place.

    Args:
        model: a ViT with its blocks at ``model.blocks`` (timm's ``VisionTransformer`` and
            every m2pt model).
        aux: a checkpoint path, a state dict, an ``nn.Module``, or a list of them (one
            pathway per auxiliary model, each with its own λ).
        layers: linear layers inside each block to re-parameterize, by name within the block.
        block_map: ``"identity"``, ``"reversed"`` (target block i with auxiliary block
            depth-1-i), or an explicit list giving the auxiliary block for each target block
            (which may also pair models of different depth).
        lambda_init: initial value of every λ.
        aux_trainable: whether the auxiliary weights train (False freezes them).
        lambda_trainable: whether λ trains (False keeps it at ``lambda_init``).
        trust_pickle: allow unpickling checkpoint files (see :func:`load_checkpoint`).

    Returns ``model``. Everything is checked before anything changes: on a depth or width
    mismatch, a missing layer or a bad checkpoint the model is left as it was.
    """
    blocks = transformer_blocks(model)
    sources = list(aux) if isinstance(aux, (list, tuple)) else [aux]
    if not sources:
        raise ValueError("reparameterize needs at least one auxiliary model")
    aux_weights = [load_checkpoint(source, trust_pickle=trust_pickle) for source in sources]
    for weights in aux_weights:  # another modality's model may have had other heads: only warns then
        check_heads(model, weights, exact=False)
    pairings = [block_pairing(block_map, len(blocks), weights) for weights in aux_weights]

    replacements = []
    for i, block in enumerate(blocks):
        for layer in layers:
            target = block_linear(block, i, layer)
            paired = [_aux_weight(w, pairing[i], layer, i, target) for w, pairing in zip(aux_weights, pairings)]
            replacements.append((block, layer, target, paired))

    for block, layer, target, paired in replacements:
        parent_name, _, child_name = layer.rpartition(".")
        parent = block.get_submodule(parent_name)
        pathway = CrossModalLinear(
            target,
            paired,
            lambda_init=lambda_init,
            aux_trainable=aux_trainable,
            lambda_trainable=lambda_trainable,
        )
        setattr(parent, child_name, pathway)
    return model


def transformer_blocks(model: nn.Module) -> Sequence[nn.Module]:
    """The model's transformer blocks (``model.blocks``)."""
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, (nn.Sequential, nn.ModuleList)) or len(blocks) == 0:
        raise ValueError(
            f"expected a ViT with its transformer blocks at `model.blocks` (timm's VisionTransformer "
            f"or an m2pt model); {type(model).__name__} has none"
        )
    return blocks


def block_pairing(block_map: BlockMap, target_depth: int, aux: StateDict) -> list[int]:
    """The auxiliary block paired with each target block: ``pairing[i]`` for target block i."""
    aux_depth = len(block_indices(aux))
    if isinstance(block_map, str):
        if block_map not in BLOCK_MAPS:
            raise ValueError(f"unknown block_map {block_map!r}; choose from {sorted(BLOCK_MAPS)} or give a list")
        if aux_depth != target_depth:
            raise ValueError(
                f"depth mismatch: the target has {target_depth} blocks, the auxiliary model {aux.source} has "
                f"{aux_depth}. block_map={block_map!r} pairs blocks one to one; give an explicit list of "
                "auxiliary block indices to pair models of different depth"
            )
        return BLOCK_MAPS[block_map](target_depth)
    pairing = [int(j) for j in block_map]
    if len(pairing) != target_depth:
        raise ValueError(f"block_map has {len(pairing)} entries but the target has {target_depth} blocks")
    if any(not 0 <= j < aux_depth for j in pairing):
        raise ValueError(f"block_map {pairing} refers to blocks outside 0..{aux_depth - 1} of {aux.source}")
    return pairing


def cross_modal_layers(model: nn.Module) -> dict[str, CrossModalLinear]:
    """Every re-parameterized layer of ``model``, by module name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, CrossModalLinear)}


def block_linear(block: nn.Module, index: int, layer: str) -> nn.Linear:
    try:
        target = block.get_submodule(layer)
    except AttributeError:
        raise ValueError(f"target block {index} has no layer {layer!r}") from None
    if isinstance(target, CrossModalLinear):
        raise ValueError(
            f"blocks.{index}.{layer} is already re-parameterized: merge() first, or pass all auxiliary "
            "models to one reparameterize() call"
        )
    if not isinstance(target, nn.Linear):
        raise ValueError(f"blocks.{index}.{layer} is a {type(target).__name__}, not an nn.Linear")
    return target


def _aux_weight(aux: StateDict, aux_block: int, layer: str, target_block: int, target: nn.Linear):
    key = f"blocks.{aux_block}.{layer}.weight"
    if key not in aux:
        raise ValueError(f"the auxiliary model {aux.source} has no {key}")
    weight = aux[key]
    if weight.shape != target.weight.shape:
        raise ValueError(
            f"width mismatch: the auxiliary model {aux.source} has {key} of shape {list(weight.shape)}, "
            f"the target's blocks.{target_block}.{layer}.weight has shape {list(target.weight.shape)}"
        )
    return weight
