"""Sliced Wasserstein distance between Laplacian pyramids: ProGAN's metric (Karras et al. 2017, arXiv 1710.10196,
section 5 and appendix D).

Each image is split into a Laplacian pyramid from its full size down to 16x16. From every level, random 7x7
neighbourhoods are taken as descriptors (7 x 7 x channels numbers); each set of descriptors is normalised per
channel to zero mean and unit variance, and the real and generated sets are compared, level by level, by the
sliced Wasserstein distance: the mean over random unit directions of the 1-D Wasserstein-1 distance between
the two sets' projections. Fine levels measure sharpness and detail, the 16x16 level large-scale structure.
The paper's settings are the defaults: 128 descriptors per image, 512 directions (4 repeats of 128 in the
authors' code), 16384 images per side; distances are reported multiplied by 1000, as in the paper's tables.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

#: The 5-tap binomial kernel of cv2.pyrDown / pyrUp, as an outer product.
BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
#: The coarsest pyramid level.
SMALLEST_LEVEL = 16
#: Directions projected at once; bounds the memory of the projections.
DIRECTION_CHUNK = 128


def _blur(images: Tensor, gain: float) -> Tensor:
    kernel = (torch.outer(BINOMIAL, BINOMIAL) * gain).to(images)
    channels = images.size(1)
    # "reflect" mirrors without repeating the edge pixel, as scipy's mode="mirror" and OpenCV's default border.
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    return F.conv2d(padded, kernel.expand(channels, 1, 5, 5), groups=channels)


def pyramid_down(images: Tensor) -> Tensor:
    """Blur with the 5x5 binomial kernel, keep every other row and column (cv2.pyrDown)."""
    return _blur(images, 1.0)[..., ::2, ::2]


def pyramid_up(images: Tensor) -> Tensor:
    """Insert zeros between rows and columns, blur with 4x the binomial kernel (cv2.pyrUp)."""
    n, c, h, w = images.shape
    spread = images.new_zeros(n, c, 2 * h, 2 * w)
    spread[..., ::2, ::2] = images
    return _blur(spread, 4.0)


def laplacian_pyramid(images: Tensor, levels: int) -> list[Tensor]:
    """``levels`` bands from full size down: each the difference between a Gaussian level and the next one
    upsampled, and last the coarsest Gaussian level itself, so that the bands sum back to the images."""
    pyramid = [images.float()]
    for _ in range(levels - 1):
        pyramid.append(pyramid_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyramid_up(pyramid[-1])
    return pyramid


def neighbourhoods(images: Tensor, count: int, size: int, generator: torch.Generator) -> Tensor:
    """``count`` random ``size`` x ``size`` neighbourhoods per image, uniformly over all positions inside it:
    (images * count, channels * size * size)."""
    n, c, h, w = images.shape
    top = torch.randint(0, h - size + 1, (n, count, 1, 1, 1), generator=generator).to(images.device)
    left = torch.randint(0, w - size + 1, (n, count, 1, 1, 1), generator=generator).to(images.device)
    offsets = torch.arange(size, device=images.device)
    rows = top + offsets.view(1, 1, 1, size, 1)
    cols = left + offsets.view(1, 1, 1, 1, size)
    image = torch.arange(n, device=images.device).view(n, 1, 1, 1, 1)
    channel = torch.arange(c, device=images.device).view(1, 1, c, 1, 1)
    return images[image, channel, rows, cols].reshape(n * count, c * size * size)


def normalise_per_channel(descriptors: Tensor, channels: int) -> Tensor:
    """Zero mean and unit standard deviation per channel, over all descriptors and neighbourhood pixels."""
    grouped = descriptors.view(descriptors.size(0), channels, -1)
    mean = grouped.mean(dim=(0, 2), keepdim=True)
    std = grouped.std(dim=(0, 2), keepdim=True, unbiased=False)
    return ((grouped - mean) / std).view_as(descriptors)


def sliced_wasserstein(a: Tensor, b: Tensor, directions: Tensor) -> Tensor:
    """Mean over the columns of ``directions`` (unit vectors) of the Wasserstein-1 distance between the
    projections of the equally many rows of ``a`` and ``b``: the mean gap between their sorted values."""
    if a.shape != b.shape:
        raise ValueError(
            f"sliced_wasserstein compares sets of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    distances = [
        (torch.sort(a @ chunk, dim=0).values - torch.sort(b @ chunk, dim=0).values).abs().mean(dim=0)
        for chunk in directions.split(DIRECTION_CHUNK, dim=1)
    ]
    return torch.cat(distances).mean()


class SlicedWassersteinDistance(Metric):
    """ProGAN's SWD between real and generated images, per Laplacian pyramid level (times 1000).

    ``update(images, real=True)`` for real and ``update(images, real=False)`` for generated images, any
    range (each descriptor set is normalised); both sides need the same number of images. ``compute()``
    returns ``{"swd_<size>": ..., "swd_mean": ...}`` for every level from ``image_size`` down to 16.
    The descriptors are kept until ``compute``: images x ``patches_per_image`` x levels x channels x 49
    floats per side (about 1.5 GB per side for the paper's 16384 images at 64x64; pass
    ``compute_on_cpu=True`` to keep them in host memory). Patch positions and directions come from
    generators seeded with ``seed``, so the global random stream is not touched.
    """

    higher_is_better = False
    is_differentiable = False
    full_state_update = False

    def __init__(
        self,
        image_size: int,
        patches_per_image: int = 128,
        patch_size: int = 7,
        directions: int = 512,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if image_size < SMALLEST_LEVEL or image_size & (image_size - 1):
            raise ValueError(
                f"image_size={image_size}: the SWD's Laplacian pyramid halves images down to {SMALLEST_LEVEL}x"
                f"{SMALLEST_LEVEL}, so it must be a power of two >= {SMALLEST_LEVEL}"
            )
        if not 1 <= patch_size <= SMALLEST_LEVEL or patches_per_image < 1 or directions < 1:
            raise ValueError(
                f"patch_size must lie in [1, {SMALLEST_LEVEL}] and patches_per_image and directions must be >= 1, "
                f"got {patch_size}, {patches_per_image} and {directions}"
            )
        self.image_size, self.patch_size = image_size, patch_size
        self.patches_per_image, self.directions, self.seed = patches_per_image, directions, seed
        self.sizes = [image_size >> level for level in range((image_size // SMALLEST_LEVEL).bit_length())]
        self.patch_generator = torch.Generator().manual_seed(seed)
        self.add_state("real_descriptors", default=[], dist_reduce_fx="cat")
        self.add_state("fake_descriptors", default=[], dist_reduce_fx="cat")

    def update(self, images: Tensor, real: bool) -> None:
        if images.dim() != 4 or images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"SlicedWassersteinDistance was built for images of {self.image_size}x{self.image_size} as "
                f"(batch, channels, height, width), got {tuple(images.shape)}"
            )
        levels = laplacian_pyramid(images, len(self.sizes))
        descriptors = [
            neighbourhoods(level, self.patches_per_image, self.patch_size, self.patch_generator) for level in levels
        ]
        (self.real_descriptors if real else self.fake_descriptors).append(torch.stack(descriptors, dim=1))

    def reset(self) -> None:
        super().reset()
        self.patch_generator.manual_seed(self.seed)  # the same patch positions after every reset

    def compute(self) -> dict[str, Tensor]:
        if not self.real_descriptors or not self.fake_descriptors:
            raise ValueError("SlicedWassersteinDistance needs both real and generated images: call update() with both")
        real, fake = dim_zero_cat(self.real_descriptors), dim_zero_cat(self.fake_descriptors)
        if real.shape != fake.shape:
            raise ValueError(
                f"SlicedWassersteinDistance compares equally many real and generated images with the same channels; "
                f"got {len(real) // self.patches_per_image} real and {len(fake) // self.patches_per_image} generated "
                f"images ({tuple(real.shape)} vs {tuple(fake.shape)} descriptors)"
            )
        channels = real.size(-1) // self.patch_size**2
        generator = torch.Generator().manual_seed(self.seed)
        result = {}
        for index, size in enumerate(self.sizes):
            directions = torch.randn(real.size(-1), self.directions, generator=generator).to(real)
            directions = directions / directions.norm(dim=0, keepdim=True)
            a = normalise_per_channel(real[:, index], channels)
            b = normalise_per_channel(fake[:, index], channels)
            result[f"swd_{size}"] = sliced_wasserstein(a, b, directions) * 1e3
        result["swd_mean"] = torch.stack(list(result.values())).mean()
        return result
