"""The history of generated images that CycleGAN's discriminators learn from (Shrivastava et al. 2017)."""

from __future__ import annotations

import torch
from torch import nn


class ImagePool(nn.Module):
    """Up to ``size`` earlier generated images, kept in buffers so that checkpoints hold them.

    ``pool(images)`` returns a batch for the discriminator: while the pool fills, each image is stored and
    returned as is; once it is full, each image is, with probability 1/2, swapped for a random stored one
    (which is returned, the new one stored in its place) and otherwise returned as is. ``size=0`` returns
    the images unchanged. The draws come from torch's random stream, which checkpoints save.
    """

    def __init__(self, size: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        if size < 0:
            raise ValueError(f"the image pool size must be >= 0 (0 for no pool), got {size}")
        self.size = size
        self.register_buffer("images", torch.zeros(size, *image_shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images.detach()
        returned = []
        for image in images.detach():
            filled = int(self.count)
            if filled < self.size:
                self.images[filled] = image
                self.count += 1
                returned.append(image)
            elif torch.rand(()) < 0.5:
                index = int(torch.randint(self.size, ()))
                returned.append(self.images[index].clone().to(image.dtype))
                self.images[index] = image
            else:
                returned.append(image)
        return torch.stack(returned)
