"""InfoGAN's recognition network Q (Chen et al. 2016, arXiv 1606.03657)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class InfoGANQHead(nn.Module):
    """D's body features -> Q(c | x): logits of each categorical code and the mean of each continuous one.

    As in the paper's MNIST network, Q is one hidden layer (batch norm, LeakyReLU 0.2) on top of the layers
    it shares with D. With ``learn_std`` it also gives the log standard deviation of each continuous code (a
    factored Gaussian with learned variance); without it the standard deviation is fixed to 1, as in the
    authors' code, and the log-likelihood of a continuous code is a squared error.

    ``forward`` returns ``(categorical_logits, continuous_means, continuous_log_stds)``: a list of
    (batch, values) tensors, one per categorical code, a (batch, continuous_codes) tensor, and the same
    for the log standard deviations or None.
    """

    def __init__(
        self,
        in_features: int,
        categorical_codes: tuple[int, ...],
        continuous_codes: int,
        hidden: int = 128,
        learn_std: bool = False,
    ) -> None:
        super().__init__()
        self.categorical_codes = tuple(categorical_codes)
        self.continuous_codes = continuous_codes
        self.learn_std = learn_std
        outputs = sum(self.categorical_codes) + continuous_codes * (2 if learn_std else 1)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, outputs),
        )

    def forward(self, features: Tensor) -> tuple[list[Tensor], Tensor, Tensor | None]:
        sizes = [*self.categorical_codes, self.continuous_codes] + ([self.continuous_codes] if self.learn_std else [])
        parts = torch.split(self.net(features), sizes, dim=1)
        count = len(self.categorical_codes)
        log_stds = parts[count + 1] if self.learn_std else None
        return list(parts[:count]), parts[count], log_stds
