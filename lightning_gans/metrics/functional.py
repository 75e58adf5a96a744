"""FID, KID and IS on feature vectors, computed the way torch-fidelity computes them.

The definitions (and, for KID's subsets and IS's splits, the random draws: NumPy's ``RandomState(seed)``) follow
torch-fidelity, so that the same features give the same numbers. Only the linear algebra differs: FID takes the
trace of sqrt(S1 S2) through symmetric eigendecompositions, which is exact, faster than a general
eigendecomposition, and lets the reference set's matrix square root be computed once and reused.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: torch-fidelity's default seed for KID's subsets and IS's shuffle.
TORCH_FIDELITY_SEED = 2020


def mean_and_covariance(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance (divided by n - 1, as ``np.cov``) of (n, d) features, in float64."""
    _check_features("features", features, minimum=2)
    features = features.double()
    return features.mean(dim=0), torch.cov(features.T).reshape(features.shape[1], features.shape[1])


def psd_sqrt(matrix: Tensor) -> Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix (float64).

    Eigenvalues that round-off makes slightly negative are taken as 0, as the real part of their square root is.
    """
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix.double())
    return (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T


def frechet_distance(
    mean_a: Tensor, cov_a: Tensor, mean_b: Tensor, cov_b: Tensor, sqrt_cov_a: Tensor | None = None
) -> float:
    """||mean_a - mean_b||^2 + tr(cov_a) + tr(cov_b) - 2 tr(sqrt(cov_a cov_b)), in float64.

    tr(sqrt(cov_a cov_b)) is the sum of the square roots of the eigenvalues of the symmetric matrix
    sqrt(cov_a) cov_b sqrt(cov_a), which has the same eigenvalues. ``sqrt_cov_a`` (from :func:`psd_sqrt`) saves
    recomputing sqrt(cov_a) when one side, the real data, stays fixed.
    """
    if mean_a.shape != mean_b.shape or cov_a.shape != cov_b.shape or cov_a.shape != (len(mean_a), len(mean_a)):
        raise ValueError(
            f"Mismatched statistics: means {tuple(mean_a.shape)} and {tuple(mean_b.shape)}, covariances "
            f"{tuple(cov_a.shape)} and {tuple(cov_b.shape)}; both sides must come from the same feature extractor."
        )
    mean_a, cov_a, mean_b, cov_b = (t.double() for t in (mean_a, cov_a, mean_b, cov_b))
    root = psd_sqrt(cov_a) if sqrt_cov_a is None else sqrt_cov_a.double()
    product = root @ cov_b @ root
    product = (product + product.T) / 2  # symmetric up to round-off; eigvalsh reads one triangle
    trace_sqrt = torch.linalg.eigvalsh(product).clamp(min=0).sqrt().sum()
    distance = (mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt
    return distance.item()


def polynomial_mmd(
    features_x: Tensor, features_y: Tensor, degree: int = 3, gamma: float | None = None, coef: float = 1.0
) -> float:
    """Unbiased squared MMD between two equal-size sets under the kernel (gamma x.y + coef)^degree.

    gamma defaults to 1 / feature dimension (KID's cubic kernel, as in torch-fidelity and torchmetrics). The kernel
    values are computed in the features' precision (float32 as torch-fidelity, or float64) and summed in float64.
    """
    m = features_x.shape[0]
    gamma = 1.0 / features_x.shape[1] if gamma is None else gamma

    def kernel_sum(a: Tensor, b: Tensor, without_diagonal: bool) -> Tensor:
        kernel = (a @ b.T).mul_(gamma).add_(coef).pow_(degree)
        total = kernel.double().sum()  # faster than sum(dtype=torch.float64) on CPU
        return total - kernel.diagonal().double().sum() if without_diagonal else total

    within = kernel_sum(features_x, features_x, True) + kernel_sum(features_y, features_y, True)
    return (within / (m * (m - 1)) - 2 * kernel_sum(features_x, features_y, False) / (m * m)).item()


def kernel_inception_distance(
    features_1: Tensor,
    features_2: Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
    seed: int = TORCH_FIDELITY_SEED,
) -> tuple[float, float]:
    """KID: mean and (population) standard deviation of :func:`polynomial_mmd` over random subsets.

    Each subset takes ``subset_size`` rows of ``features_1``, then of ``features_2``, without replacement, drawn by
    ``np.random.RandomState(seed)``: torch-fidelity's draws when ``features_1`` are its input1 (the generated
    images) and ``features_2`` its input2.
    """
    _check_features("features_1", features_1, minimum=2)
    _check_features("features_2", features_2, minimum=2)
    if features_1.shape[1] != features_2.shape[1]:
        raise ValueError(f"KID needs features of one size, got {features_1.shape[1]} and {features_2.shape[1]}")
    smaller = min(len(features_1), len(features_2))
    if not 2 <= subset_size <= smaller:
        raise ValueError(
            f"KID subset_size={subset_size} must lie between 2 and the size of the smaller set ({len(features_1)} "
            f"and {len(features_2)} samples). Lower subset_size or use more samples."
        )
    if subsets < 1:
        raise ValueError(f"KID needs at least one subset, got subsets={subsets}")
    rng = np.random.RandomState(seed)
    values = []
    for _ in range(subsets):
        index_1 = torch.from_numpy(rng.choice(len(features_1), subset_size, replace=False)).to(features_1.device)
        index_2 = torch.from_numpy(rng.choice(len(features_2), subset_size, replace=False)).to(features_2.device)
        values.append(polynomial_mmd(features_1[index_1], features_2[index_2], degree, gamma, coef))
    return float(np.mean(values)), float(np.std(values))


def inception_score(
    logits: Tensor, splits: int = 10, shuffle: bool = True, seed: int = TORCH_FIDELITY_SEED
) -> tuple[float, float]:
    """IS: exp(E_x KL(p(y|x) || p(y))) on each of ``splits`` parts; their mean and (population) standard deviation.

    The rows are shuffled by ``np.random.RandomState(seed).permutation`` and cut at ``i * n // splits``, as
    torch-fidelity does.
    """
    _check_features("logits", logits, minimum=splits)
    if splits < 1:
        raise ValueError(f"IS needs at least one split, got splits={splits}")
    n = len(logits)
    if shuffle:
        logits = logits[torch.from_numpy(np.random.RandomState(seed).permutation(n)).to(logits.device)]
    log_p = logits.double().log_softmax(dim=1)
    scores = []
    for i in range(splits):
        part = log_p[i * n // splits : (i + 1) * n // splits]
        log_marginal = part.exp().mean(dim=0).log()
        kl = (part.exp() * (part - log_marginal)).sum(dim=1).mean()
        scores.append(kl.exp().item())
    return float(np.mean(scores)), float(np.std(scores))


def _check_features(name: str, features: Tensor, minimum: int) -> None:
    if features.dim() != 2 or len(features) < minimum:
        raise ValueError(
            f"{name} must be a (samples, dimensions) matrix with at least {minimum} rows, got shape "
            f"{tuple(features.shape)}"
        )
