"""The shared base of the image datamodules: argument checks, train/validation split, loaders, transform."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from lightning import LightningDataModule
from torch.utils.data import Dataset, Sampler, random_split
from torchdata.stateful_dataloader import StatefulDataLoader
from torchvision.transforms import v2

from lightning_gans.settings import NonNegativeInt, PositiveInt, Probability, check_settings


def image_transform(image_size: int, channels: int, *first_steps: Callable) -> v2.Compose:
    """PIL image or uint8/float tensor -> float tensor (channels, image_size, image_size) in [-1, 1].

    The short side is resized to ``image_size`` and the centre cropped, so no image is stretched or padded.
    ``first_steps`` run before everything else (CelebA crops the face first).
    """
    return v2.Compose(
        [
            *first_steps,
            v2.ToImage(),
            v2.Resize(image_size, antialias=True),
            v2.CenterCrop(image_size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.5] * channels, [0.5] * channels),
            # Plain tensors: the models and default_collate need no tv_tensors wrapper.
            v2.ToPureTensor(),
        ]
    )


class EpochShuffle(Sampler[int]):
    """A random order that depends only on the seed and the epoch, read from ``epoch`` when the order is drawn.

    Re-creating or restoring the loader, as a resumed run does, then gives the uninterrupted run's order, and
    shuffling never draws from the global random stream that the models' noise comes from.
    """

    def __init__(self, size: int, seed: int, epoch: Callable[[], int]) -> None:
        self.size, self.seed, self.epoch = size, seed, epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch())
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self) -> int:
        return self.size


class ImageDataModule(LightningDataModule, ABC):
    """Base of the image datamodules: yields images in [-1, 1] of shape (channels, image_size, image_size).

    Subclasses set ``channels`` and implement :meth:`train_dataset`; this class splits off a validation set
    and builds the loaders.

    Args:
        image_size: height and width of the images the datamodule yields.
        batch_size: images per training batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_fraction: share of the training images held out for validation, in [0, 1); 0 means no validation.
        seed: seed of the train/validation split and of the training order (one shuffle per epoch, a function of
            seed and epoch alone, so that a resumed run draws the same batches as an uninterrupted one).
    """

    #: Channels of the images yielded; known before setup() so that the CLI can pass it to the model.
    channels: int
    #: The training order: ``sampler_class(len(dataset), seed, epoch)``.
    sampler_class: type[EpochShuffle] = EpochShuffle

    def __init__(
        self,
        image_size: PositiveInt,
        batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 2,
        val_fraction: Probability = 0.0,
        seed: int = 0,
    ) -> None:
        check_settings(ImageDataModule, locals())
        super().__init__()
        self.image_size = image_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_fraction = val_fraction
        self.seed = seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    @abstractmethod
    def train_dataset(self) -> Dataset:
        """The full training dataset, with the image transform applied; called by :meth:`setup`."""

    def setup(self, stage: str | None = None) -> None:
        # The Trainer calls setup once per stage (fit, validate, ...); the data is the same for all of them.
        if self.train_set is not None:
            return
        dataset = self.train_dataset()
        if self.val_fraction == 0.0:
            self.train_set = dataset
            return
        n_val = round(len(dataset) * self.val_fraction)
        n_train = len(dataset) - n_val
        if n_val == 0 or n_train == 0:
            raise ValueError(
                f"val_fraction={self.val_fraction} of {len(dataset)} images leaves {n_train} for training "
                f"and {n_val} for validation; both need at least one. Choose a val_fraction between "
                f"{1 / len(dataset):.4g} and {1 - 1 / len(dataset):.4g}, or 0 for no validation."
            )
        generator = torch.Generator().manual_seed(self.seed)
        self.train_set, self.val_set = random_split(dataset, [n_train, n_val], generator=generator)

    def train_dataloader(self) -> StatefulDataLoader:
        train_set = self._built(self.train_set)
        if len(train_set) < self.batch_size:
            held_out = f" (after holding out val_fraction={self.val_fraction})" if self.val_fraction else ""
            raise ValueError(
                f"The training set has {len(train_set)} images{held_out}, fewer than batch_size="
                f"{self.batch_size}. Training drops the last incomplete batch (a tiny batch upsets the GANs' "
                f"batch norm), so there would be no batches at all. Lower batch_size to at most "
                f"{len(train_set)} (--data.init_args.batch_size), or use more data."
            )
        # drop_last: a last batch of a few images gives batch norm noisy statistics.
        return self._loader(train_set, shuffle=True, drop_last=True)

    def val_dataloader(self) -> StatefulDataLoader | list:
        if self.val_fraction == 0.0:
            # Lightning 2.6 takes an empty list as a loader without batches and skips validation (warning
            # once that its length is zero). Not overriding the hook would be the other way, but that is
            # fixed per class, while val_fraction is an argument.
            return []
        return self._loader(self._built(self.val_set), shuffle=False, drop_last=False)

    def _loader(self, dataset: Dataset, shuffle: bool, drop_last: bool) -> StatefulDataLoader:
        # Stateful: Lightning saves the position in the epoch, so a mid-epoch checkpoint resumes exactly. The
        # loader's own generator seeds its workers: starting an iterator, as a resumed run does mid-epoch, must
        # not take a draw from the global random stream that the models' noise comes from.
        return StatefulDataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=self.sampler_class(len(dataset), self.seed, self.current_epoch) if shuffle else None,
            generator=torch.Generator().manual_seed(self.seed),
            drop_last=drop_last,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def current_epoch(self) -> int:
        """The epoch whose batches the trainer draws (0 outside a Trainer): the number Lightning gives samplers'
        ``set_epoch``. Read, not counted, since a resumed run's loader draws its order before ``set_epoch``.
        Not ``trainer.current_epoch``: that counts an epoch only after its end hooks, so in a run resumed from a
        checkpoint written in them (ModelCheckpoint's ``every_n_epochs``) it still names the finished epoch when
        the loader draws, and the next epoch would replay its order."""
        return self.trainer.fit_loop.epoch_progress.current.processed if self.trainer is not None else 0

    def _built(self, dataset: Dataset | None) -> Dataset:
        if dataset is None:
            raise RuntimeError(
                f"{type(self).__name__}.setup() has not run yet. The Trainer calls it for you; outside a "
                "Trainer call datamodule.prepare_data() and datamodule.setup() before asking for a loader."
            )
        return dataset


class DownloadableImageDataModule(ImageDataModule):
    """Base of the datamodules whose data lives under ``root`` and can be downloaded by prepare_data().

    Subclasses name the files they need (:meth:`expected_paths`), how to fetch them (:meth:`fetch`) and load
    them (:meth:`load`), and how to place them by hand (:meth:`manual_steps`); this class turns missing files
    and failed downloads into errors that say how to fix them.

    Args:
        root: folder that holds the dataset (or receives the download).
        download: whether prepare_data() downloads the dataset when it is not under ``root`` yet.
    """

    #: Name of the dataset in messages.
    dataset_name: str
    #: The folder under ``root`` that holds the dataset, as torchvision names it.
    folder_name: str

    def __init__(
        self,
        root: str,
        download: bool,
        image_size: PositiveInt,
        batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 2,
        val_fraction: Probability = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(image_size, batch_size, num_workers, val_fraction, seed)
        self.root = Path(root).expanduser()
        self.download = download

    @property
    def dataset_folder(self) -> Path:
        return self.root / self.folder_name

    @abstractmethod
    def expected_paths(self) -> list[Path]:
        """The files and folders the dataset needs under ``root``."""

    @abstractmethod
    def fetch(self) -> None:
        """Download the dataset into ``root`` unless it is there already."""

    @abstractmethod
    def load(self) -> Dataset:
        """The training dataset from the files under ``root``, with the image transform."""

    @abstractmethod
    def manual_steps(self) -> str:
        """How to put the files in place by hand, as an instruction that completes a sentence."""

    def prepare_data(self) -> None:
        if not self.download:
            return
        try:
            self.fetch()
        # torchvision reports failed downloads as RuntimeError, URLError (an OSError) or other OSErrors.
        except (RuntimeError, OSError) as error:
            raise RuntimeError(
                f"Downloading {self.dataset_name} into {self.root} failed: {type(error).__name__}: {error}\n"
                f"Without internet access, {self.manual_steps()}, then pass download=False "
                "(--data.init_args.download false)."
            ) from error

    def train_dataset(self) -> Dataset:
        missing = [str(path) for path in self.expected_paths() if not path.exists()]
        if missing:
            raise FileNotFoundError(
                f"{self.dataset_name} not found: missing {', '.join(missing)}. Pass download=True "
                "(--data.init_args.download true) so that prepare_data() downloads it, or "
                f"{self.manual_steps()}, or point root (--data.init_args.root) at the folder that contains "
                f"{self.folder_name}/."
            )
        try:
            return self.load()
        except RuntimeError as error:
            raise RuntimeError(
                f"The {self.dataset_name} files under {self.root} exist but torchvision rejected them: "
                f"{error}\n"
                "They are probably corrupt or from an interrupted download (torchvision checks their MD5 "
                f"sums). Delete them and download again (download=True), or {self.manual_steps()}."
            ) from error
