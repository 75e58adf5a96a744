"""What the paired and unpaired image-to-image datamodules share: arguments, download, augmentation."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.datasets.utils import download_and_extract_archive
from torchvision.transforms import v2

from datamodules.base import DownloadableImageDataModule, EpochShuffle, image_transform
from datamodules.image_folder import PIL_MODES
from lightning_gans.settings import NonNegativeInt, PositiveInt, check_settings

#: The authors' training images are resized to 286x286 and randomly cropped back to 256x256.
PAPER_LOAD_SIZE, PAPER_IMAGE_SIZE = 286, 256


class EpochIndexShuffle(EpochShuffle):
    """EpochShuffle's order, each index given with its epoch: ``(epoch, index)``, for :class:`RandomItems`."""

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch()
        return ((epoch, index) for index in super().__iter__())


class RandomItems(Dataset):
    """A dataset whose items are random (crops, flips, pairings): item ``(epoch, index)`` is a function of the
    seed, the epoch and the index alone, as the training order is (``EpochIndexShuffle``).

    So a resumed run, in any worker process, draws what an uninterrupted one would, and the global random
    stream that the models' noise comes from is left alone. A plain index is taken as epoch 0.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    @contextmanager
    def random_item(self, key: int | tuple[int, int]) -> Iterator[int]:
        """A block, given the item's index, in which torch's global CPU random functions draw the item's stream."""
        epoch, index = key if isinstance(key, tuple) else (0, key)
        (item_seed,) = np.random.SeedSequence((self.seed, epoch, index)).generate_state(1)
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(int(item_seed))
            yield index


class TranslationDataModule(DownloadableImageDataModule):
    """Base of the image-to-image datamodules: a named dataset under ``root``, downloadable from the authors'
    archive, with the papers' random jitter (resize to ``load_size``, random crop to ``image_size``) and
    mirroring for training. Batches are ``(A images, B images)``. There is no validation split: the datasets
    come with test splits (:meth:`test_dataset`).

    Subclasses name the downloadable sets and their archive (``downloadable``, ``url_template``), describe
    their folder layout (``layout``) and build the datasets (:meth:`load`, :meth:`test_dataset`).
    """

    #: Names of the datasets in the authors' archive.
    downloadable: tuple[str, ...]
    #: The archive's address, with ``{name}`` for the dataset.
    url_template: str
    #: The folders a dataset needs, for messages.
    layout: str
    sampler_class = EpochIndexShuffle

    def __init__(
        self,
        root: str,
        dataset: str,
        download: bool,
        channels: int,
        image_size: PositiveInt,
        load_size: PositiveInt | None,
        flip: bool,
        batch_size: PositiveInt,
        num_workers: NonNegativeInt,
        seed: NonNegativeInt,
        check_images: NonNegativeInt | None,
    ) -> None:
        check_settings(TranslationDataModule, locals())
        super().__init__(root, download, image_size, batch_size, num_workers, val_fraction=0.0, seed=seed)
        if channels not in PIL_MODES:
            raise ValueError(
                f"channels must be 1 (greyscale) or 3 (RGB colour), got {channels!r}. Pass channels=1 or "
                "channels=3 (--data.init_args.channels 3)."
            )
        if not dataset or Path(dataset).name != dataset:
            raise ValueError(
                f"dataset must be the name of a folder under root, e.g. {self.downloadable[0]!r}; got {dataset!r}. "
                "Put the folder's parent in root (--data.init_args.root) and its name in dataset."
            )
        self.load_size = round(image_size * PAPER_LOAD_SIZE / PAPER_IMAGE_SIZE) if load_size is None else load_size
        if self.load_size < image_size:
            raise ValueError(
                f"load_size must be at least image_size={image_size} (the short side is resized to load_size, then "
                f"cropped to image_size), got {self.load_size}."
            )
        self.channels = channels
        self.flip = flip
        self.check_images = check_images
        self.dataset_name = self.folder_name = dataset

    @property
    def url(self) -> str:
        return self.url_template.format(name=self.folder_name)

    def fetch(self) -> None:
        if all(path.exists() for path in self.expected_paths()):
            return
        if self.folder_name not in self.downloadable:
            manual_steps = self.manual_steps()
            raise ValueError(
                f"{self.dataset_folder} does not hold {self.layout}, and {self.folder_name!r} is not one of the "
                f"datasets that can be downloaded ({', '.join(self.downloadable)}). {manual_steps[0].upper()}"
                f"{manual_steps[1:]}, then pass download=False (--data.init_args.download false)."
            )
        # The archive holds the dataset's folder; delete it once extracted.
        download_and_extract_archive(self.url, download_root=str(self.root), remove_finished=True)

    def manual_steps(self) -> str:
        if self.folder_name in self.downloadable:
            return f"download {self.url} and extract it in {self.root} (it unpacks to {self.folder_name}/)"
        return f"put your images in {self.dataset_folder} as {self.layout}"

    def training_transform(self) -> v2.Compose:
        """Resize the short side to ``load_size``, crop ``image_size`` at random, mirror half the images."""
        # As tensors from the start, so that load_size=image_size gives test_transform's resize exactly.
        steps = [v2.ToImage(), v2.Resize(self.load_size, antialias=True), v2.RandomCrop(self.image_size)]
        if self.flip:
            steps.append(v2.RandomHorizontalFlip())
        return image_transform(self.image_size, self.channels, *steps)

    def test_transform(self) -> v2.Compose:
        """No randomness: the short side resized to ``image_size`` and the centre cropped."""
        return image_transform(self.image_size, self.channels)

    @property
    def pil_mode(self) -> str:
        return PIL_MODES[self.channels]

    @abstractmethod
    def test_dataset(self, split: str = "test") -> Dataset:
        """The ``split`` images as (A, B) pairs, with no random cropping, flipping or pairing."""
