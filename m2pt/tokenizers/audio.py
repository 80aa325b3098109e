"""Audio tokenizer: a log-mel spectrogram seen as a one-channel image, cut into 16 x 16 patches.

The AudioMAE layout: input ``[B,1,T,F]`` (T frames of 10 ms, F mel bins), patches row-major
over the (T/16, F/16) grid, so AudioMAE's ``patch_embed`` and ``pos_embed`` load unchanged.
"""

from m2pt.tokenizers.image import ImageTokenizer


class AudioTokenizer(ImageTokenizer):
    """``[B,1,T,F] -> [B, (T/S)(F/S), D]``; ``img_size = (T, F)`` of the configured input."""

    input_name = "spectrogram"
    input_layout = "[B,1,T,F]"

    def __init__(
        self, embed_dim: int, img_size: tuple[int, int] = (1024, 128), patch_size: int = 16, in_chans: int = 1
    ):
        super().__init__(embed_dim, img_size=img_size, patch_size=patch_size, in_chans=in_chans)
