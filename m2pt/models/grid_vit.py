"""ViT over a regular token grid: images, audio spectrograms, videos."""

import math

import torch
from timm.layers import resample_abs_pos_embed, trunc_normal_
from torch import Tensor, nn

from m2pt.models.positions import sincos_position_embedding
from m2pt.models.vit import Tokens, ViTEncoder
from m2pt.tokenizers.image import ImageTokenizer
from m2pt.tokenizers.video import VideoTokenizer

POSITION_KINDS = ("learned", "sincos")


class GridViT(ViTEncoder):
    """A patch tokenizer (``patch_embed``), a ``pos_embed [1,1+N,D]`` laid out like timm's
    (class token first), and the shared ViT stages.

    ``pos_embed="learned"`` (timm, MAE, AudioMAE) or ``"sincos"`` (fixed, not saved, as VideoMAE).
    2-D inputs of another size than configured get their position table resampled on the fly.
    """

    def __init__(self, tokenizer: ImageTokenizer | VideoTokenizer, *, pos_embed: str = "learned", **vit_kwargs):
        super().__init__(**vit_kwargs)
        if pos_embed not in POSITION_KINDS:
            raise ValueError(f"pos_embed must be one of {POSITION_KINDS}, got {pos_embed!r}")
        self.patch_embed = tokenizer
        grid = tokenizer.grid
        if pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, 1 + math.prod(grid), self.embed_dim))
        else:
            table = sincos_position_embedding(grid, self.embed_dim)
            self.register_buffer(
                "pos_embed", torch.cat([torch.zeros(1, self.embed_dim), table])[None], persistent=False
            )
        self.init_weights()
        if pos_embed == "learned":
            trunc_normal_(self.pos_embed, std=0.02)

    def positions(self, grid: tuple[int, ...]) -> Tensor:
        """``[1,N,D]`` position embeddings of the patch tokens of an input with this grid."""
        configured = self.patch_embed.grid
        if grid == configured:
            return self.pos_embed[:, 1:]
        if len(grid) != 2:
            raise ValueError(f"this model is configured for a {configured} token grid; the input gives {grid}")
        resized = resample_abs_pos_embed(self.pos_embed, new_size=list(grid), old_size=list(configured))
        return resized[:, 1:]

    def cls_position(self) -> Tensor:
        return self.pos_embed[:, :1]

    def embed(self, x: Tensor) -> Tokens:
        tokens = self.patch_embed(x)
        return Tokens(tokens, self.positions(self.patch_embed.grid_of(x)), self.patch_embed.patchify(x))

    def example_input(self, batch_size: int = 2) -> Tensor:
        t = self.patch_embed
        frames = (t.num_frames,) if isinstance(t, VideoTokenizer) else ()
        return torch.randn(batch_size, t.in_chans, *frames, *t.img_size)
