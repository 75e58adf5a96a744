"""scikit-learn's bundled 8x8 handwritten digits: tiny, offline, the quick start."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch.utils.data import Dataset, TensorDataset

from datamodules.base import ImageDataModule, image_transform
from lightning_gans.settings import NonNegativeInt, PositiveInt, Probability

#: load_digits() stores pixel intensities as counts from 0 to 16.
DIGITS_MAX_VALUE = 16.0


class DigitsDataModule(ImageDataModule):
    """The 1,797 handwritten digits bundled with scikit-learn (8x8, grey), upsampled to ``image_size``.

    Needs no download and trains in seconds, which makes it the quick-start dataset. The whole set is
    transformed once in setup() and kept in memory, so worker processes only add overhead.
    Batches are (images, labels) with images (batch, 1, image_size, image_size) in [-1, 1] and labels 0-9.

    Args:
        image_size: height and width of the upsampled images (DCGAN needs a power of two).
        batch_size: images per training batch.
        num_workers: DataLoader worker processes; 0 because the data is already in memory.
        val_fraction: share of the images held out for validation, in [0, 1); 0 means no validation.
        seed: seed of the train/validation split and of the order the training images are drawn in.
    """

    channels = 1
    #: Labels are 0-9 (class-conditional models check theirs against it).
    num_classes = 10

    def __init__(
        self,
        image_size: PositiveInt = 32,
        batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 0,
        val_fraction: Probability = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(image_size, batch_size, num_workers, val_fraction, seed)

    def train_dataset(self) -> Dataset:
        digits = load_digits()
        images = torch.from_numpy(digits.images).float().unsqueeze(1) / DIGITS_MAX_VALUE
        # The shared transform works on the whole (N, 1, 8, 8) batch at once; bilinear resize keeps [0, 1].
        images = image_transform(self.image_size, self.channels)(images)
        return TensorDataset(images, torch.from_numpy(digits.target))
