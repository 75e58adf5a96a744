"""CIFAR-10 through torchvision."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset
from torchvision.datasets import CIFAR10

from datamodules.base import DownloadableImageDataModule, image_transform
from lightning_gans.settings import NonNegativeInt, PositiveInt, Probability


class CIFAR10DataModule(DownloadableImageDataModule):
    """CIFAR-10's 50,000 training images (32x32, colour), resized to ``image_size``.

    Batches are (images, labels) with images (batch, 3, image_size, image_size) in [-1, 1] and labels 0-9.
    The data is read from ``{root}/cifar-10-batches-py/`` (the Python version of CIFAR-10).

    Args:
        root: folder that contains ``cifar-10-batches-py/`` (or receives the download).
        download: whether prepare_data() downloads CIFAR-10 when it is not under ``root`` yet.
        image_size: height and width of the images.
        batch_size: images per training batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_fraction: share of the training images held out for validation, in [0, 1); 0 means no validation.
        seed: seed of the train/validation split and of the order the training images are drawn in.
    """

    channels = 3
    #: Labels are 0-9 (class-conditional models check theirs against it).
    num_classes = 10
    dataset_name = "CIFAR-10"
    folder_name = CIFAR10.base_folder

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
        # torchvision checks the test batch and the metadata as well, even for the training split.
        names = [name for name, _ in CIFAR10.train_list + CIFAR10.test_list] + [CIFAR10.meta["filename"]]
        return [self.dataset_folder / name for name in names]

    def fetch(self) -> None:
        CIFAR10(self.root, train=True, download=True)

    def load(self) -> Dataset:
        return CIFAR10(self.root, train=True, transform=image_transform(self.image_size, self.channels))

    def manual_steps(self) -> str:
        return f"download {CIFAR10.url} and extract it in {self.root} (it unpacks to {self.folder_name}/)"
