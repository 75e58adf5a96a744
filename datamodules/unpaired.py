"""Two unpaired image domains in CycleGAN's folder layout (trainA/ trainB/ testA/ testB/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.image_folder import CHECK_IMAGES, ImageFileDataset, ImageFolderDataModule
from datamodules.translation import RandomItems, TranslationDataModule
from lightning_gans.settings import NonNegativeInt, PositiveInt, described

#: The datasets of the CycleGAN paper in the authors' archive.
CYCLEGAN_DATASETS = (
    "apple2orange",
    "summer2winter_yosemite",
    "horse2zebra",
    "monet2photo",
    "cezanne2photo",
    "ukiyoe2photo",
    "vangogh2photo",
    "maps",
    "cityscapes",
    "facades",
    "iphone2dslr_flower",
)
CYCLEGAN_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"


class UnpairedImageDataset(RandomItems):
    """Item i is A's image i (cycling through A when B is larger) with a B image: drawn at random when
    ``random_pairing`` (independently of A, as the authors' loader does), else B's image i (cycling).
    The length is that of the larger domain. Keys are indices or ``(epoch, index)`` (see RandomItems)."""

    def __init__(self, a: Dataset[Tensor], b: Dataset[Tensor], random_pairing: bool, seed: int) -> None:
        super().__init__(seed)
        self.a, self.b, self.random_pairing = a, b, random_pairing

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Tensor, Tensor]:
        with self.random_item(key) as index:
            b_index = int(torch.randint(len(self.b), ())) if self.random_pairing else index % len(self.b)
            return self.a[index % len(self.a)], self.b[b_index]


@described(ImageFolderDataModule)
class UnpairedImageDataModule(TranslationDataModule):
    """Images of two domains A and B with no correspondence between them, e.g. horses and zebras.

    Batches are ``(A images, B images)``, each (batch, channels, image_size, image_size) in [-1, 1]; every A
    image comes with a B image drawn independently at random. The data is read from
    ``{root}/{dataset}/trainA/`` and ``trainB/`` (``testA/`` and ``testB/`` for :meth:`test_dataset`), any
    image files, subfolders searched too. The sets of the CycleGAN paper (``CYCLEGAN_DATASETS``) download
    from the authors' archive. For training, images get the paper's random jitter: the short side resized to
    ``load_size`` (286 for 256x256 images), a random ``image_size`` crop, and a random horizontal flip; each
    domain's images independently. Files are read, and each folder checked before training, as
    :class:`~datamodules.image_folder.ImageFolderDataModule` reads and checks them.

    Args:
        root: folder that contains ``{dataset}/`` (or receives the download).
        dataset: name of the folder under root, e.g. horse2zebra.
        download: whether prepare_data() downloads the dataset (one of the CycleGAN paper's) when absent.
        channels: 3 to load the images as RGB colour, 1 as greyscale (images are converted to it, as the
            authors' loader converts horse2zebra's few greyscale images to RGB).
        image_size: height and width of the images.
        load_size: size the short side is resized to before the random crop; by default image_size * 286/256
            rounded, the paper's proportion. image_size turns the jitter off.
        flip: whether training images are mirrored at random.
        batch_size: pairs per training batch (1 in the paper).
        num_workers: DataLoader worker processes (0 loads in the main process).
        seed: seed of the training order and the random crops, flips and pairings (each a function of the seed,
            the epoch and the item, so a resumed run draws what an uninterrupted one would).
    """

    downloadable = CYCLEGAN_DATASETS
    url_template = CYCLEGAN_URL
    layout = "the folders trainA/ and trainB/ (and testA/, testB/) of image files"

    def __init__(
        self,
        root: str = "data",
        dataset: str = "horse2zebra",
        download: bool = True,
        channels: int = 3,
        image_size: PositiveInt = 256,
        load_size: PositiveInt | None = None,
        flip: bool = True,
        batch_size: PositiveInt = 1,
        num_workers: NonNegativeInt = 2,
        seed: NonNegativeInt = 0,
        check_images: NonNegativeInt | None = CHECK_IMAGES,
    ) -> None:
        super().__init__(
            root, dataset, download, channels, image_size, load_size, flip, batch_size, num_workers, seed, check_images
        )

    def expected_paths(self) -> list[Path]:
        return [self.dataset_folder / "trainA", self.dataset_folder / "trainB"]

    def load(self) -> Dataset:
        return self.pairs("train", self.training_transform(), random_pairing=True)

    def test_dataset(self, split: str = "test") -> Dataset:
        """``{split}A`` and ``{split}B`` in order, A's image i with B's image i (cycling through the smaller)."""
        return self.pairs(split, self.test_transform(), random_pairing=False)

    def pairs(self, split: str, transform: Callable, random_pairing: bool) -> UnpairedImageDataset:
        a, b = (
            ImageFileDataset(self.dataset_folder / f"{split}{domain}", self.pil_mode, transform, self.check_images)
            for domain in "AB"
        )
        return UnpairedImageDataset(a, b, random_pairing, self.seed)
