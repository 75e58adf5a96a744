"""The residual networks of WGAN-GP's CIFAR-10 experiments: Gulrajani et al. 2017 (arXiv 1704.00028), appendix F,
with the details the appendix leaves to the authors' code (``gan_cifar_resnet.py``).

Facts, for 32x32 images and width ``features`` (128 in the paper, for both networks):

- Blocks are pre-activation residual blocks with two 3x3 convolutions: normalise, ReLU, conv, normalise, ReLU, conv.
- Generator: z (128) -> linear to features x 4 x 4 -> 3 up-blocks (4 -> 8 -> 16 -> 32) -> batch norm, ReLU,
  3x3 conv to the image channels, tanh. An up-block upsamples by nearest neighbour before its first convolution;
  its shortcut is nearest upsampling followed by a 1x1 convolution. Batch norm in every block.
- Critic: an "optimized" first block (conv 3x3, ReLU, conv 3x3, 2x2 mean pool; shortcut: mean pool, then 1x1
  conv; no activation before its first conv, since its input is the image), a down-block (ReLU, conv, ReLU, conv,
  mean pool; shortcut: 1x1 conv, then mean pool), two blocks without resampling (identity shortcuts), then ReLU,
  global mean pool and a linear layer to one score. 32 -> 16 -> 8 -> 8 -> 8. No batch norm (the gradient penalty
  is per sample); ``norm_layer`` (e.g. layer norm) goes before each ReLU of the non-first blocks, where the
  authors' code puts its optional critic normalisation.
- Every convolution and linear layer has a bias. Initialisation as the authors' code: uniform weights with
  variance 4 / (fan_in + fan_out) for the blocks' 3x3 convolutions, 2 / (fan_in + fan_out) (Glorot) for the
  shortcuts, the generator's output convolution and the linear layers; zero biases; batch norm scale 1, shift 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lightning_gans.nn.dcgan import NormLayer

#: The only image size the paper's CIFAR-10 ResNet is defined for.
IMAGE_SIZE = 32


def check_image_size(image_size: int) -> None:
    if image_size != IMAGE_SIZE:
        raise ValueError(
            f"image_size={image_size} is not supported by WGAN-GP's CIFAR-10 ResNet, which the paper defines for "
            f"{IMAGE_SIZE}x{IMAGE_SIZE} images only. Resize the data to {IMAGE_SIZE} (--data.init_args.image_size "
            f"{IMAGE_SIZE}) or use architecture='dcgan', which takes any power of two."
        )


def authors_conv(in_channels: int, out_channels: int, kernel_size: int, *, he_gain: bool) -> nn.Conv2d:
    """A "same"-padded convolution initialised as in the authors' code (``he_gain``: variance 4 / (fan_in +
    fan_out), else Glorot's 2 / (fan_in + fan_out))."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    nn.init.xavier_uniform_(conv.weight, gain=math.sqrt(2.0) if he_gain else 1.0)
    nn.init.zeros_(conv.bias)
    return conv


def glorot_linear(in_features: int, out_features: int) -> nn.Linear:
    linear = nn.Linear(in_features, out_features)
    nn.init.xavier_uniform_(linear.weight)
    nn.init.zeros_(linear.bias)
    return linear


class ResidualUpBlock(nn.Module):
    """BN, ReLU, 2x nearest upsampling, 3x3 conv, BN, ReLU, 3x3 conv; shortcut: upsampling, 1x1 conv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            authors_conv(in_channels, out_channels, 3, he_gain=True),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            authors_conv(out_channels, out_channels, 3, he_gain=True),
        )
        self.shortcut = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), authors_conv(in_channels, out_channels, 1, he_gain=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.residual(x)


class OptimizedDownBlock(nn.Module):
    """The critic's first block: 3x3 conv, ReLU, 3x3 conv, 2x2 mean pool; shortcut: mean pool, 1x1 conv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            authors_conv(in_channels, out_channels, 3, he_gain=True),
            nn.ReLU(),
            authors_conv(out_channels, out_channels, 3, he_gain=True),
            nn.AvgPool2d(2),
        )
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), authors_conv(in_channels, out_channels, 1, he_gain=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.residual(x)


class ResidualDownBlock(nn.Module):
    """[norm], ReLU, 3x3 conv, [norm], ReLU, 3x3 conv, and with ``downsample`` a 2x2 mean pool. The shortcut is the
    identity when nothing changes shape, else a 1x1 conv (followed by the mean pool when downsampling)."""

    def __init__(
        self, in_channels: int, out_channels: int, *, downsample: bool, norm_layer: NormLayer | None = None
    ) -> None:
        super().__init__()
        # As in the authors' code: a downsampling block widens in its second convolution, the others in the first.
        middle = in_channels if downsample else out_channels

        def normalise(width: int) -> list[nn.Module]:
            return [norm_layer(width)] if norm_layer is not None else []

        self.residual = nn.Sequential(
            *normalise(in_channels),
            nn.ReLU(),
            authors_conv(in_channels, middle, 3, he_gain=True),
            *normalise(middle),
            nn.ReLU(),
            authors_conv(middle, out_channels, 3, he_gain=True),
            *([nn.AvgPool2d(2)] if downsample else []),
        )
        if in_channels == out_channels and not downsample:
            self.shortcut: nn.Module = nn.Identity()
        else:
            conv = authors_conv(in_channels, out_channels, 1, he_gain=False)
            self.shortcut = nn.Sequential(conv, nn.AvgPool2d(2)) if downsample else conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.residual(x)


class WGANGPResNetGenerator(nn.Module):
    """z -> linear to features x 4 x 4 -> 3 residual up-blocks -> BN, ReLU, 3x3 conv, tanh: (n, channels, 32, 32)."""

    def __init__(self, latent_dim: int = 128, channels: int = 3, image_size: int = 32, features: int = 128) -> None:
        super().__init__()
        check_image_size(image_size)
        self.features = features
        self.project = glorot_linear(latent_dim, features * 4 * 4)
        self.blocks = nn.Sequential(*(ResidualUpBlock(features, features) for _ in range(3)))
        self.output = nn.Sequential(
            nn.BatchNorm2d(features), nn.ReLU(), authors_conv(features, channels, 3, he_gain=False), nn.Tanh()
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z.flatten(1)).view(z.size(0), self.features, 4, 4)
        return self.output(self.blocks(x))


class WGANGPResNetCritic(nn.Module):
    """(n, channels, 32, 32) -> optimized down-block, down-block, 2 plain blocks -> ReLU, global mean pool,
    linear: one score per image, shape (n,)."""

    def __init__(
        self, channels: int = 3, image_size: int = 32, features: int = 128, *, norm_layer: NormLayer | None = None
    ) -> None:
        super().__init__()
        check_image_size(image_size)
        self.blocks = nn.Sequential(
            OptimizedDownBlock(channels, features),
            ResidualDownBlock(features, features, downsample=True, norm_layer=norm_layer),
            ResidualDownBlock(features, features, downsample=False, norm_layer=norm_layer),
            ResidualDownBlock(features, features, downsample=False, norm_layer=norm_layer),
            nn.ReLU(),
        )
        self.head = glorot_linear(features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x).mean(dim=(2, 3))).view(x.size(0))
