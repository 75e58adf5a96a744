"""CelebA faces (aligned and cropped) through torchvision."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset
from torchvision.datasets import CelebA
from torchvision.transforms import v2

from datamodules.base import DownloadableImageDataModule, image_transform
from lightning_gans.settings import NonNegativeInt, PositiveInt, Probability, check_settings, ranged

#: CelebA's aligned images are all 178 pixels wide and 218 high; a wider crop would have to pad.
ALIGNED_IMAGE_WIDTH = 178
CropSize = ranged(int, at_least=1, at_most=ALIGNED_IMAGE_WIDTH)
CELEBA_PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


class CelebADataModule(DownloadableImageDataModule):
    """CelebA's 162,770 training faces: the aligned 178x218 images, centre-cropped, resized to ``image_size``.

    Batches are (images, attributes) with images (batch, 3, image_size, image_size) in [-1, 1] and the 40
    binary face attributes (batch, 40) as labels. The data is read from ``{root}/celeba/``:
    ``img_align_celeba/`` and the annotation text files. torchvision downloads it from Google Drive, which
    needs the ``gdown`` package and often hits Drive's download quota; the manual route is in the errors.

    Args:
        root: folder that contains ``celeba/`` (or receives the download).
        download: whether prepare_data() downloads CelebA when it is not under ``root`` yet.
        crop_size: side of the square centre crop taken from each 178x218 image before resizing; 178 keeps
            the face with hair and background, smaller crops such as 108 keep little more than the face.
        image_size: height and width of the images.
        batch_size: images per training batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_fraction: share of the training images held out for validation, in [0, 1); 0 means no validation.
        seed: seed of the train/validation split and of the order the training images are drawn in.
    """

    channels = 3
    dataset_name = "CelebA"
    folder_name = CelebA.base_folder

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        crop_size: CropSize = ALIGNED_IMAGE_WIDTH,
        image_size: PositiveInt = 64,
        batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 2,
        val_fraction: Probability = 0.0,
        seed: int = 0,
    ) -> None:
        check_settings(CelebADataModule, locals())
        super().__init__(root, download, image_size, batch_size, num_workers, val_fraction, seed)
        self.crop_size = crop_size

    def expected_paths(self) -> list[Path]:
        folder = self.dataset_folder
        # The zip may be deleted once extracted; torchvision only needs the images folder and the text files.
        text_files = [folder / name for _, _, name in CelebA.file_list if not name.endswith(".zip")]
        return [folder / "img_align_celeba", *text_files]

    def fetch(self) -> None:
        CelebA(self.root, split="train", download=True)

    def load(self) -> Dataset:
        transform = image_transform(self.image_size, self.channels, v2.CenterCrop(self.crop_size))
        # target_type="attr" gives one (40,) tensor per image, which the default collate batches.
        return CelebA(self.root, split="train", target_type="attr", transform=transform)

    def manual_steps(self) -> str:
        names = ", ".join(name for _, _, name in CelebA.file_list)
        return (
            f"download {names} from {CELEBA_PAGE} (Align&Cropped Images and Anno/Eval), put them in "
            f"{self.dataset_folder} and unzip img_align_celeba.zip there"
        )
