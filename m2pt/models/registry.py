"""Model registry: ``build_model(modality, size, num_classes, **overrides)``.

A modality is a tokenizer class, a model class, and the tokenizer settings of its sizes. Sizes
set the transformer's shape; ``tiny`` is sized for CPU runs and the built-in datasets, the
others use the paper's input settings (the tiny point model takes 1024 points in 64 groups of 16,
with a narrower PointNet). Every setting can be overridden by keyword.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from m2pt.models.grid_vit import GridViT
from m2pt.models.point_vit import PointViT
from m2pt.models.vit import ViTEncoder
from m2pt.tokenizers.audio import AudioTokenizer
from m2pt.tokenizers.image import ImageTokenizer
from m2pt.tokenizers.point import PointTokenizer
from m2pt.tokenizers.video import VideoTokenizer

SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(embed_dim=96, depth=4, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
}


@dataclass(frozen=True)
class Modality:
    """How to build a model of one modality."""

    tokenizer: Callable[..., nn.Module]
    model: Callable[..., ViTEncoder]
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # size -> tokenizer settings
    defaults: dict[str, Any] = field(default_factory=dict)  # model settings of this modality


MODALITY_BUILDERS: dict[str, Modality] = {}  # the built-in ones are m2pt.vocabulary.MODALITIES


def register_modality(name: str, modality: Modality) -> None:
    MODALITY_BUILDERS[name] = modality


register_modality(
    "image",
    Modality(ImageTokenizer, GridViT, inputs={"tiny": dict(img_size=28, patch_size=7, in_chans=1)}),
)
register_modality(
    "audio",
    Modality(AudioTokenizer, GridViT, inputs={"tiny": dict(img_size=(128, 128), patch_size=16)}),
)
register_modality(
    "video",
    Modality(VideoTokenizer, GridViT, inputs={"tiny": dict(num_frames=8, img_size=32, patch_size=8, in_chans=1)}),
)
register_modality(
    "point",
    Modality(
        PointTokenizer,
        PointViT,
        inputs={"tiny": dict(num_points=1024, num_groups=64, group_size=16, widths=(32, 64, 64))},
    ),
)


def build_model(modality: str, size: str = "tiny", num_classes: int = 0, **overrides: Any) -> ViTEncoder:
    """A model for ``modality`` (``"image"``, ``"audio"``, ``"video"``, ``"point"``) of ``size``.

    ``overrides`` replace transformer settings (``embed_dim``, ``depth``, ``num_heads``,
    ``global_pool``, ...), model settings (``pos_embed``, ``pos_every_block``) or tokenizer
    settings (``img_size``, ``patch_size``, ``num_frames``, ``tubelet``, ``num_points``, ...).
    ``num_classes=0`` gives a model without a head (an encoder).
    """
    if modality not in MODALITY_BUILDERS:
        raise ValueError(f"unknown modality {modality!r}; registered: {sorted(MODALITY_BUILDERS)}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose from {sorted(SIZES)}")
    spec = MODALITY_BUILDERS[modality]
    settings = {**SIZES[size], **spec.defaults, **spec.inputs.get(size, {}), **overrides}
    tokenizer_keys = _parameters(spec.tokenizer) - {"embed_dim"}
    model_keys = _parameters(spec.model) | _parameters(ViTEncoder)
    unknown = set(settings) - tokenizer_keys - model_keys
    if unknown:
        raise ValueError(
            f"unknown setting(s) {sorted(unknown)} for a {modality} model; "
            f"model settings: {sorted(model_keys - {'tokenizer', 'vit_kwargs'})}, tokenizer settings: {sorted(tokenizer_keys)}"
        )
    tokenizer = spec.tokenizer(
        embed_dim=settings["embed_dim"], **{k: v for k, v in settings.items() if k in tokenizer_keys}
    )
    model_settings = {k: v for k, v in settings.items() if k not in tokenizer_keys}
    model = spec.model(tokenizer, num_classes=num_classes, **model_settings)
    model.modality, model.size = modality, size
    return model


def _parameters(cls: Callable[..., Any]) -> set[str]:
    signature = inspect.signature(cls)
    return {n for n, p in signature.parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
