"""Image tokenizer: non-overlapping S x S patches embedded by a strided convolution."""

from einops import rearrange
from torch import Tensor, nn

from m2pt.tokenizers.checks import check_divisible, check_input


class ImageTokenizer(nn.Module):
    """``[B,C,H,W] -> [B, (H/S)(W/S), D]`` for any H, W divisible by the patch size S.

    ``img_size`` is the size the position embedding is laid out for (the model's grid).
    The convolution is named ``proj``, as in timm and MAE, so their ``patch_embed`` loads.
    """

    input_name = "image"
    input_layout = "[B,C,H,W]"

    def __init__(self, embed_dim: int, img_size: int | tuple[int, int] = 224, patch_size: int = 16, in_chans: int = 3):
        super().__init__()
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_size = patch_size
        self.in_chans = in_chans
        for what, size in zip(("height", "width"), self.img_size):
            check_divisible(type(self).__name__, what, size, patch_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    @property
    def grid(self) -> tuple[int, int]:
        """Patch grid of the configured input size."""
        return self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size

    def check(self, x: Tensor) -> None:
        check_input(x, name=self.input_name, layout=self.input_layout, rank=4, channels=(1, self.in_chans))
        for what, size in zip(("height", "width"), x.shape[-2:]):
            check_divisible(self.input_name, what, size, self.patch_size)

    def forward(self, x: Tensor) -> Tensor:
        """``x [B,C,H,W] -> tokens [B,N,D]``, row-major over the patch grid."""
        self.check(x)
        return rearrange(self.proj(x), "b d h w -> b (h w) d")

    @property
    def target_size(self) -> int:
        """Values per token that masked-autoencoder pretraining reconstructs (its raw pixels)."""
        return self.patch_size**2 * self.in_chans

    def patchify(self, x: Tensor) -> Tensor:
        """``x [B,C,H,W] -> [B,N,S*S*C]``: each token's raw pixels, in token order."""
        s = self.patch_size
        return rearrange(x, "b c (h p) (w q) -> b (h w) (p q c)", p=s, q=s)

    def grid_of(self, x: Tensor) -> tuple[int, int]:
        return x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size
