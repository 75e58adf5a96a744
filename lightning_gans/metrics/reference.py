"""Statistics of the real images, computed once per (data content, extractor) and cached on disk.

The cache key is a SHA-256 of the images' pixel values as the data pipeline yields them (so of the dataset, the
split, the image size and the transform) and of the extractor's weights: changed data or a retrained extractor
never reuses a stale file, whatever the dataset is called.

Datasets that keep their images in one array (torchvision's MNIST and CIFAR families, a ``TensorDataset``, and
``Subset``s of these) are read straight from it, a batch at a time through the dataset's own transform
(:class:`ArrayImages`): the same pixels as ``dataset[i]`` one by one (checked on probe images), without a PIL image
per picture. On MNIST that makes reading the 60,000 images for the key about 1 s instead of 18 s of CPU time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset
from torchvision.datasets import CIFAR10, MNIST

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


def reference_subset(dataset: Dataset, max_samples: int | None) -> Dataset:
    """All the real images, or a seeded random ``max_samples`` of them (in the dataset's order)."""
    if max_samples is None or max_samples >= len(dataset):
        return dataset
    keep = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:max_samples]
    return Subset(dataset, keep.sort().values.tolist())


def reference_loader(dataset: Dataset, batch_size: int, num_workers: int, max_samples: int | None) -> DataLoader:
    """The real images in a fixed order, read one by one: all of them, or a seeded random ``max_samples`` of them."""
    # Its own generator: starting the loader must not draw from the global random stream the training uses.
    subset = reference_subset(dataset, max_samples)
    return DataLoader(subset, batch_size=batch_size, num_workers=num_workers, generator=torch.Generator())


#: How an array-backed dataset's images are read: positions (a 1-D index tensor) -> a batch before the transform.
ArrayReader = Callable[[Tensor], Tensor]


class ArrayImages:
    """The images of a dataset that keeps them in one array, in order, in batches of ``batch_size``: each batch
    read from the array and passed through the dataset's transform at once. Iterable any number of times (each pass
    transforms again: cheap next to a feature network, and the images need not all fit in memory at once).

    Build it with :meth:`of`, which returns None unless this gives exactly the images the dataset yields one by one.
    """

    #: Probe images compared with the dataset's own ``dataset[i]`` before the array is trusted.
    PROBES = 8

    def __init__(self, read: ArrayReader, transform: Callable | None, count: int, batch_size: int) -> None:
        self.read, self.transform, self.count, self.batch_size = read, transform, count, batch_size

    @classmethod
    def of(cls, dataset: Dataset, batch_size: int) -> ArrayImages | None:
        """The dataset's images read from its array, or None when it keeps none (image files, LMDB, ...) or when its
        transform gives other pixels on a batch than on single images (a random augmentation, a PIL-only step)."""
        source = array_reader(dataset)
        if source is None or len(dataset) == 0:
            return None
        images = cls(*source, len(dataset), batch_size)
        positions = torch.linspace(0, len(dataset) - 1, min(cls.PROBES, len(dataset))).long().unique()
        try:
            batch = images.batch(positions)
        except (TypeError, ValueError, RuntimeError):  # a transform that takes PIL images or single images only
            return None
        singles = [images_of(dataset[int(position)]) for position in positions]
        same = all(
            isinstance(single, Tensor) and single.dtype == batch.dtype and torch.equal(single, image)
            for single, image in zip(singles, batch, strict=True)
        )
        return images if same else None

    def batch(self, positions: Tensor) -> Tensor:
        images = self.read(positions)
        return images if self.transform is None else self.transform(images)

    def __iter__(self) -> Iterator[Tensor]:
        for start in range(0, self.count, self.batch_size):
            yield self.batch(torch.arange(start, min(start + self.batch_size, self.count)))

    def __len__(self) -> int:
        """The number of batches, as ``len`` of a DataLoader."""
        return -(-self.count // self.batch_size)


def array_reader(dataset: Dataset) -> tuple[ArrayReader, Callable | None] | None:
    """(reader, transform) for a dataset that keeps its images in one array, else None.

    The reader gives the images as the dataset hands them to its transform, batched: a (batch, channels, height,
    width) uint8 tensor where the dataset would make a PIL image of each (torchvision's MNIST and CIFAR families),
    the stored tensors of a ``TensorDataset`` (which has no transform).
    """
    if isinstance(dataset, Subset):
        inner = array_reader(dataset.dataset)
        if inner is None:
            return None
        read, transform = inner
        indices = torch.as_tensor(dataset.indices, dtype=torch.long)
        return (lambda positions: read(indices[positions])), transform
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[0].__getitem__, None
    if isinstance(dataset, MNIST) and isinstance(dataset.data, Tensor) and dataset.data.dim() == 3:
        grey = dataset.data.unsqueeze(1)  # (N, 1, H, W), a view
        return grey.__getitem__, dataset.transform
    if isinstance(dataset, CIFAR10) and getattr(dataset.data, "ndim", None) == 4:
        colour = torch.from_numpy(dataset.data).permute(0, 3, 1, 2)  # (N, H, W, 3) -> (N, 3, H, W), a view
        return colour.__getitem__, dataset.transform
    return None


def reference_batches(
    dataset: Dataset, batch_size: int, num_workers: int, max_samples: int | None
) -> ArrayImages | DataLoader:
    """The real images in a fixed order (all, or a seeded random ``max_samples``), in batches: read straight from the
    dataset's array when it keeps one (:class:`ArrayImages`), else one by one through a DataLoader. Both give the
    same pixels, so the same cache key."""
    subset = reference_subset(dataset, max_samples)
    return ArrayImages.of(subset, batch_size) or reference_loader(subset, batch_size, num_workers, None)


def data_fingerprint(batches: Iterable) -> str:
    """SHA-256 of the images' float values in order, their number and shape (not of how they were batched)."""
    digest, count, shape = hashlib.sha256(), 0, None
    for batch in batches:
        images = images_of(batch).detach().cpu().float().contiguous()
        digest.update(memoryview(images.numpy()).cast("B"))  # no copy, unlike tobytes()
        count, shape = count + len(images), tuple(images.shape[1:])
    digest.update(f"{count} images of shape {shape}".encode())
    return digest.hexdigest()


def cache_file(
    batches: Iterable, extractor: nn.Module, cache_dir: str | Path | None = None, name: str = "data"
) -> Path:
    """Where the statistics of these images under this extractor are cached: the key is their content and the
    extractor's class and weights; ``name`` only makes the file name readable."""
    fingerprint = hashlib.sha256((data_fingerprint(batches) + module_fingerprint(extractor)).encode()).hexdigest()
    folder = Path(cache_dir or default_cache_dir()).expanduser()
    return folder / f"{name}-{type(extractor).__name__}-{fingerprint[:32]}.pt"


#: ``progress(batches, cache file)`` is called only when the statistics are computed, before the work starts; it
#: returns the batches to iterate over, e.g. wrapped in a progress bar.
Progress = Callable[[Iterable, Path], Iterable]


@torch.no_grad()
def reference_statistics(
    loader: Iterable,
    extractor: nn.Module,
    cache_dir: str | Path | None = None,
    name: str = "data",
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> tuple[ReferenceStatistics, Path]:
    """Statistics of ``loader``'s images (a DataLoader, :class:`ArrayImages`, any re-iterable of batches) under
    ``extractor``: loaded from the cache, or computed and cached.

    Returns them and the cache file (:func:`cache_file`). Reading the data once for the key costs far less than
    running a network such as Inception over it. ``progress`` sees the batches when they are extracted.
    """
    path = cache_file(loader, extractor, cache_dir, name)
    if path.is_file():
        return ReferenceStatistics.load(path), path
    batches = loader if progress is None else progress(loader, path)
    features = torch.cat([extract(extractor, images_of(batch).to(device))[0].cpu() for batch in batches])
    statistics = ReferenceStatistics.from_features(features)
    statistics.save(path)
    return statistics, path
