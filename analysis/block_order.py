"""Block order: which auxiliary block each target block is paired with.

The method pairs target block i with auxiliary block i (``identity``). The paper's analysis
reverses the order (block depth-1-i); a seeded random permutation is the control for "any fixed
order". If the pathway carried depth-specific knowledge, identity should beat both; compare them
over seeds (arms: :func:`workflows.designs.block_order_arms`) with
:func:`analysis.comparisons.comparison_figure` (``versus="identity"``).
"""

import random

import numpy as np
from torch import nn

from analysis.similarity import WeightSource, block_weights, cosine_similarity
from m2pt import cross_modal_layers
from m2pt.checkpoint import block_indices
from m2pt.reparameterize import BlockMap


def random_permutation(depth: int, seed: int = 0) -> list[int]:
    """A seeded permutation of ``range(depth)`` that is neither the identity nor the reversal (depth >= 3)."""
    if depth < 3:
        raise ValueError(f"depth {depth} has no block order besides identity and reversed")
    rng = random.Random(seed)
    fixed = (list(range(depth)), list(range(depth - 1, -1, -1)))
    order = fixed[0]
    while order in fixed:
        order = rng.sample(range(depth), depth)
    return order


def block_maps(depth: int, seed: int = 0) -> dict[str, BlockMap]:
    """``identity``, ``reversed`` and ``permuted`` (:func:`random_permutation`) block maps."""
    return {"identity": "identity", "reversed": "reversed", "permuted": random_permutation(depth, seed)}


def paired_blocks(model: nn.Module, aux: WeightSource, layer: str = "attn.qkv") -> list[int]:
    """For each target block of a re-parameterized ``model``: the block of ``aux`` whose ``layer``
    weight is most similar (cosine) to the auxiliary weight the target block carries.

    Recovers the block map a model was built with, also after training (a short fine-tuning moves
    the auxiliary weights far less than the distance between blocks).
    """
    weights = block_weights(aux)
    candidates = [weights[f"blocks.{j}.{layer}.weight"] for j in block_indices(weights)]
    pathways = cross_modal_layers(model)
    depth = len(model.blocks)
    carried = [pathways[f"blocks.{i}.{layer}"].aux_weights[0] for i in range(depth)]
    return [int(np.argmax([cosine_similarity(w, c) for c in candidates])) for w in carried]
