"""The networks of BEGAN, Berthelot et al. 2017 (arXiv 1703.10717), figure 1.

Both the generator and the discriminator's decoder map a vector to an image: a fully connected layer to
8x8 feature maps, then per scale two 3x3 convolutions with ELU and a nearest-neighbour upsampling, and a
last 3x3 convolution to the image. The discriminator's encoder mirrors it with stride-2 convolutions for
subsampling, its width growing linearly (n, 2n, 3n, ...). No batch norm anywhere.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: The decoder starts from 8x8 feature maps and the encoder subsamples down to them.
SMALLEST_SIZE = 8


def scale_count(image_size: int) -> int:
    """How many scales the networks have between 8x8 and ``image_size`` (both included)."""
    if image_size < SMALLEST_SIZE or image_size & (image_size - 1):
        raise ValueError(
            f"image_size={image_size} is not supported: BEGAN's networks work on 8x8 feature maps doubled or "
            f"halved per scale, so it must be a power of two >= {SMALLEST_SIZE} (e.g. 32, 64, 128). Resize the "
            "data with --data.init_args.image_size."
        )
    return int(math.log2(image_size // SMALLEST_SIZE)) + 1


def conv_elu(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.ELU()]


class BEGANDecoder(nn.Module):
    """Vector (h or z) -> FC -> 8x8 x ``filters`` -> [conv3x3 ELU, conv3x3 ELU, upsample x2]* -> conv3x3 -> image.

    The output has no activation, as in the paper: images are not bounded to [-1, 1] by the network.
    BEGAN's generator is this network with its own weights.
    """

    def __init__(self, input_dim: int, channels: int, image_size: int, filters: int) -> None:
        super().__init__()
        scales = scale_count(image_size)
        self.filters = filters
        self.project = nn.Linear(input_dim, filters * SMALLEST_SIZE * SMALLEST_SIZE)
        layers: list[nn.Module] = []
        for scale in range(scales):
            layers += conv_elu(filters, filters) + conv_elu(filters, filters)
            if scale < scales - 1:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers.append(nn.Conv2d(filters, channels, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(h).view(h.size(0), self.filters, SMALLEST_SIZE, SMALLEST_SIZE))


class BEGANEncoder(nn.Module):
    """Image -> conv3x3 ELU -> [conv3x3 ELU, conv3x3 ELU, stride-2 conv3x3 ELU]* -> 8x8 -> FC -> embedding h.

    The width grows by ``filters`` at every subsampling: n, 2n, 3n, ... channels per scale.
    """

    def __init__(self, channels: int, image_size: int, filters: int, embedding_dim: int) -> None:
        super().__init__()
        scales = scale_count(image_size)
        layers: list[nn.Module] = conv_elu(channels, filters)
        width = filters
        for scale in range(scales):
            layers += conv_elu(width, width) + conv_elu(width, width)
            if scale < scales - 1:
                layers += conv_elu(width, width + filters, stride=2)
                width += filters
        self.net = nn.Sequential(*layers)
        self.embed = nn.Linear(width * SMALLEST_SIZE * SMALLEST_SIZE, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.net(x).flatten(1))


class BEGANDiscriminator(nn.Module):
    """The auto-encoder D(x) = decoder(encoder(x)): returns the reconstruction of its input."""

    def __init__(self, channels: int, image_size: int, filters: int, embedding_dim: int) -> None:
        super().__init__()
        self.encoder = BEGANEncoder(channels, image_size, filters, embedding_dim)
        self.decoder = BEGANDecoder(embedding_dim, channels, image_size, filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
