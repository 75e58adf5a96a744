"""Any folder of images, e.g. your own photos or an extracted dataset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, is_image_file

from datamodules.base import ImageDataModule, image_transform
from lightning_gans.settings import NonNegativeInt, PositiveInt, Probability

#: PIL conversion mode for each supported channel count.
PIL_MODES = {1: "L", 3: "RGB"}


class ImageFileDataset(Dataset[Tensor]):
    """The image files under ``folder`` (searched recursively, sorted by path), without labels.

    Files whose extension is not in torchvision's ``IMG_EXTENSIONS`` are not images and are left out.
    """

    def __init__(self, folder: Path, mode: str, transform: Callable[[Image.Image], Tensor]) -> None:
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Image folder {folder} does not exist or is not a folder. Point root "
                "(--data.init_args.root) at a folder that contains image files (subfolders are searched too)."
            )
        self.paths = sorted(path for path in folder.rglob("*") if path.is_file() and is_image_file(path.name))
        if not self.paths:
            raise FileNotFoundError(
                f"No image files in {folder} or its subfolders. Accepted extensions: "
                f"{' '.join(IMG_EXTENSIONS)} (any letter case). Add images there or point root "
                "(--data.init_args.root) at the folder that holds them."
            )
        self.mode = mode
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Tensor:
        path = self.paths[index]
        try:
            # convert() decodes the whole file, so a truncated image fails here and not later.
            with Image.open(path) as image:
                converted = image.convert(self.mode)
        except OSError as error:
            # A plain OSError with the message survives being re-raised from a DataLoader worker.
            raise OSError(
                f"Cannot read image {path}: {error}. The file is corrupt or not really an image; remove or replace it."
            ) from error
        return self.transform(converted)


class ImageFolderDataModule(ImageDataModule):
    """All images in a folder and its subfolders, as grey or colour, resized and centre-cropped.

    Batches are image tensors (batch, channels, image_size, image_size) in [-1, 1], without labels (class
    subfolders are not needed and not used). Files are taken in sorted path order.

    Args:
        root: the folder of images; subfolders are searched too.
        channels: 3 to load the images as RGB colour, 1 as greyscale.
        image_size: height and width of the images (short side resized, then centre-cropped).
        batch_size: images per training batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_fraction: share of the images held out for validation, in [0, 1); 0 means no validation.
        seed: seed of the train/validation split and of the order the training images are drawn in.
    """

    def __init__(
        self,
        root: str = "data",
        channels: int = 3,
        image_size: PositiveInt = 64,
        batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 2,
        val_fraction: Probability = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(image_size, batch_size, num_workers, val_fraction, seed)
        if channels not in PIL_MODES:
            raise ValueError(
                f"channels must be 1 (greyscale) or 3 (RGB colour), got {channels!r}. Pass channels=1 or "
                "channels=3 (--data.init_args.channels 3)."
            )
        self.root = Path(root).expanduser()
        self.channels = channels

    def train_dataset(self) -> Dataset:
        return ImageFileDataset(self.root, PIL_MODES[self.channels], image_transform(self.image_size, self.channels))
