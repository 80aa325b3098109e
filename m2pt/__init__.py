"""m2pt: Multimodal Pathway (Cross-Modal Re-parameterization) for ViTs of any modality."""

from m2pt.checkpoint import CheckpointError, StateDict, load_checkpoint, read_metadata, save_checkpoint
from m2pt.cross_modal_linear import CrossModalLinear
from m2pt.merge import merge
from m2pt.models import SIZES, build_model
from m2pt.models.pretrained import LoadReport, load_pretrained
from m2pt.reparameterize import BLOCK_MAPS, DEFAULT_LAYERS, cross_modal_layers, reparameterize

__all__ = [
    "BLOCK_MAPS",
    "SIZES",
    "LoadReport",
    "build_model",
    "load_pretrained",
    "DEFAULT_LAYERS",
    "CheckpointError",
    "CrossModalLinear",
    "StateDict",
    "cross_modal_layers",
    "load_checkpoint",
    "merge",
    "read_metadata",
    "reparameterize",
    "save_checkpoint",
]
