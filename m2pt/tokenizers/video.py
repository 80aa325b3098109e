"""Video tokenizer: per-frame S x S patches, or t x S x S tubelets (VideoMAE)."""

from einops import rearrange
from torch import Tensor, nn

from m2pt.tokenizers.checks import check_divisible, check_input


class VideoTokenizer(nn.Module):
    """``[B,C,T,H,W] -> [B, (T/t)(H/S)(W/S), D]``.

    ``tubelet=1`` embeds every frame's patches separately (``T*HW/S^2`` tokens, the paper's
    video tokenizer); ``tubelet=2`` embeds 2 x S x S tubelets as VideoMAE does, so its
    ``patch_embed.proj.weight [D,C,2,S,S]`` loads. Tokens are ordered time, then rows, then columns.
    """

    input_name = "video"
    input_layout = "[B,C,T,H,W]"

    def __init__(
        self,
        embed_dim: int,
        num_frames: int = 16,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        tubelet: int = 1,
        in_chans: int = 3,
    ):
        super().__init__()
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.num_frames, self.patch_size, self.tubelet, self.in_chans = num_frames, patch_size, tubelet, in_chans
        name = type(self).__name__
        check_divisible(name, "frame count", num_frames, tubelet)
        for what, size in zip(("height", "width"), self.img_size):
            check_divisible(name, what, size, patch_size)
        kernel = (tubelet, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=kernel, stride=kernel)

    @property
    def grid(self) -> tuple[int, int, int]:
        return self.num_frames // self.tubelet, self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size

    def grid_of(self, x: Tensor) -> tuple[int, int, int]:
        return x.shape[2] // self.tubelet, x.shape[3] // self.patch_size, x.shape[4] // self.patch_size

    def check(self, x: Tensor) -> None:
        check_input(x, name=self.input_name, layout=self.input_layout, rank=5, channels=(1, self.in_chans))
        check_divisible(self.input_name, "frame count", x.shape[2], self.tubelet)
        for what, size in zip(("height", "width"), x.shape[-2:]):
            check_divisible(self.input_name, what, size, self.patch_size)

    def forward(self, x: Tensor) -> Tensor:
        """``x [B,C,T,H,W] -> tokens [B,N,D]``."""
        self.check(x)
        return rearrange(self.proj(x), "b d t h w -> b (t h w) d")

    @property
    def target_size(self) -> int:
        """Values per token that masked-autoencoder pretraining reconstructs (its raw voxels)."""
        return self.tubelet * self.patch_size**2 * self.in_chans

    def patchify(self, x: Tensor) -> Tensor:
        """``x [B,C,T,H,W] -> [B,N,t*S*S*C]``: each token's raw values, in token order."""
        s, t = self.patch_size, self.tubelet
        return rearrange(x, "b c (n u) (h p) (w q) -> b (n h w) (u p q c)", u=t, p=s, q=s)
