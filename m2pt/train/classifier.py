"""The fine-tuned classifier of a run, built from its config.

:func:`build_classifier` makes the target model (seeded, so arms of a comparison start from
the same weights), initialises it from a checkpoint in the ``pretrained`` setting, adds the
pathway when ``pathway.aux`` names auxiliaries (or controls), and freezes what ``fix`` mode
freezes (or, with ``finetune.matrices_only``, all but the head and the block matrices). The saved
model's metadata and loader are :mod:`m2pt.saved`'s.
"""

from typing import Any

import torch
from torch import nn

from m2pt.controls import resolve_aux_list
from m2pt.models import build_model
from m2pt.models.pretrained import load_pretrained
from m2pt.models.vit import ViTEncoder
from m2pt.parameter_roles import parameter_roles
from m2pt.reparameterize import block_linear, cross_modal_layers, reparameterize, transformer_blocks
from m2pt.tasks import Task
from m2pt.train.config import ConfigError, FinetuneRun
from m2pt.vocabulary import ParameterRole


def build_classifier(config: FinetuneRun, num_classes: int, *, task: Task | None = None, log=print) -> ViTEncoder:
    """The target model of ``config`` with ``num_classes`` outputs (the head of ``task``, a linear
    classifier without one), ready to train."""
    torch.manual_seed(config.seed)
    build = task.build_model if task is not None else build_model
    model = build(config.model.modality, config.model.size, num_classes=num_classes, **config.model.options)
    finetune, pathway = config.finetune, config.pathway
    if finetune.start == "pretrained":
        if not finetune.init:
            raise ConfigError("finetune.start=pretrained needs finetune.init (the target's pretrained checkpoint)")
        log(str(load_pretrained(model, finetune.init, trust_pickle=pathway.trust_pickle)))
    elif finetune.init:
        raise ConfigError("finetune.init is set but finetune.start is from_scratch")
    if pathway.aux:
        aux = resolve_aux_list(pathway.aux, model.state_dict(), config.seed, trust_pickle=pathway.trust_pickle)
        reparameterize(
            model,
            aux,
            layers=pathway.layers,
            block_map=pathway.block_map,
            lambda_init=pathway.lambda_init,
            aux_trainable=pathway.aux_trainable,
            lambda_trainable=pathway.lambda_trainable,
        )
        log(
            f"pathway: {len(cross_modal_layers(model))} layers re-parameterized with {', '.join(a.source for a in aux)}"
        )
    if finetune.mode == "fix":
        freeze_for_fix(model, train_tokenizer=finetune.train_tokenizer)
    if finetune.matrices_only:
        if finetune.mode == "fix" or pathway.aux:
            raise ConfigError("finetune.matrices_only is for tune mode without a pathway (a reference's fine-tuning)")
        train_only_matrices(model, pathway.layers)
    return model


def freeze_for_fix(model: nn.Module, *, train_tokenizer: bool) -> None:
    """The ``fix`` setting: everything frozen but λ (if trainable), the head, and optionally the
    tokenizer with its position embedding (the roles the modules declare)."""
    kept = {ParameterRole.HEAD} | ({ParameterRole.TOKENIZER} if train_tokenizer else set())
    roles = parameter_roles(model)
    for name, parameter in model.named_parameters():
        if roles[name] is not ParameterRole.LAMBDA:
            parameter.requires_grad_(roles[name] in kept)


def train_only_matrices(model: nn.Module, layers: list[str]) -> None:
    """Freeze everything but the head and the weight matrices of ``layers`` in every block (the
    linears a pathway re-parameterizes): tokenizer, norms and biases keep their initial values."""
    roles = parameter_roles(model)
    matrices = {
        id(block_linear(block, i, layer).weight)
        for i, block in enumerate(transformer_blocks(model))
        for layer in layers
    }
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(roles[name] is ParameterRole.HEAD or id(parameter) in matrices)


def lambda_record(model: nn.Module) -> dict[str, Any]:
    """λ and the effective contribution (see :meth:`CrossModalLinear.contributions`) of every
    re-parameterized layer: ``{"lambdas": {"blocks.0.attn.qkv": [λ_1, ...], ...}, "contributions": {...}}``."""
    layers = cross_modal_layers(model)
    return {
        "lambdas": {name: layer.lambdas.detach().float().tolist() for name, layer in layers.items()},
        "contributions": {name: layer.contributions().tolist() for name, layer in layers.items()},
    }
