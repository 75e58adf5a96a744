"""The deep convolutional networks of Radford et al. 2015 (arXiv 1511.06434)."""

from __future__ import annotations

import math

import torch
from torch import nn


def check_power_of_two(image_size: int, smallest: int = 16) -> int:
    """Return log2(image_size), or raise if the size is not a power of two >= ``smallest``."""
    if image_size < smallest or image_size & (image_size - 1):
        raise ValueError(
            f"image_size={image_size} is not supported: DCGAN networks halve the size down to 4x4, so it must be "
            f"a power of two >= {smallest} (e.g. 16, 32, 64, 128). Resize the data with --data.init_args.image_size."
        )
    return int(math.log2(image_size))


class DCGANGenerator(nn.Module):
    """z -> 4x4 projection -> transposed-conv blocks (BN + ReLU) doubling the size -> tanh image.

    ``features`` is the width of the last hidden block; widths double towards the input, so a 64x64
    generator with features=64 has 512-256-128-64 channels, as in the authors' code.
    """

    def __init__(self, latent_dim: int, channels: int, image_size: int, features: int) -> None:
        super().__init__()
        blocks = check_power_of_two(image_size) - 2  # 4x4 -> image_size in this many doublings
        width = features * 2 ** (blocks - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        for _ in range(blocks - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        # No batch norm on the output layer (the paper: it caused sample oscillation).
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.size(0), -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Image -> strided-conv blocks (BN + LeakyReLU 0.2) down to 4x4 -> one logit per image.

    ``body`` maps images to the 4x4 feature map and ``head`` to the logit, so later variants can
    reuse the body (InfoGAN's Q head, feature matching, D as a feature extractor).
    """

    def __init__(self, channels: int, image_size: int, features: int) -> None:
        super().__init__()
        blocks = check_power_of_two(image_size) - 2
        # No batch norm on the input layer (the paper: it caused instability).
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        width = features
        for _ in range(blocks - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width *= 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 1, 4, 1, 0)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).view(x.size(0))


def dcgan_init(module: nn.Module) -> None:
    """The paper's initialisation: conv weights from N(0, 0.02), batch-norm scales from N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
