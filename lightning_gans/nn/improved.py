"""Network pieces of Salimans et al. 2016, "Improved Techniques for Training GANs" (arXiv 1606.03498)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

#: The authors' initialisation sets each minibatch kernel's mean L1 distance from a sample to its nearest neighbour
#: to this, on a batch of this many images (their first 500 training images).
INITIAL_NEAREST_NEIGHBOUR_DISTANCE = 2.0
INITIAL_REFERENCE_BATCH = 500


class MinibatchDiscrimination(nn.Module):
    """Section 3.2: lets D compare each sample with the rest of its batch, to spot a collapsed G.

    Features f(x_i) of size A are projected by a tensor T (A x B x C) to M_i (B x C); for each of the B
    kernels, o(x_i)_b = sum over the other samples j of exp(-||M_i,b - M_j,b||_1). The output is
    [f(x_i), o(x_i)], of size A + B. The sum leaves out j = i as the authors' code does (the paper's
    sum includes it, which only adds 1 to every feature).

    Initialisation: the authors' layer (``MinibatchLayer`` in their nn.py) draws T from N(0, 0.05), normalises each
    of its B x C columns to unit norm (weight normalisation, with a learned log-scale per column) and then, from a
    first batch of 500 real images, sets the scale so that each kernel's mean nearest-neighbour L1 distance is 2, and
    a per-kernel bias so that o starts at mean 0. Here T is drawn and normalised alike, then scaled by the factor
    that gives that distance of 2 to inputs of unit variance (rows M_i,b then are standard normal), computed once
    from a fixed private stream: no pass over data (which each DDP process would make on its own batch), so the
    layer keeps no initialisation state. T is then trained as it is, without the weight-norm parametrisation, and
    there is no bias (the linear layer after it has one).
    """

    def __init__(self, in_features: int, kernels: int, kernel_dim: int) -> None:
        super().__init__()
        if kernels < 1 or kernel_dim < 1:
            raise ValueError(
                f"minibatch discrimination needs kernels >= 1 and kernel_dim >= 1, got {kernels}, {kernel_dim}"
            )
        self.kernels, self.kernel_dim = kernels, kernel_dim
        theta = torch.empty(in_features, kernels * kernel_dim).normal_(0.0, 0.05)
        columns = theta / theta.norm(dim=0, keepdim=True)
        scale = INITIAL_NEAREST_NEIGHBOUR_DISTANCE / standard_normal_nearest_neighbour_distance(kernel_dim)
        self.weight = nn.Parameter(columns * scale)
        self.out_features = in_features + kernels

    def forward(self, features: Tensor) -> Tensor:
        rows = (features @ self.weight).view(features.size(0), self.kernels, self.kernel_dim).transpose(0, 1)
        l1_distances = torch.cdist(rows, rows, p=1)  # (kernels, batch, batch)
        closeness = torch.exp(-l1_distances).sum(2) - 1  # exp(0) = 1 is each sample with itself
        return torch.cat([features, closeness.t().to(features.dtype)], dim=1)


def mean_nearest_neighbour_distance(rows: Tensor) -> Tensor:
    """The mean, over the leading dimensions and the samples, of each sample's L1 distance to its nearest other
    sample, for rows of shape (..., samples, dimensions)."""
    distances = torch.cdist(rows, rows, p=1)
    distances.diagonal(dim1=-2, dim2=-1).fill_(math.inf)
    return distances.min(-1).values.mean()


def standard_normal_nearest_neighbour_distance(dimensions: int) -> float:
    """``mean_nearest_neighbour_distance`` of ``INITIAL_REFERENCE_BATCH`` standard normal points in this many
    dimensions, estimated from 16 such batches of a fixed stream (apart from the global one, which the weights are
    drawn from): within about 1%."""
    stream = torch.Generator().manual_seed(0)
    points = torch.randn(16, INITIAL_REFERENCE_BATCH, dimensions, generator=stream)
    return mean_nearest_neighbour_distance(points).item()


class VirtualBatchNorm2d(nn.Module):
    """Section 3.4: batch norm whose statistics come from a fixed reference batch, not the current one.

    The first ``reference_size`` samples of every input are the reference batch (``ReferenceBatchGenerator``
    puts them there): they are normalised with their own statistics, every other sample x with the
    statistics of the reference batch together with x itself (x weighted as one more sample). So a
    sample's output does not depend on the samples it is batched with, in training and in evaluation
    alike. The statistics are computed in float32, as batch norm is under mixed precision.
    """

    def __init__(self, num_features: int, reference_size: int, eps: float = 1e-5) -> None:
        super().__init__()
        if reference_size < 1:
            raise ValueError(f"virtual batch norm needs a reference batch of at least 1 sample, got {reference_size}")
        self.reference_size, self.eps = reference_size, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        if x.size(0) < self.reference_size:
            raise ValueError(
                f"VirtualBatchNorm2d expects the {self.reference_size} reference samples first in the batch, "
                f"got only {x.size(0)} samples; run the generator through ReferenceBatchGenerator"
            )
        values = x.float()
        reference, others = values[: self.reference_size], values[self.reference_size :]
        reference_mean = reference.mean((0, 2, 3), keepdim=True)
        reference_square = reference.pow(2).mean((0, 2, 3), keepdim=True)
        own_weight = 1 / (self.reference_size + 1)
        mean = torch.cat(
            [
                reference_mean.expand(self.reference_size, -1, -1, -1),
                torch.lerp(reference_mean, others.mean((2, 3), keepdim=True), own_weight),
            ]
        )
        square = torch.cat(
            [
                reference_square.expand(self.reference_size, -1, -1, -1),
                torch.lerp(reference_square, others.pow(2).mean((2, 3), keepdim=True), own_weight),
            ]
        )
        variance = (square - mean.pow(2)).clamp_min(0)  # E[x^2] - E[x]^2 can round below zero
        normalised = (values - mean) * torch.rsqrt(variance + self.eps)
        return (normalised * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)).to(x.dtype)


class ReferenceBatchGenerator(nn.Module):
    """Runs a generator with ``VirtualBatchNorm2d`` layers on [reference latents; z], returns z's images.

    The reference latents are a buffer: drawn once before training, fixed, and saved in checkpoints.
    """

    def __init__(self, generator: nn.Module, reference_latents: Tensor) -> None:
        super().__init__()
        sizes = {m.reference_size for m in generator.modules() if isinstance(m, VirtualBatchNorm2d)}
        if sizes != {len(reference_latents)}:
            raise ValueError(
                f"the generator's VirtualBatchNorm2d layers expect reference batches of sizes {sorted(sizes)}, but "
                f"{len(reference_latents)} reference latents were given; build every layer with reference_size="
                f"{len(reference_latents)}"
            )
        self.generator = generator
        self.register_buffer("reference_latents", reference_latents)

    def forward(self, z: Tensor) -> Tensor:
        images = self.generator(torch.cat([self.reference_latents.to(z.dtype), z]))
        return images[len(self.reference_latents) :]


def flat_parameters(network: nn.Module) -> Tensor:
    """All of ``network``'s parameters in one vector, in logical order whatever their memory format
    (torch's ``parameters_to_vector`` cannot flatten channels_last weights)."""
    return torch.cat([parameter.reshape(-1) for parameter in network.parameters()])


class HistoricalAverage(nn.Module):
    """Section 3.3: the running mean of a network's parameters over its past steps.

    ``penalty(network)`` is ||theta - mean of past theta||^2, added to the player's cost;
    ``update(network)`` adds the current parameters to the mean after each step. The mean starts at
    the initial parameters; mean and count are buffers, so a resumed run continues exactly.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.register_buffer("mean", flat_parameters(network).detach().clone())
        self.register_buffer("count", torch.tensor(1, dtype=torch.long))

    def penalty(self, network: nn.Module) -> Tensor:
        return (flat_parameters(network).float() - self.mean).pow(2).sum()

    @torch.no_grad()
    def update(self, network: nn.Module) -> None:
        self.count += 1
        self.mean += (flat_parameters(network).float() - self.mean) / self.count
