"""The growing networks of ProGAN, Karras et al. 2017 (arXiv 1710.10196), table 2.

Both networks hold every resolution's layers from the start (so optimizers and checkpoints see one
fixed set of parameters) and run the first ``level + 1`` of them: level 0 is 4x4, each level doubles
the resolution. While a level fades in, its block is blended with the previous level's output by
``alpha`` (section 3, figure 2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: The resolution of level 0.
BASE_RESOLUTION = 4
LEAKY_SLOPE = 0.2


def final_level(image_size: int) -> int:
    """The level whose resolution is ``image_size`` (0 for 4x4)."""
    if image_size < BASE_RESOLUTION or image_size & (image_size - 1):
        raise ValueError(
            f"image_size={image_size} is not supported: ProGAN grows from 4x4 by doubling, so it must be a "
            "power of two >= 4 (e.g. 64, 128, 256, 1024). Resize the data with --data.init_args.image_size."
        )
    return int(math.log2(image_size // BASE_RESOLUTION))


def resolution(level: int) -> int:
    return BASE_RESOLUTION * 2**level


def feature_count(size: int, feature_base: int, feature_max: int) -> int:
    """Channels at a resolution: feature_base / size, at most feature_max (the paper: 512 up to 32x32, then halving)."""
    return max(1, min(feature_base // size, feature_max))


class EqualizedConv2d(nn.Module):
    """A "same" convolution with the paper's equalized learning rate (section 4.1).

    Weights are drawn from N(0, 1) and multiplied at run time by He's constant gain / sqrt(fan_in), so
    Adam's scale-free steps change every layer's effective weights at the same relative speed.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.size(-1) // 2)


class EqualizedLinear(nn.Module):
    """A fully connected layer with the equalized learning rate (see :class:`EqualizedConv2d`)."""

    def __init__(self, in_features: int, out_features: int, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Each pixel's feature vector scaled to unit mean square (section 4.2), which keeps G's signal
    magnitudes from escalating."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStdDev(nn.Module):
    """Appends one feature map: the standard deviation of each feature over a group of samples, averaged
    over features and pixels (section 3), so D can see how varied a batch is.

    Samples i, i + M, i + 2M, ... of a batch of N = group_size * M form a group, as in the authors'
    code; a batch smaller than ``group_size`` is one group.
    """

    def __init__(self, group_size: int) -> None:
        super().__init__()
        if group_size < 2:
            raise ValueError(f"the minibatch standard deviation needs groups of at least 2 samples, got {group_size}")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = min(self.group_size, n)
        if n % group:
            raise ValueError(
                f"a batch of {n} images cannot be split into groups of {group} for the minibatch standard "
                "deviation; use batch sizes that are multiples of the group size (mbstd_group_size)."
            )
        grouped = x.float().view(group, n // group, c, h, w)
        std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # one value per group
        return torch.cat([x, std.to(x.dtype).view(-1, 1, 1, 1).repeat(group, 1, h, w)], dim=1)


def conv_lrelu(in_channels: int, out_channels: int, kernel_size: int = 3) -> list[nn.Module]:
    return [EqualizedConv2d(in_channels, out_channels, kernel_size), nn.LeakyReLU(LEAKY_SLOPE)]


def check_growth(level: int, alpha: float, final: int) -> None:
    if not 0 <= level <= final:
        raise ValueError(f"level must lie in [0, {final}] (4x4 to the full size), got {level}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha (the fade-in weight of the newest level) must lie in [0, 1], got {alpha}")


class ProGANGenerator(nn.Module):
    """z -> pixel norm -> 4x4 (dense, conv3x3) -> per level [upsample x2, conv3x3, conv3x3] -> 1x1 toRGB.

    Every convolution is followed by LeakyReLU(0.2) and pixel norm; the output is linear (unbounded).
    ``forward(z, level, alpha)`` returns images at ``resolution(level)``: while a level fades in, its
    toRGB output is blended with the previous level's, upsampled by nearest neighbour.
    """

    def __init__(self, latent_dim: int, channels: int, image_size: int, feature_base: int, feature_max: int) -> None:
        super().__init__()
        self.final_level = final_level(image_size)
        widths = [feature_count(resolution(level), feature_base, feature_max) for level in range(self.final_level + 1)]
        self.start = nn.Sequential(
            PixelNorm(),  # z on the unit hypersphere (scaled)
            # The authors' gain for this dense layer, which stands for a 4x4 convolution of a 1x1 input.
            EqualizedLinear(latent_dim, widths[0] * 16, gain=math.sqrt(2) / 4),
            nn.Unflatten(1, (widths[0], BASE_RESOLUTION, BASE_RESOLUTION)),
            nn.LeakyReLU(LEAKY_SLOPE),
            PixelNorm(),
            *conv_lrelu(widths[0], widths[0]),
            PixelNorm(),
        )
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                *conv_lrelu(widths[level - 1], widths[level]),
                PixelNorm(),
                *conv_lrelu(widths[level], widths[level]),
                PixelNorm(),
            )
            for level in range(1, self.final_level + 1)
        )
        self.to_rgb = nn.ModuleList(EqualizedConv2d(width, channels, 1, gain=1.0) for width in widths)

    def forward(self, z: torch.Tensor, level: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        level = self.final_level if level is None else level
        check_growth(level, alpha, self.final_level)
        x = self.start(z)
        if level == 0:
            return self.to_rgb[0](x)
        for block in self.blocks[: level - 1]:
            x = block(x)
        new = self.to_rgb[level](self.blocks[level - 1](x))
        if alpha == 1.0:
            return new
        old = F.interpolate(self.to_rgb[level - 1](x), scale_factor=2, mode="nearest")
        return torch.lerp(old, new, alpha)


class ProGANDiscriminator(nn.Module):
    """Image -> 1x1 fromRGB -> per level [conv3x3, conv3x3, 2x2 average pool] -> minibatch stddev ->
    conv3x3 -> dense -> dense -> one score per image. LeakyReLU(0.2) throughout, no normalisation.

    The input's size sets the level; while that level fades in, its block's output is blended with the
    previous level's fromRGB of the average-pooled input.
    """

    def __init__(
        self, channels: int, image_size: int, feature_base: int, feature_max: int, mbstd_group_size: int
    ) -> None:
        super().__init__()
        self.final_level = final_level(image_size)
        widths = [feature_count(resolution(level), feature_base, feature_max) for level in range(self.final_level + 1)]
        self.from_rgb = nn.ModuleList(nn.Sequential(*conv_lrelu(channels, width, 1)) for width in widths)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                *conv_lrelu(widths[level], widths[level]),
                *conv_lrelu(widths[level], widths[level - 1]),
                nn.AvgPool2d(2),
            )
            for level in range(1, self.final_level + 1)
        )
        self.end = nn.Sequential(
            MinibatchStdDev(mbstd_group_size),
            *conv_lrelu(widths[0] + 1, widths[0]),
            nn.Flatten(),
            EqualizedLinear(widths[0] * 16, widths[0]),
            nn.LeakyReLU(LEAKY_SLOPE),
            EqualizedLinear(widths[0], 1, gain=1.0),
        )

    def forward(self, x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        level = final_level(x.size(-1))
        if x.size(-2) != x.size(-1) or level > self.final_level:
            raise ValueError(
                f"the discriminator takes square images of 4x4 up to {resolution(self.final_level)}, got "
                f"{tuple(x.shape[-2:])}"
            )
        check_growth(level, alpha, self.final_level)
        h = self.from_rgb[level](x)
        if level > 0:
            h = self.blocks[level - 1](h)
            if alpha < 1.0:
                h = torch.lerp(self.from_rgb[level - 1](F.avg_pool2d(x, 2)), h, alpha)
            for block in reversed(self.blocks[: level - 1]):
                h = block(h)
        return self.end(h).view(x.size(0))


def real_images_at(images: torch.Tensor, size: int, alpha: float = 1.0) -> torch.Tensor:
    """Full-size real images as the networks see them at ``size``: box-filtered down (means of pixel
    blocks, as the authors' multi-resolution dataset) and, while that size fades in, blended with the
    previous size upsampled by nearest neighbour, exactly as G's output is (section 3, appendix A.1).
    """
    if images.size(-1) % size or images.size(-1) < size:
        raise ValueError(f"cannot box-filter {images.size(-1)}x{images.size(-1)} images down to {size}x{size}")
    if images.size(-1) > size:
        images = F.avg_pool2d(images, images.size(-1) // size)
    if alpha < 1.0:
        coarser = F.interpolate(F.avg_pool2d(images, 2), scale_factor=2, mode="nearest")
        images = torch.lerp(coarser, images, alpha)
    return images
