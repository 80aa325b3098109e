"""Models: one ViT shape for every modality, built from a registry."""

from m2pt.models.grid_vit import GridViT
from m2pt.models.point_vit import PointViT
from m2pt.models.registry import MODALITY_BUILDERS, SIZES, Modality, build_model, register_modality
from m2pt.models.vit import Tokens, ViTEncoder

__all__ = [
    "MODALITY_BUILDERS",
    "SIZES",
    "GridViT",
    "Modality",
    "PointViT",
    "Tokens",
    "ViTEncoder",
    "build_model",
    "register_modality",
]
