"""ViT over point-cloud groups, in Point-MAE's layout."""

import torch
from torch import Tensor, nn

from m2pt.models.vit import Tokens, ViTEncoder
from m2pt.tokenizers.point import PointTokenizer


class PointViT(ViTEncoder):
    """A :class:`PointTokenizer` (``patch_embed``), a position MLP on the group centres
    (``pos_embed``: Linear 3->128, GELU, Linear 128->D) with a class-token position ``cls_pos``,
    and the shared ViT stages. By default the positions are added before every block, as
    Point-MAE does, so its encoder weights load and behave as trained."""

    def __init__(self, tokenizer: PointTokenizer, *, pos_every_block: bool = True, **vit_kwargs):
        super().__init__(pos_every_block=pos_every_block, **vit_kwargs)
        self.patch_embed = tokenizer
        self.pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, self.embed_dim))
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
        self.init_weights()

    def cls_position(self) -> Tensor:
        return self.cls_pos

    def embed(self, x: Tensor) -> Tokens:
        tokens, centres, groups = self.patch_embed(x)
        return Tokens(tokens, self.pos_embed(centres), groups)

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.randn(batch_size, self.patch_embed.num_points, self.patch_embed.channels)
