"""Statistics of the real images, computed once per (data content, extractor) and cached on disk.

The cache key is a SHA-256 of the images' pixel values as the data pipeline yields them (so of the dataset, the
split, the image size and the transform) and of the extractor's weights: changed data or a retrained extractor
never reuses a stale file, whatever the dataset is called.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from lightning_gans.metrics.extractors import extract, module_fingerprint
from lightning_gans.metrics.functional import mean_and_covariance, psd_sqrt


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lightning_gans/reference_statistics`` (``~/.cache/...`` when the variable is unset)."""
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "lightning_gans" / "reference_statistics"


@dataclass
class ReferenceStatistics:
    """The real side of FID and KID: all features (KID draws subsets of them), their mean and covariance."""

    features: Tensor
    mean: Tensor
    covariance: Tensor

    @classmethod
    def from_features(cls, features: Tensor) -> ReferenceStatistics:
        mean, covariance = mean_and_covariance(features)
        return cls(features.float(), mean, covariance)

    @cached_property
    def sqrt_covariance(self) -> Tensor:
        """sqrt(covariance), computed once: FID against these statistics needs it every time."""
        return psd_sqrt(self.covariance)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        torch.save({"features": self.features, "mean": self.mean, "covariance": self.covariance}, partial)
        os.replace(partial, path)  # atomic: processes that share the cache never read half a file

    @classmethod
    def load(cls, path: Path) -> ReferenceStatistics:
        return cls(**torch.load(path, map_location="cpu", weights_only=True))


def images_of(batch: Tensor | tuple | list) -> Tensor:
    """The images of a batch: datasets yield images, or (image, label, ...) tuples."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def reference_loader(dataset: Dataset, batch_size: int, num_workers: int, max_samples: int | None) -> DataLoader:
    """The real images in a fixed order: all of them, or a seeded random ``max_samples`` of them."""
    if max_samples is not None and max_samples < len(dataset):
        keep = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:max_samples]
        dataset = Subset(dataset, keep.sort().values.tolist())
    # Its own generator: starting the loader must not draw from the global random stream the training uses.
    return DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, generator=torch.Generator())


def data_fingerprint(batches: Iterable) -> str:
    """SHA-256 of the images' float values in order, their number and shape (not of how they were batched)."""
    digest, count, shape = hashlib.sha256(), 0, None
    for batch in batches:
        images = images_of(batch).detach().cpu().float().contiguous()
        digest.update(images.numpy().tobytes())
        count, shape = count + len(images), tuple(images.shape[1:])
    digest.update(f"{count} images of shape {shape}".encode())
    return digest.hexdigest()


@torch.no_grad()
def reference_statistics(
    loader: DataLoader,
    extractor: nn.Module,
    cache_dir: str | Path | None = None,
    name: str = "data",
    device: torch.device | str = "cpu",
) -> tuple[ReferenceStatistics, Path]:
    """Statistics of ``loader``'s images under ``extractor``: loaded from the cache, or computed and cached.

    Returns them and the cache file. ``name`` only makes file names readable; the key is the content. Reading
    the data once to fingerprint it costs far less than running a network such as Inception over it.
    """
    fingerprint = hashlib.sha256((data_fingerprint(loader) + module_fingerprint(extractor)).encode()).hexdigest()
    path = (
        Path(cache_dir or default_cache_dir()).expanduser() / f"{name}-{type(extractor).__name__}-{fingerprint[:32]}.pt"
    )
    if path.is_file():
        return ReferenceStatistics.load(path), path
    features = torch.cat([extract(extractor, images_of(batch).to(device))[0].cpu() for batch in loader])
    statistics = ReferenceStatistics.from_features(features)
    statistics.save(path)
    return statistics, path
