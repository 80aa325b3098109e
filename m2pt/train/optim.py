"""AdamW parameter groups and the learning-rate schedule.

Groups: the pathway's λ (own learning-rate scale, never weight decay), the auxiliary weights
(own scale), and the rest split into decayed weights and undecayed 1-D parameters and tokens
(biases, norms, class token, position tables). With ``layer_decay`` each group is further split
by depth, the learning rate shrinking by that factor per block from the head down.
Each group carries an ``lr_scale``; :func:`set_learning_rate` applies ``base_lr x lr_scale``.
"""

import math
import re
from collections.abc import Iterator

import torch
from torch import nn

from m2pt.train.config import OptimConfig, PathwayConfig

NO_DECAY_NAMES = ("cls_token", "cls_pos", "pos_embed", "mask_token")


def parameter_kind(name: str, parameter: nn.Parameter) -> str:
    """``"lambda"``, ``"aux"``, ``"no_decay"`` or ``"decay"``."""
    if name.endswith("lambdas"):
        return "lambda"
    if ".aux_weights." in name:
        return "aux"
    if parameter.dim() <= 1 or name.split(".")[-1] in NO_DECAY_NAMES or name.endswith(".bias"):
        return "no_decay"
    return "decay"


def layer_id(name: str, depth: int) -> int:
    """0 for the tokenizer and embeddings, i+1 for block i, depth+1 for the final norm and head."""
    name = name.removeprefix("encoder.")
    if name.startswith(("patch_embed", "pos_embed", "cls_token", "cls_pos")):
        return 0
    match = re.match(r"blocks\.(\d+)\.", name)
    return int(match.group(1)) + 1 if match else depth + 1


def parameter_groups(model: nn.Module, optim: OptimConfig, pathway: PathwayConfig, depth: int) -> list[dict]:
    """AdamW groups for the trainable parameters of ``model`` (see module doc)."""
    scales = {"lambda": pathway.lambda_lr_scale, "aux": pathway.aux_lr_scale, "decay": 1.0, "no_decay": 1.0}
    decays = {"lambda": 0.0, "aux": optim.weight_decay, "decay": optim.weight_decay, "no_decay": 0.0}
    groups: dict[tuple[str, int], dict] = {}
    for name, parameter in _trainable(model):
        kind = parameter_kind(name, parameter)
        layer = layer_id(name, depth) if optim.layer_decay else 0
        layer_scale = optim.layer_decay ** (depth + 1 - layer) if optim.layer_decay else 1.0
        group = groups.setdefault(
            (kind, layer),
            {
                "params": [],
                "names": [],
                "kind": kind,
                "weight_decay": decays[kind],
                "lr_scale": scales[kind] * layer_scale,
            },
        )
        group["params"].append(parameter)
        group["names"].append(name)
    return list(groups.values())


def build_optimizer(model: nn.Module, optim: OptimConfig, pathway: PathwayConfig, depth: int) -> torch.optim.AdamW:
    groups = parameter_groups(model, optim, pathway, depth)
    if not groups:
        raise ValueError("nothing to train: every parameter is frozen")
    device = next(iter(groups[0]["params"])).device
    fused = device.type in ("cuda", "cpu")  # fused AdamW: ~3x faster optimizer steps on CPU too
    return torch.optim.AdamW(groups, lr=optim.lr, betas=tuple(optim.betas), fused=fused)


def cosine_lr(step: int, total_steps: int, warmup_steps: int, lr: float, min_lr: float) -> float:
    """Linear warm-up to ``lr`` over ``warmup_steps``, then half a cosine down to ``min_lr``."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def _trainable(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    return ((n, p) for n, p in model.named_parameters() if p.requires_grad)
