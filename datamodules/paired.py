"""Aligned image pairs in pix2pix's format: one file per pair, A on the left half and B on the right."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.image_folder import CHECK_IMAGES, ImageFileDataset, ImageFolderDataModule, opened
from datamodules.translation import RandomItems, TranslationDataModule
from lightning_gans.settings import NonNegativeInt, PositiveInt, described

#: The datasets of the pix2pix paper in the authors' archive.
PIX2PIX_DATASETS = ("facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day")
PIX2PIX_URL = "https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"


def side_by_side_problem(width: int, height: int) -> str | None:
    """Why an image of this size is not a pair of square halves side by side, or None if it is."""
    if width % 2:
        return f"its width {width} is odd, so it does not split into two halves"
    if width != 2 * height:
        return (
            f"it is {width}x{height}, so its halves are {width // 2}x{height}, not square; pix2pix pairs are "
            "twice as wide as high"
        )
    return None


class NotSideBySideError(ValueError):
    """An image that does not hold two square halves side by side."""


class SideBySideImages:
    """PIL image of A|B -> the two halves, through one transform call (so one random crop and flip for both)."""

    def __init__(self, transform: Callable) -> None:
        self.transform = transform

    def __call__(self, image: Image.Image) -> tuple[Tensor, Tensor]:
        width, height = image.size
        problem = side_by_side_problem(width, height)
        if problem is not None:
            raise NotSideBySideError(problem)
        half = width // 2
        return self.transform(image.crop((0, 0, half, height)), image.crop((half, 0, width, height)))


class PairedImageDataset(RandomItems):
    """The side-by-side A|B image files under ``folder`` (sorted by path) as (A, B) pairs. Keys are indices or
    ``(epoch, index)`` (see RandomItems); ``check_images`` as for ImageFileDataset."""

    def __init__(self, folder: Path, mode: str, transform: Callable, seed: int, check_images: int | None) -> None:
        super().__init__(seed)
        self.files = ImageFileDataset(folder, mode, SideBySideImages(transform), check_images)
        # Reading the first file's size is cheap; a wrong format shows before training starts.
        with opened(self.files.paths[0]) as first:
            problem = side_by_side_problem(*first.size)
        if problem is not None:
            raise self.not_a_pair(0, problem)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Tensor, Tensor]:
        with self.random_item(key) as index:
            try:
                return self.files[index]
            except NotSideBySideError as error:
                raise self.not_a_pair(index, str(error)) from error

    def not_a_pair(self, index: int, problem: str) -> ValueError:
        return ValueError(
            f"{self.files.paths[index]} is not a pix2pix pair: {problem}. Each file must hold image A on the left "
            "and image B on the right, both square and of the same size (e.g. 512x256 for two 256x256 images)."
        )


@described(ImageFolderDataModule)
class PairedImageDataModule(TranslationDataModule):
    """Aligned pairs of images (A, B), e.g. facade label maps and photos, stored side by side as pix2pix does.

    Batches are ``(A images, B images)``, each (batch, channels, image_size, image_size) in [-1, 1], where
    B is A's counterpart. The data is read from ``{root}/{dataset}/train/`` (``{split}/`` for
    :meth:`test_dataset`, e.g. test or val): image files that hold A on the left half and B on the right,
    both square (e.g. 512x256 for 256x256 pairs). The sets of the pix2pix paper (``PIX2PIX_DATASETS``)
    download from the authors' archive. For training, both halves get the same random jitter of the
    paper: the short side resized to ``load_size`` (286 for 256x256 images), one random ``image_size``
    crop, and one random horizontal flip. Files are read, and checked before training, as
    :class:`~datamodules.image_folder.ImageFolderDataModule` reads and checks them.

    Which side is the input is the model's choice (pix2pix's ``direction``): facades holds photos in A and
    label maps in B, and the paper translates B to A.

    Args:
        root: folder that contains ``{dataset}/`` (or receives the download).
        dataset: name of the folder under root, e.g. facades.
        download: whether prepare_data() downloads the dataset (one of the pix2pix paper's) when absent.
        channels: 3 to load the images as RGB colour, 1 as greyscale (images are converted to it).
        image_size: height and width of each image of a pair.
        load_size: size each half's short side is resized to before the random crop; by default
            image_size * 286/256 rounded, the paper's proportion. image_size turns the jitter off.
        flip: whether training pairs are mirrored at random (both halves alike).
        batch_size: pairs per training batch (1 in the paper's facades experiment).
        num_workers: DataLoader worker processes (0 loads in the main process).
        seed: seed of the training order and the random crops and flips (each a function of the seed, the epoch
            and the pair, so a resumed run draws what an uninterrupted one would).
    """

    downloadable = PIX2PIX_DATASETS
    url_template = PIX2PIX_URL
    layout = "a folder train/ (and test/ or val/) of side-by-side A|B image files"

    def __init__(
        self,
        root: str = "data",
        dataset: str = "facades",
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
        return [self.dataset_folder / "train"]

    def load(self) -> Dataset:
        return PairedImageDataset(
            self.dataset_folder / "train", self.pil_mode, self.training_transform(), self.seed, self.check_images
        )

    def test_dataset(self, split: str = "test") -> Dataset:
        """The pairs in ``{split}/`` (test, or val for the sets that have no test split), without jitter."""
        return PairedImageDataset(
            self.dataset_folder / split, self.pil_mode, self.test_transform(), self.seed, self.check_images
        )
