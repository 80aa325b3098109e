"""Masked-autoencoder pretraining for an m2pt model of any modality (MAE / Point-MAE style).

A random subset of the tokens (``mask_ratio`` of them, 0.75 by default) is hidden; the
encoder sees only the visible ones; a light decoder gets the encoded tokens plus a learned
mask token at every hidden place, each with its position, and reconstructs each hidden
token's raw input. The loss counts hidden tokens only: per-patch normalised pixel MSE for
images, spectrograms and videos; Chamfer distance between predicted and true point groups
for point clouds. Labels are never used.

The decoder's positions are a linear map of the encoder's own position embedding of each
token, so one decoder serves grid and point models alike.
"""

from collections.abc import Callable

import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from m2pt.models.vit import ViTEncoder


def patch_mse(prediction: Tensor, patches: Tensor, mask: Tensor, *, normalize: bool = True) -> Tensor:
    """``prediction, patches [B,N,P]``, ``mask [B,N]`` (1 = hidden) -> mean MSE over hidden tokens."""
    target = patches.flatten(2)
    if normalize:
        mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1e-6).sqrt()
    per_token = (prediction - target).square().mean(dim=-1)
    return (per_token * mask).sum() / mask.sum()


def chamfer(prediction: Tensor, groups: Tensor, mask: Tensor, *, normalize: bool = True) -> Tensor:
    """``prediction [B,N,k*3]``, ``groups [B,N,k,3+c]``, ``mask [B,N]`` -> mean Chamfer-L2 distance
    between each hidden group's predicted and true (centre-relative) points."""
    del normalize  # point groups are already centre-relative
    hidden = mask.bool()
    truth = groups[..., :3][hidden]  # [M,k,3]
    predicted = prediction[hidden].reshape(truth.shape)  # [M,k,3]
    squared = (predicted[:, :, None] - truth[:, None]).square().sum(dim=-1)  # [M,k,k]
    return squared.amin(dim=2).mean() + squared.amin(dim=1).mean()


RECONSTRUCTION_LOSSES: dict[str, Callable[..., Tensor]] = {
    "image": patch_mse,
    "audio": patch_mse,
    "video": patch_mse,
    "point": chamfer,
}


def random_masking(batch: int, tokens: int, ratio: float, device: torch.device) -> tuple[Tensor, Tensor]:
    """``(visible [B,V], mask [B,N])``: indices of the kept tokens (ascending), and 1 at hidden tokens."""
    keep = max(1, round(tokens * (1 - ratio)))
    noise = torch.rand(batch, tokens, device=device)
    visible = noise.argsort(dim=1)[:, :keep].sort(dim=1).values
    mask = torch.ones(batch, tokens, device=device)
    mask.scatter_(1, visible, 0.0)
    return visible, mask


def gather_tokens(x: Tensor, index: Tensor) -> Tensor:
    """``x [B,N,D]``, ``index [B,M] -> [B,M,D]``."""
    return torch.gather(x, 1, index[..., None].expand(-1, -1, x.shape[-1]))


class MaskedAutoencoder(nn.Module):
    """Wraps ``encoder`` (kept as ``self.encoder``: its weights are what pretraining produces)."""

    def __init__(
        self,
        encoder: ViTEncoder,
        *,
        mask_ratio: float = 0.75,
        decoder_dim: int = 128,
        decoder_depth: int = 2,
        decoder_heads: int = 4,
        norm_pix_loss: bool = True,
    ):
        super().__init__()
        if not 0 < mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        modality = getattr(encoder, "modality", None)
        if modality not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"no reconstruction loss for modality {modality!r}")
        self.encoder = encoder
        self.mask_ratio, self.norm_pix_loss = mask_ratio, norm_pix_loss
        self.loss_fn = RECONSTRUCTION_LOSSES[modality]
        dim = encoder.embed_dim
        self.decoder_embed = nn.Linear(dim, decoder_dim)
        self.decoder_pos = nn.Linear(dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.decoder_blocks = nn.Sequential(
            *(Block(decoder_dim, decoder_heads, qkv_bias=True, norm_layer=nn.LayerNorm) for _ in range(decoder_depth))
        )
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, encoder.patch_embed.target_size)
        nn.init.normal_(self.mask_token, std=0.02)

    def no_weight_decay(self) -> set[str]:
        return {"mask_token"}

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``x`` -> ``(loss, prediction [B,N,P], mask [B,N])``."""
        embedded = self.encoder.embed(x)
        b, n, _ = embedded.tokens.shape
        pos = embedded.pos.expand(b, -1, -1)
        visible, mask = random_masking(b, n, self.mask_ratio, x.device)
        latent = self.encoder.encode(gather_tokens(embedded.tokens, visible), gather_tokens(pos, visible))
        prediction = self.decode(latent, visible, pos)
        loss = self.loss_fn(prediction, embedded.patches, mask, normalize=self.norm_pix_loss)
        return loss, prediction, mask

    def decode(self, latent: Tensor, visible: Tensor, pos: Tensor) -> Tensor:
        """``latent [B,1+V,D]`` of the visible tokens -> predictions ``[B,N,P]`` for every token."""
        b, n, _ = pos.shape
        encoded = self.decoder_embed(latent)
        tokens = self.mask_token.expand(b, n, -1).clone()
        tokens.scatter_(1, visible[..., None].expand(-1, -1, tokens.shape[-1]), encoded[:, 1:])
        x = torch.cat([encoded[:, :1], tokens + self.decoder_pos(pos)], dim=1)
        x = self.decoder_norm(self.decoder_blocks(x))
        return self.decoder_pred(x[:, 1:])
