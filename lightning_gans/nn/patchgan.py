"""The PatchGAN discriminator of Isola et al. 2017 (arXiv 1611.07004), also CycleGAN's (arXiv 1703.10593)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Norm = Literal["batch", "instance"]


def norm_layer(norm: Norm, width: int) -> nn.Module:
    """Batch norm, or instance norm without affine parameters or running statistics (the authors' choice)."""
    if norm == "batch":
        return nn.BatchNorm2d(width)
    if norm == "instance":
        return nn.InstanceNorm2d(width)
    raise ValueError(f"norm must be 'batch' or 'instance', got {norm!r}")


def patchgan_receptive_field(layers: int) -> int:
    """Side of the input patch that each of a PatchGAN's output scores sees: 70 for 3 layers."""
    # From the output back: two 4x4 stride-1 convolutions, then `layers` 4x4 stride-2 ones.
    field = 1
    for stride in [1, 1] + [2] * layers:
        field = (field - 1) * stride + 4
    return field


class PatchGANDiscriminator(nn.Module):
    """Image -> a grid of real/fake scores, each judging one overlapping patch (70x70 with ``layers=3``).

    C64-C128-C256-C512 in the paper's notation for ``features=64, layers=3``: ``layers`` 4x4 stride-2
    convolutions doubling the width (no norm on the first), one 4x4 stride-1 convolution, then a 4x4
    stride-1 convolution to one score per patch. LeakyReLU(0.2) throughout. Scores are raw (logits for
    BCE, scores for least squares). As in the authors' code, convolutions have a bias only where instance
    norm (or no norm) follows.
    """

    def __init__(self, in_channels: int, image_size: int, features: int, layers: int, norm: Norm) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"a PatchGAN needs at least 1 strided layer, got layers={layers}")
        smallest = 3 * 2**layers  # the two stride-1 4x4 convolutions each take one pixel off
        if image_size < smallest:
            raise ValueError(
                f"image_size={image_size} is too small for a PatchGAN with {layers} strided layers (it halves the "
                f"image {layers} times, then needs 3x3 left): use images of at least {smallest} pixels or fewer "
                "discriminator layers (--model.init_args.discriminator_layers)."
            )
        bias = norm == "instance"
        layer_list: list[nn.Module] = [nn.Conv2d(in_channels, features, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        width = features
        for index in range(1, layers + 1):
            stride = 2 if index < layers else 1
            wider = features * min(2**index, 8)
            layer_list += [
                nn.Conv2d(width, wider, 4, stride, 1, bias=bias),
                norm_layer(norm, wider),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width = wider
        layer_list.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.net = nn.Sequential(*layer_list)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
