"""CycleGAN's ResNet generator (Zhu et al. 2017, arXiv 1703.10593, after Johnson et al. 2016, arXiv 1603.08155)."""

from __future__ import annotations

import torch
from torch import nn


def check_resnet_image_size(image_size: int) -> None:
    # Residual blocks reflection-pad by one pixel, which needs at least 2x2 after the two halvings.
    if image_size < 8 or image_size % 4:
        raise ValueError(
            f"image_size={image_size} is not supported: the ResNet generator halves the image twice and doubles "
            "it back, so the size must be a multiple of 4 and at least 8 (e.g. 32, 128, 256). Resize the data "
            "with --data.init_args.image_size."
        )


class ResidualBlock(nn.Module):
    """x + (reflection pad, 3x3 conv, instance norm, ReLU, reflection pad, 3x3 conv, instance norm)(x)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3),
            nn.InstanceNorm2d(width),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3),
            nn.InstanceNorm2d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Image -> image of the same shape: c7s1-64, d128, d256, ``residual_blocks`` x R256, u128, u64, c7s1-3.

    In the paper's notation for ``features=64``: a 7x7 convolution, two stride-2 3x3 convolutions
    downsampling, residual blocks at a quarter of the resolution, two stride-2 transposed convolutions
    upsampling, a 7x7 convolution to the output with tanh. Instance norm and ReLU after every convolution
    but the last; reflection padding to reduce edge artefacts. The paper uses 9 blocks for 256x256 images
    and 6 for 128x128.
    """

    def __init__(self, channels: int, image_size: int, features: int, residual_blocks: int) -> None:
        super().__init__()
        check_resnet_image_size(image_size)
        if residual_blocks < 0:
            raise ValueError(f"residual_blocks must be >= 0, got {residual_blocks}")
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(channels, features, 7),
            nn.InstanceNorm2d(features),
            nn.ReLU(inplace=True),
        ]
        width = features
        for _ in range(2):
            layers += [nn.Conv2d(width, width * 2, 3, 2, 1), nn.InstanceNorm2d(width * 2), nn.ReLU(inplace=True)]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(residual_blocks)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1),
                nn.InstanceNorm2d(width // 2),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
