"""MNIST handwritten digits through torchvision."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset
from torchvision.datasets import MNIST

from datamodules.base import DownloadableImageDataModule, image_transform
from lightning_gans.settings import NonNegativeInt, PositiveInt, Probability


class MNISTDataModule(DownloadableImageDataModule):
    """MNIST's 60,000 training digits (28x28, grey), resized to ``image_size``.

    Batches are (images, labels) with images (batch, 1, image_size, image_size) in [-1, 1] and labels 0-9.
    The data is read from ``{root}/MNIST/raw/`` (the four uncompressed IDX files, as torchvision keeps them).

    Args:
        root: folder that contains ``MNIST/raw/`` (or receives the download).
        download: whether prepare_data() downloads MNIST when it is not under ``root`` yet.
        image_size: height and width of the images (DCGAN needs a power of two).
        batch_size: images per training batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_fraction: share of the training images held out for validation, in [0, 1); 0 means no validation.
        seed: seed of the train/validation split and of the order the training images are drawn in.
    """

    channels = 1
    #: Labels are 0-9 (class-conditional models check theirs against it).
    num_classes = 10
    dataset_name = "MNIST"
    folder_name = "MNIST"

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        image_size: PositiveInt = 32,
        batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 2,
        val_fraction: Probability = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(root, download, image_size, batch_size, num_workers, val_fraction, seed)

    def expected_paths(self) -> list[Path]:
        # torchvision lists the gzipped downloads and keeps them uncompressed; it needs the test files too.
        return [self.dataset_folder / "raw" / Path(archive).stem for archive, _ in MNIST.resources]

    def fetch(self) -> None:
        MNIST(self.root, train=True, download=True)

    def load(self) -> Dataset:
        return MNIST(self.root, train=True, transform=image_transform(self.image_size, self.channels))

    def manual_steps(self) -> str:
        archives = ", ".join(archive for archive, _ in MNIST.resources)
        return (
            f"download the four IDX files from {MNIST.mirrors[0]} ({archives}), gunzip them and put them in "
            f"{self.dataset_folder / 'raw'}"
        )
