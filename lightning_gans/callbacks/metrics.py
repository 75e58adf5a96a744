"""FID, KID and IS of the generator during training, logged as ``val/fid``, ``val/kid_mean``, ... to every logger."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from datamodules import DigitsDataModule, MNISTDataModule
from lightning_gans.metrics import (
    METRICS,
    FidelityMetrics,
    InceptionV3Features,
    ReferenceStatistics,
    build_feature_extractor,
    extract,
    images_of,
    reference_batches,
    reference_statistics,
)
from lightning_gans.metrics.reference import Progress
from lightning_gans.models.base import SampleSource
from lightning_gans.settings import PositiveInt, check_settings

#: Data the digit classifier was trained on; "auto" picks it for these and Inception for everything else.
DIGIT_DATA = (DigitsDataModule, MNISTDataModule)
#: num_samples=None draws as many images as there are real ones, up to this many.
MAX_DEFAULT_SAMPLES = 10_000


class GenerativeMetrics(Callback):
    """Every ``every_n_epochs`` epochs and/or ``every_n_steps`` generator steps, and at the end of the last epoch
    (``max_epochs`` or ``max_steps``), draw ``num_samples`` images with ``pl_module.sample`` (the EMA generator
    when there is one) and log ``val/fid``, ``val/kid_mean``, ``val/kid_std``, ``val/is_mean``, ``val/is_std``.

    The metrics run at the end of the training epoch, so they need no validation loop (the datamodules have none
    by default) and ``ModelCheckpoint(monitor="val/fid", mode="min")`` sees them: it saves at the end of the
    training epoch, after this callback. Between evaluations the last value stays in ``trainer.callback_metrics``;
    give the checkpoint callback the same ``every_n_epochs`` when it keeps more than one checkpoint. (A model with
    a validation loop that checkpoints at validation end, e.g. ``check_val_every_n_epoch > 1``, needs
    ``ModelCheckpoint(save_on_train_epoch_end=True)`` to see the new values.)

    The real side comes from the datamodule: its validation split when it has one (``reference="auto"``), else
    its training data; its statistics are computed once and cached in ``cache_dir``, keyed by the images'
    content and the extractor's weights. Under DDP each process generates its share of the samples and the
    metrics are computed on all of them. The samples come from fixed noise (``seed``), the same at every
    evaluation and whatever the number of processes, and drawing them leaves the training's random state alone.
    Feature extraction runs in float32 with autocast off, whatever the training precision.

    Args:
        feature_extractor: ``"inception"`` (torch-fidelity's TF-compatible Inception-v3; published numbers),
            ``"digits"`` (the shipped digit classifier; MNIST and scikit-learn's digits, offline), ``"auto"``
            (``"digits"`` for those two datamodules, ``"inception"`` otherwise) or an ``nn.Module`` that maps
            images in [-1, 1] to (batch, features), or to (features, logits) for IS.
        metrics: which of ``"fid"``, ``"kid"``, ``"is"`` to compute; none (``[]``) turns the callback off.
        num_samples: generated images per evaluation, over all processes (None: as many as there are real
            images, at most 10,000: the digits' 1,797, MNIST's or CIFAR-10's 10,000).
        every_n_epochs: evaluate after every this many training epochs (None: not by epoch).
        every_n_steps: evaluate after every this many generator steps (None: not by step).
        batch_size: images generated and passed through the extractor at once.
        reference: the real images: ``"val"``, ``"train"``, or ``"auto"`` (val when the datamodule has a
            validation split, else train).
        max_reference_samples: use a seeded random subset of this many real images (None: all of them).
        kid_subsets: KID's number of random subsets (torch-fidelity's default 100).
        kid_subset_size: images per KID subset (torch-fidelity's default 1000); at most ``num_samples``.
        is_splits: IS's number of splits (torch-fidelity's default 10).
        seed: seed of the fixed noise the samples are drawn from.
        inception_weights: path of the Inception weights file (None: the torch hub cache, downloaded once).
        cache_dir: folder of the cached real statistics (None: ``~/.cache/lightning_gans/reference_statistics``).
    """

    def __init__(
        self,
        feature_extractor: str | nn.Module = "auto",
        metrics: Sequence[Literal["fid", "kid", "is"]] = ("fid", "kid", "is"),
        num_samples: PositiveInt | None = None,
        every_n_epochs: PositiveInt | None = 10,
        every_n_steps: PositiveInt | None = None,
        batch_size: PositiveInt = 250,
        reference: Literal["auto", "train", "val"] = "auto",
        max_reference_samples: PositiveInt | None = None,
        kid_subsets: PositiveInt = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
        seed: int = 0,
        inception_weights: str | None = None,
        cache_dir: str | None = None,
    ) -> None:
        check_settings(GenerativeMetrics, locals())
        if reference not in ("auto", "train", "val"):
            raise ValueError(f"GenerativeMetrics reference must be 'auto', 'train' or 'val', got {reference!r}")
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown:
            raise ValueError(f"GenerativeMetrics metrics must be chosen from {METRICS}, got {unknown}")
        if not isinstance(feature_extractor, nn.Module) and feature_extractor not in ("auto", "inception", "digits"):
            raise ValueError(
                "GenerativeMetrics feature_extractor must be 'auto', 'inception', 'digits' or an nn.Module, got "
                f"{feature_extractor!r}"
            )
        self.feature_extractor, self.metrics = feature_extractor, tuple(metrics)
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.kid_subset_size, self.is_splits = kid_subset_size, is_splits
        if num_samples is not None:
            self.check_sample_count(num_samples, world_size=1)
        self.every_n_epochs, self.every_n_steps = every_n_epochs, every_n_steps
        self.reference, self.max_reference_samples, self.cache_dir = reference, max_reference_samples, cache_dir
        self.kid_subsets = kid_subsets
        self.inception_weights = inception_weights
        self.extractor: nn.Module | None = None
        self.fidelity: FidelityMetrics | None = None
        self.sample_count = num_samples  # resolved when the real images are known
        self.last_step: int | None = None
        self.last_values: dict[str, float] = {}

    # ---------------------------------------------------------------------------------------------- setup
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if not isinstance(pl_module, SampleSource):
            raise TypeError(
                f"GenerativeMetrics needs a model with `g_steps` and `sample(n, generator)`; "
                f"{type(pl_module).__name__} has neither. Derive it from lightning_gans.models.GANModule."
            )
        if trainer.fast_dev_run or not self.metrics:
            reason = "under fast_dev_run, like Lightning's checkpointing and logging" if self.metrics else "metrics=[]"
            rank_zero_info(f"GenerativeMetrics: off ({reason})")
            return
        name = self.resolve_extractor(trainer.datamodule)
        # Built here, so that missing Inception weights stop the run before it trains.
        self.extractor = build_feature_extractor(name, self.inception_weights)
        if self.feature_extractor == "auto":
            rank_zero_info(f"GenerativeMetrics: feature_extractor='auto' uses {name!r} for this data")

    def resolve_extractor(self, datamodule: LightningDataModule | None) -> str | nn.Module:
        """The extractor for this data: "auto" becomes "digits" for MNIST and digits, else "inception"."""
        choice = self.feature_extractor
        if isinstance(choice, nn.Module):
            return choice
        if choice == "auto":
            choice = "digits" if isinstance(datamodule, DIGIT_DATA) else "inception"
        channels = getattr(datamodule, "channels", None)
        if choice == "digits" and channels not in (None, 1):
            raise ValueError(
                f"feature_extractor='digits' reads grey digits, but {type(datamodule).__name__} yields {channels}-"
                "channel images. Use feature_extractor='inception' (or 'auto') for colour data."
            )
        return choice

    @torch.no_grad()
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.extractor is None:
            return
        device = pl_module.device
        self.extractor.to(device)
        dataset, split, num_workers = self.reference_dataset(trainer)
        if "is" in self.metrics and extract(self.extractor, images_of(dataset[0])[None].to(device))[1] is None:
            raise ValueError(
                f"IS needs class logits, but the feature extractor {type(self.extractor).__name__} returns features "
                "only. Leave 'is' out of metrics (e.g. metrics=['fid', 'kid']) or return (features, logits)."
            )

        def progress(batches: Iterable, path: Path) -> Iterable:
            rank_zero_info(
                f"GenerativeMetrics: computing the statistics of the {len(dataset)} real images ({split}) once; they "
                f"are cached in {path}"
            )
            return tqdm(batches, desc="real statistics", unit="batch", disable=not shows_progress(trainer))

        name = type(trainer.datamodule or dataset).__name__
        statistics, path = self.real_statistics(dataset, split, num_workers, name, device, progress)
        real_count = len(statistics.features)
        self.sample_count = self.num_samples or min(real_count, MAX_DEFAULT_SAMPLES)
        self.check_sample_count(self.sample_count, trainer.world_size)
        slow = isinstance(self.extractor, InceptionV3Features) and device.type == "cpu"
        rank_zero_info(
            f"GenerativeMetrics: statistics of {real_count} real images ({split}) in {path}; {self.sample_count} "
            "generated images per evaluation" + (" (Inception on a CPU: about 0.1 s per image)" if slow else "")
        )
        self.use_statistics(statistics, device)

    def real_statistics(
        self, dataset: Dataset, split: str, num_workers: int, name: str, device: torch.device, progress: Progress
    ) -> tuple[ReferenceStatistics, Path]:
        """The statistics of ``dataset``'s real images under the extractor, and their cache file, named after the
        data (``name``), split and image shape: the same file for every run and for lightning-gans evaluate."""
        loader = reference_batches(dataset, self.batch_size, num_workers, self.max_reference_samples)
        label = f"{name}-{split}-{'x'.join(map(str, images_of(dataset[0]).shape))}"
        return reference_statistics(loader, self.extractor, self.cache_dir, label, device, progress)

    def use_statistics(self, statistics: ReferenceStatistics, device: torch.device | str) -> None:
        """Measure against these real statistics from now on."""
        self.fidelity = FidelityMetrics(
            statistics, self.metrics, self.kid_subsets, self.kid_subset_size, self.is_splits
        ).to(device)

    def check_sample_count(self, count: int, world_size: int) -> None:
        if "kid" in self.metrics and not 2 <= self.kid_subset_size <= count:
            raise ValueError(
                f"GenerativeMetrics kid_subset_size={self.kid_subset_size} must lie between 2 and the {count} "
                "generated images (num_samples): each KID subset draws that many of them."
            )
        if "is" in self.metrics and not 1 <= self.is_splits <= count:
            raise ValueError(
                f"GenerativeMetrics is_splits={self.is_splits} must lie between 1 and {count} (num_samples)"
            )
        if math.ceil(count / self.batch_size) < world_size:
            raise ValueError(
                f"GenerativeMetrics draws {count} images in batches of {self.batch_size}, fewer batches than the "
                f"{world_size} processes; lower batch_size so that each process has one."
            )

    def reference_dataset(self, trainer: Trainer) -> tuple[Dataset, str, int]:
        """(dataset, split name, loader workers) of the real images."""
        datamodule = trainer.datamodule
        if datamodule is None:
            if self.reference == "val":
                raise ValueError("GenerativeMetrics reference='val' needs a datamodule with a validation split")
            loader = trainer.train_dataloader
            if not isinstance(getattr(loader, "dataset", None), Dataset):
                raise TypeError("GenerativeMetrics reads the real images from a datamodule or a DataLoader's dataset")
            return loader.dataset, "train", loader.num_workers
        return self.datamodule_reference(datamodule)

    def datamodule_reference(self, datamodule: LightningDataModule) -> tuple[Dataset, str, int]:
        """(dataset, split name, loader workers) of a datamodule's real images, by ``reference``."""
        if self.reference != "train" and is_overridden("val_dataloader", datamodule):
            loader = datamodule.val_dataloader()
            if getattr(loader, "dataset", None) is not None and len(loader.dataset) > 0:
                return loader.dataset, "val", loader.num_workers
        if self.reference == "val":
            raise ValueError(
                f"GenerativeMetrics reference='val', but {type(datamodule).__name__} has no validation split. "
                "Hold one out (e.g. --data.init_args.val_fraction 0.1) or use reference='train' or 'auto'."
            )
        loader = datamodule.train_dataloader()
        return loader.dataset, "train", loader.num_workers

    # ------------------------------------------------------------------------------------------ schedule
    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: object) -> None:
        step = pl_module.g_steps
        if self.every_n_steps and step > 0 and step % self.every_n_steps == 0:
            self.evaluate(trainer, pl_module)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        scheduled = self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0
        if scheduled or is_last_epoch(trainer):
            self.evaluate(trainer, pl_module)

    # -------------------------------------------------------------------------------------- evaluation
    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Measure the metrics now and log them (each generator step once: with n_critic > 1 several batches share
        one)."""
        if self.fidelity is None or pl_module.g_steps == self.last_step:
            return
        self.last_step = pl_module.g_steps
        rank_zero_info(f"GenerativeMetrics: evaluating {self.sample_count} samples at generator step {self.last_step}")
        values = self.measure(pl_module, trainer.global_rank, trainer.world_size, shows_progress(trainer))
        self.last_values = {f"val/{name}": value for name, value in values.items()}
        # For ModelCheckpoint, EarlyStopping and the progress bar (the same on every process; sync_dist quiets DDP).
        shown = {key: value for key, value in self.last_values.items() if key in ("val/fid", "val/kid_mean")}
        pl_module.log_dict(shown, logger=False, sync_dist=True, prog_bar=True)
        pl_module.log_dict(
            {key: value for key, value in self.last_values.items() if key not in shown}, logger=False, sync_dist=True
        )
        # Straight to the loggers, as LearningRateMonitor does (self.log sends step values only every
        # log_every_n_steps, which would lose an evaluation between two of those), at the generator step.
        for logger in trainer.loggers:
            logger.log_metrics(self.last_values, step=self.last_step)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.last_values:
            summary = ", ".join(f"{key.removeprefix('val/')} {value:.4g}" for key, value in self.last_values.items())
            rank_zero_info(f"GenerativeMetrics at generator step {self.last_step}: {summary}")

    @torch.no_grad()
    def measure(
        self, pl_module: LightningModule, rank: int = 0, world_size: int = 1, progress: bool = False
    ) -> dict[str, float]:
        """Generate this process's share of the samples and return the metrics of all of them."""
        for size, seed in tqdm(self.batches(rank, world_size), desc="samples", unit="batch", disable=not progress):
            images = pl_module.sample(size, generator=torch.Generator().manual_seed(seed))
            self.fidelity.update(*extract(self.extractor, images))
        values = self.fidelity.compute()
        self.fidelity.reset()
        return values

    def batches(self, rank: int, world_size: int) -> list[tuple[int, int]]:
        """(size, noise seed) of this process's batches: a contiguous block of the same batches for any world size."""
        count = math.ceil(self.sample_count / self.batch_size)
        seeds = torch.randint(2**62, (count,), generator=torch.Generator().manual_seed(self.seed)).tolist()
        sizes = [min(self.batch_size, self.sample_count - index * self.batch_size) for index in range(count)]
        block = range(rank * count // world_size, (rank + 1) * count // world_size)
        return [(sizes[index], seeds[index]) for index in block]


def is_last_epoch(trainer: Trainer) -> bool:
    """Whether the epoch ending now is the run's last: by ``max_epochs`` or ``max_steps``, or stopped early (e.g.
    by ``GeneratorStepLimit`` or EarlyStopping)."""
    by_epochs = trainer.max_epochs not in (None, -1) and trainer.current_epoch + 1 >= trainer.max_epochs
    by_steps = trainer.max_steps not in (None, -1) and trainer.global_step >= trainer.max_steps
    return by_epochs or by_steps or trainer.should_stop


def shows_progress(trainer: Trainer) -> bool:
    """Whether long work should draw a progress bar: on the first process, when the run shows one."""
    return trainer.is_global_zero and trainer.progress_bar_callback is not None
