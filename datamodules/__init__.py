"""LightningDataModules that yield images in [-1, 1] for the GANs (of this project they use only the ranged setting
types of lightning_gans.settings)."""

from datamodules.base import DownloadableImageDataModule, ImageDataModule, image_transform
from datamodules.celeba import CelebADataModule
from datamodules.cifar10 import CIFAR10DataModule
from datamodules.digits import DigitsDataModule
from datamodules.image_folder import ImageFileDataset, ImageFolderDataModule
from datamodules.lsun import LSUNDataModule
from datamodules.mnist import MNISTDataModule
from datamodules.paired import PairedImageDataModule
from datamodules.unpaired import UnpairedImageDataModule

__all__ = [
    "CIFAR10DataModule",
    "CelebADataModule",
    "DigitsDataModule",
    "DownloadableImageDataModule",
    "ImageDataModule",
    "ImageFileDataset",
    "ImageFolderDataModule",
    "LSUNDataModule",
    "MNISTDataModule",
    "image_transform",
    "PairedImageDataModule",
    "UnpairedImageDataModule",
]
