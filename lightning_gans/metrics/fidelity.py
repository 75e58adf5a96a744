"""FID, KID and IS of generated images' features against fixed reference statistics, synced across processes."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from lightning_gans.metrics.functional import (
    TORCH_FIDELITY_SEED,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    mean_and_covariance,
)
from lightning_gans.metrics.reference import ReferenceStatistics

METRICS = ("fid", "kid", "is")


class FidelityMetrics(Metric):
    """Collects generated features (and logits, for IS) with ``update``; ``compute`` returns a dict of
    ``fid``, ``kid_mean``, ``kid_std``, ``is_mean``, ``is_std`` (those of the requested ``metrics``).

    Under DDP each process updates with its share and ``compute`` gathers all of them first (torchmetrics'
    sync), so every process returns the metrics of all samples. KID's subsets and IS's splits are drawn as
    torch-fidelity draws them (``seed``, default torch-fidelity's 2020), with the generated features as its
    input1; the same features then give torch-fidelity's numbers.
    """

    full_state_update = False

    def __init__(
        self,
        reference: ReferenceStatistics,
        metrics: Sequence[str] = METRICS,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
        seed: int = TORCH_FIDELITY_SEED,
    ) -> None:
        super().__init__()
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown or not metrics:
            raise ValueError(f"metrics must be a non-empty selection of {METRICS}, got {list(metrics)}")
        if "kid" in metrics and kid_subset_size > len(reference.features):
            raise ValueError(
                f"KID subset_size={kid_subset_size} is larger than the {len(reference.features)} real images; "
                "lower kid_subset_size or use more real images."
            )
        self.metrics = tuple(metrics)
        # Buffers: they follow the metric to the training device. Not saved: the cache holds them.
        self.register_buffer("reference_features", reference.features, persistent=False)
        self.register_buffer("reference_mean", reference.mean, persistent=False)
        self.register_buffer("reference_covariance", reference.covariance, persistent=False)
        self.register_buffer("reference_sqrt_covariance", reference.sqrt_covariance, persistent=False)
        self.kid_subsets, self.kid_subset_size = kid_subsets, kid_subset_size
        self.is_splits, self.seed = is_splits, seed
        self.add_state("features", [], dist_reduce_fx="cat")
        self.add_state("logits", [], dist_reduce_fx="cat")

    def update(self, features: Tensor, logits: Tensor | None = None) -> None:
        if "is" in self.metrics and logits is None:
            raise ValueError(
                "IS needs class logits, and the feature extractor returned features only. Return (features, "
                "logits) from it, or leave 'is' out of metrics."
            )
        self.features.append(features.float())
        if "is" in self.metrics:
            self.logits.append(logits.float())

    def compute(self) -> dict[str, float]:
        features = dim_zero_cat(self.features)
        values: dict[str, float] = {}
        if "fid" in self.metrics:
            mean, covariance = mean_and_covariance(features)
            values["fid"] = frechet_distance(
                self.reference_mean,
                self.reference_covariance,
                mean,
                covariance,
                sqrt_cov_a=self.reference_sqrt_covariance,
            )
        if "kid" in self.metrics:
            values["kid_mean"], values["kid_std"] = kernel_inception_distance(
                features, self.reference_features, self.kid_subsets, self.kid_subset_size, seed=self.seed
            )
        if "is" in self.metrics:
            values["is_mean"], values["is_std"] = inception_score(
                dim_zero_cat(self.logits), splits=self.is_splits, seed=self.seed
            )
        return values
