"""Class-conditional DCGAN networks (Mirza & Osindero 2014, arXiv 1411.1784, on Radford et al.'s convolutions).

The label enters both networks through a learned embedding (ganhacks: embed discrete conditions): G reads it
beside z, D reads it as one extra image-sized channel beside the image.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from lightning_gans.nn.dcgan import DCGANDiscriminator, DCGANGenerator


class ConditionalDCGANGenerator(nn.Module):
    """(z, label) -> image: the label's embedding concatenated to z, then a DCGAN generator.

    ``upsample`` and ``dropout`` are DCGANGenerator's (ganhacks' alternatives, off by default).
    """

    def __init__(
        self,
        latent_dim: int,
        num_classes: int,
        embedding_dim: int,
        channels: int,
        image_size: int,
        features: int,
        *,
        upsample: Literal["transposed", "pixel_shuffle", "resize"] = "transposed",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, embedding_dim)
        self.net = DCGANGenerator(
            latent_dim + embedding_dim, channels, image_size, features, upsample=upsample, dropout=dropout
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z.flatten(1), self.embedding(labels)], dim=1))


class ConditionalDCGANDiscriminator(nn.Module):
    """(image, label) -> one logit: the label's embedding, mapped linearly to an image-sized plane, is stacked
    on the image as one more channel before a DCGAN discriminator."""

    def __init__(self, channels: int, image_size: int, features: int, num_classes: int, embedding_dim: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.embedding = nn.Embedding(num_classes, embedding_dim)
        self.label_plane = nn.Linear(embedding_dim, image_size * image_size)
        self.net = DCGANDiscriminator(channels + 1, image_size, features)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        plane = self.label_plane(self.embedding(labels)).view(-1, 1, self.image_size, self.image_size)
        return self.net(torch.cat([images, plane], dim=1))
