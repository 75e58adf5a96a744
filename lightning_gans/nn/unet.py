"""pix2pix's U-Net generator (Isola et al. 2017, arXiv 1611.07004, after Ronneberger et al. 2015)."""

from __future__ import annotations

import math

import torch
from torch import nn

from lightning_gans.nn.patchgan import Norm, norm_layer

#: Decoder blocks with dropout next to the innermost one: three in the authors' 256x256 network.
DROPOUT_BLOCKS = 3


def unet_depth(image_size: int) -> int:
    """How many times the U-Net halves an image: down to 1x1, so log2(image_size) (8 for 256x256)."""
    if image_size < 4 or image_size & (image_size - 1):
        raise ValueError(
            f"image_size={image_size} is not supported: the U-Net halves the image down to 1x1 and mirrors that "
            "path back, so the size must be a power of two >= 4 (e.g. 32, 128, 256). Resize the data with "
            "--data.init_args.image_size."
        )
    return int(math.log2(image_size))


class UNetLevel(nn.Module):
    """One level of the U-Net: down, the levels inside, up, and the skip connection around them all."""

    def __init__(self, down: nn.Sequential, inner: nn.Module, up: nn.Sequential, skip: bool) -> None:
        super().__init__()
        self.down, self.inner, self.up, self.skip = down, inner, up, skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(self.inner(self.down(x)))
        return torch.cat([x, y], dim=1) if self.skip else y


class UNetGenerator(nn.Module):
    """Image -> image of the same size through an encoder-decoder with skips between mirrored layers.

    For 256x256 and ``features=64`` this is the paper's network: encoder C64-C128-C256-C512-C512-C512-C512-C512
    (4x4 stride-2 convolutions, LeakyReLU 0.2, no norm on the first and the innermost), decoder of 4x4
    stride-2 transposed convolutions with ReLU, each taking the mirrored encoder layer's output as extra
    channels, and tanh at the end. Widths double from ``features`` up to 8x. The depth follows the image
    size (halving down to 1x1). Dropout (``dropout``, 0.5 in the paper; 0 for none) sits in the decoder of
    the three levels next to the innermost, as in the authors' code; it is the generator's only noise.
    """

    def __init__(self, channels: int, image_size: int, features: int, norm: Norm, dropout: float) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        depth = unet_depth(image_size)
        bias = norm == "instance"
        widths = [features * min(2**level, 8) for level in range(depth)]
        innermost = depth - 1
        # Built from the innermost level outwards; level 0 is the outermost. Each encoder layer ends in its
        # activation, so that the skip carries the activated features, as the paper's Ck blocks do.
        inner: nn.Module = nn.Identity()
        for level in range(innermost, 0, -1):
            outer_width, width = widths[level - 1], widths[level]
            down: list[nn.Module] = [nn.Conv2d(outer_width, width, 4, 2, 1, bias=bias)]
            if level != innermost:  # the innermost 1x1 layer has no norm, and the decoder's ReLU follows it
                down += [norm_layer(norm, width), nn.LeakyReLU(0.2)]
            # Below the innermost level, the decoder also takes the skip's channels.
            up_in = width if level == innermost else width * 2
            up: list[nn.Module] = [
                nn.ReLU(),
                nn.ConvTranspose2d(up_in, outer_width, 4, 2, 1, bias=bias),
                norm_layer(norm, outer_width),
            ]
            if innermost - DROPOUT_BLOCKS <= level < innermost and dropout > 0:
                up.append(nn.Dropout(dropout))
            inner = UNetLevel(nn.Sequential(*down), inner, nn.Sequential(*up), skip=True)
        down = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        up = [nn.ReLU(), nn.ConvTranspose2d(widths[0] * 2, channels, 4, 2, 1), nn.Tanh()]
        self.net = UNetLevel(nn.Sequential(*down), inner, nn.Sequential(*up), skip=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
