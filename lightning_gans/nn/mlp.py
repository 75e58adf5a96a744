"""Fully connected networks of Goodfellow et al. 2014 (arXiv 1406.2661)."""

from __future__ import annotations

import math

import torch
from torch import nn


class MLPGenerator(nn.Module):
    """z -> ReLU hidden layers -> tanh image of shape (channels, image_size, image_size)."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.image_shape = (channels, image_size, image_size)
        layers: list[nn.Module] = []
        width = latent_dim
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU(inplace=True)]
            width = units
        layers += [nn.Linear(width, math.prod(self.image_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.size(0), *self.image_shape)


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al. 2013): the max over ``pieces`` linear maps."""

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.size(0), self.units, self.pieces).amax(dim=2)


class MLPDiscriminator(nn.Module):
    """Image -> maxout hidden layers -> one logit per image, with dropout on every layer's input: ``input_dropout``
    on the pixels, ``dropout`` on the hidden units (the authors' MNIST model: 0.2 and 0.5)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        hidden: tuple[int, ...],
        pieces: int,
        dropout: float,
        input_dropout: float,
    ) -> None:
        super().__init__()
        for name, rate in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} (the share of units dropped) must lie in [0, 1), e.g. 0.5; got {rate}")
        layers: list[nn.Module] = [nn.Flatten()]
        width, rate = channels * image_size * image_size, input_dropout  # the pixels, then the hidden units
        for units in hidden:
            layers += [nn.Dropout(rate), Maxout(width, units, pieces)]
            width, rate = units, dropout
        layers += [nn.Dropout(rate), nn.Linear(width, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
