"""The modality-agnostic part of every m2pt model: class token, timm ViT blocks, norm, head.

A model is a modality-specific tokenizer (``patch_embed``) and position embedding
(``pos_embed``), then :class:`ViTEncoder`'s shared stages. Module names follow timm's
``VisionTransformer`` (``cls_token``, ``blocks.{i}.attn.qkv``, ``norm``, ``head``), so
re-parameterization pairs blocks across modalities and timm/MAE checkpoints map key for key.

Stages, each usable on its own (masked pretraining and analysis hook into them):
``embed(x) -> Tokens`` (tokenizer + positions), ``encode(tokens, pos) -> [B,1+N,D]``
(class token, blocks, norm), ``forward_head(features) -> [B,classes]``.
"""

from collections.abc import Iterator
from functools import partial
from typing import NamedTuple

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from m2pt.vocabulary import ParameterRole

POOLS = ("avg", "token")
TOKENIZER_PARTS = ("patch_embed", "pos_embed", "cls_token", "cls_pos")  # what subclasses may define


class Tokens(NamedTuple):
    """What a model's ``embed`` produces for a batch."""

    tokens: Tensor  # [B,N,D] token embeddings
    pos: Tensor  # [B or 1,N,D] position embedding of each token
    patches: Tensor  # [B,N,...] each token's raw input (the masked-autoencoding target)


class ViTEncoder(nn.Module):
    """Shared ViT stages; subclasses provide ``patch_embed``, ``embed`` and ``cls_position``."""

    def __init__(
        self,
        *,
        embed_dim: int,
        depth: int,
        num_heads: int,
        num_classes: int = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        global_pool: str = "avg",
        drop_path_rate: float = 0.0,
        norm_eps: float = 1e-6,
        pos_every_block: bool = False,
    ):
        super().__init__()
        if global_pool not in POOLS:
            raise ValueError(f"global_pool must be one of {POOLS}, got {global_pool!r}")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.num_classes = embed_dim, num_heads, num_classes
        self.global_pool = global_pool
        self.pos_every_block = pos_every_block
        norm_layer = partial(nn.LayerNorm, eps=norm_eps)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        drop_path = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.Sequential(
            *(
                Block(embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, drop_path=drop_path[i], norm_layer=norm_layer)
                for i in range(depth)
            )
        )
        self.norm = norm_layer(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes else nn.Identity()

    def init_weights(self) -> None:
        """timm's ViT initialisation: truncated-normal linears, zero biases."""
        trunc_normal_(self.cls_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def embed(self, x: Tensor) -> Tokens:
        raise NotImplementedError

    def cls_position(self) -> Tensor:
        """``[1,1,D]`` position embedding of the class token."""
        raise NotImplementedError

    def example_input(self, batch_size: int = 2) -> Tensor:
        """A random input of the configured shape (for smoke tests, benchmarks and probes)."""
        raise NotImplementedError

    def encode(self, tokens: Tensor, pos: Tensor) -> Tensor:
        """``tokens [B,N,D]``, ``pos [B|1,N,D] -> [B,1+N,D]``: prepend the class token, run the
        blocks (positions added once, or before every block for Point-MAE-style models), norm."""
        b = tokens.shape[0]
        x = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
        pos = torch.cat([self.cls_position().expand(b, -1, -1), pos.expand(b, -1, -1)], dim=1)
        if self.pos_every_block:
            for block in self.blocks:
                x = block(x + pos)
        else:
            x = self.blocks(x + pos)
        return self.norm(x)

    def forward_features(self, x: Tensor) -> Tensor:
        """Input -> ``[B,1+N,D]`` normalised token features (class token first)."""
        embedded = self.embed(x)
        return self.encode(embedded.tokens, embedded.pos)

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        """``[B,1+N,D] -> [B,classes]`` (or the pooled ``[B,D]`` with ``pre_logits``)."""
        pooled = features[:, 1:].mean(dim=1) if self.global_pool == "avg" else features[:, 0]
        return pooled if pre_logits else self.head(pooled)

    def forward(self, x: Tensor) -> Tensor:
        """Input -> head output. A dense head (``head.dense``, the segmentation heads of
        :mod:`m2pt.tasks`) needs the token positions and the input too: it is called as
        ``head(model, x)`` and runs the stages itself."""
        if getattr(self.head, "dense", False):
            return self.head(self, x)
        return self.forward_head(self.forward_features(x))

    def parameter_roles(self) -> Iterator[tuple[nn.Parameter, ParameterRole]]:
        """The tokenizer (patch embedding, position embedding, class token) and the head; the
        blocks and the final norm are the body (see :mod:`m2pt.parameter_roles`)."""
        for part in TOKENIZER_PARTS:
            value = getattr(self, part, None)
            parameters = [value] if isinstance(value, nn.Parameter) else []
            parameters += list(value.parameters()) if isinstance(value, nn.Module) else []
            yield from ((p, ParameterRole.TOKENIZER) for p in parameters)
        yield from ((p, ParameterRole.HEAD) for p in self.head.parameters())

    def no_weight_decay(self) -> set[str]:
        """Token and position tables, as in timm (1-D parameters are exempt anyway)."""
        return {part for part in TOKENIZER_PARTS if isinstance(getattr(self, part, None), nn.Parameter)}
