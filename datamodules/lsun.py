"""LSUN scene categories through torchvision (lmdb databases)."""

from __future__ import annotations

import importlib
from pathlib import Path

from torch.utils.data import Dataset
from torchvision.datasets import LSUN
from torchvision.datasets.utils import download_and_extract_archive

from datamodules.base import DownloadableImageDataModule, image_transform
from lightning_gans.settings import NonNegativeInt, PositiveInt, Probability

#: The ten LSUN scene categories (torchvision accepts the same names).
LSUN_CATEGORIES = (
    "bedroom",
    "bridge",
    "church_outdoor",
    "classroom",
    "conference_room",
    "dining_room",
    "kitchen",
    "living_room",
    "restaurant",
    "tower",
)
LSUN_URL = "http://dl.yf.io/lsun/scenes/{category}_train_lmdb.zip"


class LSUNDataModule(DownloadableImageDataModule):
    """One LSUN scene category's training images (short side 256, colour), resized to ``image_size``.

    Batches are (images, labels) with images (batch, 3, image_size, image_size) in [-1, 1]; the label is 0
    (one category). The data is the lmdb database ``{root}/{category}_train_lmdb/``, read with the ``lmdb``
    package. torchvision cannot download LSUN, so prepare_data() fetches and unzips the archive itself; the
    archives are large (bedroom alone is over 40 GB), hence ``download`` defaults to
    False. Note that torchvision caches the database keys in a file ``_cache_*`` in the current working
    directory, named after the letters of the database path.

    Args:
        root: folder that contains ``{category}_train_lmdb/`` (or receives the download).
        category: one of the ten LSUN scene categories, e.g. bedroom or church_outdoor.
        download: whether prepare_data() downloads the category (tens of GB) when it is not under ``root``.
        image_size: height and width of the images.
        batch_size: images per training batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_fraction: share of the training images held out for validation, in [0, 1); 0 means no validation.
        seed: seed of the train/validation split and of the order the training images are drawn in.
    """

    channels = 3

    def __init__(
        self,
        root: str = "data",
        category: str = "bedroom",
        download: bool = False,
        image_size: PositiveInt = 64,
        batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 2,
        val_fraction: Probability = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(root, download, image_size, batch_size, num_workers, val_fraction, seed)
        if category not in LSUN_CATEGORIES:
            raise ValueError(
                f"category must be one of the LSUN scene categories {', '.join(LSUN_CATEGORIES)}; got "
                f"{category!r}. Pass e.g. category=bedroom (--data.init_args.category bedroom)."
            )
        try:
            importlib.import_module("lmdb")
        except ImportError as error:
            raise ImportError(
                "LSUN is stored as lmdb databases, and reading them needs the lmdb package: pip install lmdb"
            ) from error
        self.category = category
        self.dataset_name = f"LSUN {category}"
        self.folder_name = f"{category}_train_lmdb"
        self.url = LSUN_URL.format(category=category)

    def expected_paths(self) -> list[Path]:
        return [self.dataset_folder / "data.mdb"]

    def fetch(self) -> None:
        if all(path.exists() for path in self.expected_paths()):
            return
        # The zip holds the dataset folder; delete it after extracting, it is as large again.
        download_and_extract_archive(self.url, download_root=str(self.root), remove_finished=True)

    def load(self) -> Dataset:
        transform = image_transform(self.image_size, self.channels)
        return LSUN(str(self.root), classes=[f"{self.category}_train"], transform=transform)

    def manual_steps(self) -> str:
        return f"download {self.url} and unzip it in {self.root}, which gives {self.dataset_folder}/data.mdb"
