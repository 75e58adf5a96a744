"""The deep convolutional networks of Radford et al. 2015 (arXiv 1511.06434)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

#: A normalisation layer for a given number of channels, e.g. ``nn.BatchNorm2d``.
NormLayer = Callable[[int], nn.Module]

UPSAMPLING = ("transposed", "pixel_shuffle", "resize")


def check_power_of_two(image_size: int, smallest: int = 16) -> int:
    """Return log2(image_size), or raise if the size is not a power of two >= ``smallest``."""
    if image_size < smallest or image_size & (image_size - 1):
        raise ValueError(
            f"image_size={image_size} is not supported: DCGAN networks halve the size down to 4x4, so it must be "
            f"a power of two >= {smallest} (e.g. 16, 32, 64, 128). Resize the data with --data.init_args.image_size."
        )
    return int(math.log2(image_size))


def upsampling_layers(
    in_channels: int, out_channels: int, mode: Literal["transposed", "pixel_shuffle", "resize"], bias: bool
) -> list[nn.Module]:
    """Layers that double height and width: the paper's transposed convolution, or one of the two
    alternatives that avoid its checkerboard artefacts (ganhacks' advice)."""
    if mode == "transposed":
        return [nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=bias)]
    if mode == "pixel_shuffle":  # Shi et al. 2016: convolve to 4x the channels, rearrange them into 2x2 blocks
        return [nn.Conv2d(in_channels, out_channels * 4, 3, 1, 1, bias=bias), nn.PixelShuffle(2)]
    if mode == "resize":  # Odena et al. 2016: nearest-neighbour resize, then a convolution
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=bias)]
    raise ValueError(f"upsample (the generator's upsampling layer) must be one of {UPSAMPLING}, got {mode!r}")


class DCGANGenerator(nn.Module):
    """z -> 4x4 projection -> upsampling blocks (BN + ReLU) doubling the size -> tanh image.

    ``features`` is the width of the last hidden block; widths double towards the input, so a 64x64
    generator with features=64 has 512-256-128-64 channels, as in the authors' code.

    Off the paper, for ganhacks and Improved GAN: ``upsample`` swaps the transposed convolutions for
    pixel shuffle or resize-convolution, ``dropout`` > 0 adds dropout after every hidden block, and
    ``norm_layer`` replaces batch norm (e.g. by virtual batch norm).
    """

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        features: int,
        *,
        upsample: Literal["transposed", "pixel_shuffle", "resize"] = "transposed",
        dropout: float = 0.0,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"the generator's dropout probability must lie in [0, 1), got {dropout}")
        blocks = check_power_of_two(image_size) - 2  # 4x4 -> image_size in this many doublings
        width = features * 2 ** (blocks - 1)

        def normalise_and_activate(block_width: int) -> list[nn.Module]:
            return [norm_layer(block_width), nn.ReLU(inplace=True)] + ([nn.Dropout(dropout)] if dropout > 0 else [])

        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
            *normalise_and_activate(width),
        ]
        for _ in range(blocks - 1):
            layers += [*upsampling_layers(width, width // 2, upsample, bias=False), *normalise_and_activate(width // 2)]
            width //= 2
        # No batch norm on the output layer (the paper: it caused sample oscillation).
        layers += [*upsampling_layers(width, channels, upsample, bias=True), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.size(0), -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Image -> strided-conv blocks (BN + LeakyReLU 0.2) down to 4x4 -> one logit per image.

    ``body`` maps images to the 4x4 feature map and ``head`` to the logit, so later variants can
    reuse the body (InfoGAN's Q head, feature matching, D as a feature extractor) or replace the head
    (minibatch discrimination). ``norm_layer`` replaces batch norm, or with None drops it (WGAN-GP's
    critic); the convolutions then get biases.
    """

    def __init__(
        self, channels: int, image_size: int, features: int, *, norm_layer: NormLayer | None = nn.BatchNorm2d
    ) -> None:
        super().__init__()
        blocks = check_power_of_two(image_size) - 2
        # No batch norm on the input layer (the paper: it caused instability).
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        width = features
        for _ in range(blocks - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm_layer is None)]
            layers += [norm_layer(width * 2)] if norm_layer is not None else []
            layers += [nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 1, 4, 1, 0)
        self.out_features = width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The body's 4x4 feature maps, flattened: (batch, out_features * 16)."""
        return self.body(x).flatten(1)

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """D as a feature extractor (the paper's section 5.1): the output of every convolutional block of the
        body (after its activation), each max-pooled to 4x4, flattened and concatenated:
        (batch, 16 * sum of the blocks' widths). Call it in eval mode, so batch norm uses its running statistics.
        """
        pooled = []
        for layer in self.body:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                pooled.append(nn.functional.adaptive_max_pool2d(x, 4).flatten(1))
        return torch.cat(pooled, dim=1)

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
