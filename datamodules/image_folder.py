"""Any folder of images, e.g. your own photos or an extracted dataset; and the image reading that the
image-to-image datamodules share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, is_image_file

from datamodules.base import ImageDataModule, image_transform
from lightning_gans.settings import NonNegativeInt, PositiveInt, Probability, check_settings

#: PIL conversion mode for each supported channel count.
PIL_MODES = {1: "L", 3: "RGB"}
#: PIL's modes of 16-bit greyscale; its own conversion to 8 bits clips them at 255 instead of scaling.
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
#: What transparent pixels are composited on: white, as image viewers and web pages show icons, logos and
#: cut-outs (the usual transparent images). Dropping alpha would show the colour that transparent pixels
#: happen to store instead, often black, sometimes noise.
BACKGROUND = (255, 255, 255, 255)
#: Folders of at most this many files are checked by default before training. The check reads a small PNG's header
#: and checksums in about 25 us (2,000 32x32 PNGs: 0.05 s), a 512x512 PNG's in 0.3 ms (its checksums cover the whole
#: file), a JPEG's header alone faster; so 50,000 files take from about 1 s to 15 s. Larger folders: when asked.
CHECK_IMAGES = 50_000
#: The most bad files that the folder check's error lists one by one.
LISTED_BAD_FILES = 20


def bomb_or_corrupt(error: Exception) -> str:
    """What went wrong when PIL failed on a file, and what to do about it."""
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return (
            f"PIL refuses it as a possible decompression bomb: {error} If the image is genuine, raise the limit "
            "before training (PIL.Image.MAX_IMAGE_PIXELS = <pixels>, or None for none); else remove or replace it"
        )
    return (
        f"{type(error).__name__}: {error}. The file is corrupt, truncated or not really an image; remove or replace it"
    )


class UnsupportedMode(ValueError):
    """An image whose pixel values have no fixed range, so that no scaling to 8 bits is right for all files."""


@contextmanager
def opened(path: Path) -> Iterator[Image.Image]:
    """``Image.open(path)``, with every failure to read the file, in the block too (where decoding happens), an
    OSError that names the file and says what to do: corrupt or truncated files, files that are not images,
    images larger than PIL's ``MAX_IMAGE_PIXELS`` and images of 32-bit integer or float pixels.

    A plain OSError with the message survives being re-raised from a DataLoader worker.
    """
    try:
        with Image.open(path) as image:
            # A 16-bit PNG is "I" in older Pillow; other "I" and "F" images hold 32-bit values of any range.
            if image.mode == "F" or (image.mode == "I" and image.format != "PNG"):
                raise UnsupportedMode(
                    f"its pixels are 32-bit {'floats' if image.mode == 'F' else 'integers'} (PIL mode {image.mode}), "
                    "whose range is unknown; save it as an 8- or 16-bit PNG or JPEG, or remove it"
                )
            yield image
    # PIL's format plugins raise many types for a bad file (OSError, SyntaxError, ValueError, EOFError, ...).
    except Exception as error:
        reason = str(error) if isinstance(error, UnsupportedMode) else bomb_or_corrupt(error)
        raise OSError(f"Cannot read image {path}: {reason}.") from error


def has_transparency(image: Image.Image) -> bool:
    """Whether ``image`` has an alpha channel (RGBA, LA, PA, ...) or a transparent colour (e.g. a PNG palette's)."""
    return image.mode.endswith(("A", "a")) or "transparency" in image.info


def eight_bit(image: Image.Image, mode: str) -> Image.Image:
    """``image`` in ``mode`` ("L" or "RGB") with 8 bits a channel, by its real bit depth: 16-bit greyscale values
    scaled by 255/65535, and transparent pixels composited on ``BACKGROUND``. (16-bit colour PNGs PIL itself
    reads as 8-bit RGB and RGBA.)"""
    # opened() lets mode "I" through only from a PNG, whose "I" is 16-bit.
    if image.mode in SIXTEEN_BIT_MODES or image.mode == "I":
        values = np.asarray(image).astype(np.uint32)
        grey = Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8))
        if "transparency" in image.info:
            # A 16-bit transparent grey level becomes an alpha channel: 8 bits would merge it with its neighbours.
            alpha = np.where(values == image.info["transparency"], 0, 255).astype(np.uint8)
            grey = Image.merge("LA", (grey, Image.fromarray(alpha)))
        image = grey
    if has_transparency(image):
        image = Image.alpha_composite(Image.new("RGBA", image.size, BACKGROUND), image.convert("RGBA"))
    return image.convert(mode)


def announce_transparency(folder: Path, example: Path, count: int | None, total: int) -> None:
    """Say, once for a folder, that its transparent images are composited on white."""
    which = f"{count} of the {total} image files" if count is not None else "Image files"
    rank_zero_warn(
        f"{which} in {folder} have an alpha channel or a transparent colour, e.g. {example}. Their transparent "
        "pixels become white (composited on white, as a viewer shows them); said once for this folder."
    )


class ImageFileDataset(Dataset[Tensor]):
    """The image files under ``folder`` (searched recursively, sorted by path), without labels, converted to ``mode``
    by their real bit depth (16-bit images scaled, not clipped) with transparent pixels made white.

    Files whose extension is not in torchvision's ``IMG_EXTENSIONS`` are not images and are left out. When the
    folder has at most ``check_images`` files, every file's header (and a PNG's checksums) is read at once (see
    :meth:`check`); else each bad file fails, by name, when it is loaded.
    """

    def __init__(
        self,
        folder: Path,
        mode: str,
        transform: Callable[[Image.Image], Tensor],
        check_images: int | None = CHECK_IMAGES,
    ) -> None:
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Image folder {folder} does not exist or is not a folder. Point root "
                "(--data.init_args.root) at a folder that contains image files (subfolders are searched too)."
            )
        self.folder = folder
        self.paths = sorted(path for path in folder.rglob("*") if path.is_file() and is_image_file(path.name))
        if not self.paths:
            raise FileNotFoundError(
                f"No image files in {folder} or its subfolders. Accepted extensions: "
                f"{' '.join(IMG_EXTENSIONS)} (any letter case). Add images there or point root "
                "(--data.init_args.root) at the folder that holds them."
            )
        self.mode = mode
        self.transform = transform
        # Set once the folder's transparent images are announced, by the check or by the first one loaded.
        self.transparency_announced = False
        if check_images and len(self.paths) <= check_images:
            self.check()
        elif check_images:
            rank_zero_info(
                f"{folder} holds {len(self.paths)} image files, more than check_images={check_images}: they are not "
                "checked before training, and a bad file fails when it is loaded. Raise check_images "
                f"(--data.init_args.check_images {len(self.paths)}) to check them all first."
            )

    def check(self) -> None:
        """Read every file's header (and a PNG's checksums, which catches truncated PNGs) without decoding it, and
        raise one OSError that lists the files that cannot be read, each with the reason.

        Truncated JPEG and WebP bodies need decoding to show, so they fail, by name, when loaded.
        """
        bad, transparent = [], []
        for path in self.paths:
            try:
                with opened(path) as image:
                    if has_transparency(image):
                        transparent.append(path)
                    image.verify()
            except OSError as error:
                bad.append(str(error))
        if bad:
            more = len(bad) - LISTED_BAD_FILES
            listed = bad[:LISTED_BAD_FILES] + ([f"... and {more} more."] if more > 0 else [])
            raise OSError(
                f"{len(bad)} of the {len(self.paths)} image files under {self.folder} cannot be read; fix them before "
                "training:" + "".join(f"\n  {line}" for line in listed)
            )
        if transparent:
            announce_transparency(self.folder, transparent[0], len(transparent), len(self.paths))
        self.transparency_announced = True

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Tensor:
        path = self.paths[index]
        with opened(path) as image:
            if has_transparency(image) and not self.transparency_announced:
                # Unchecked folder: announced by each loading process (each DataLoader worker) at its first one.
                announce_transparency(self.folder, path, None, len(self.paths))
                self.transparency_announced = True
            # convert() decodes the whole file, so a truncated image fails here (by name) and not later.
            converted = eight_bit(image, self.mode)
        return self.transform(converted)


class ImageFolderDataModule(ImageDataModule):
    """All images in a folder and its subfolders, as grey or colour, resized and centre-cropped.

    Batches are image tensors (batch, channels, image_size, image_size) in [-1, 1], without labels (class
    subfolders are not needed and not used). Files are taken in sorted path order.

    Images are read by their real bit depth: 16-bit PNGs and TIFFs are scaled to 8 bits, not clipped (which
    would turn them almost white). Transparent pixels (RGBA, LA, palette or colour-key transparency) are
    composited on white, as a viewer shows icons, logos and cut-outs; a warning says so once, naming one such
    file and their count. Images of 32-bit integer or float pixels are refused, since their range is unknown.

    Before training, setup() checks a folder of at most ``check_images`` files: it reads every file's header
    (and a PNG's checksums) without decoding it: 2,000 32x32 PNGs take 0.05 s, a 512x512 PNG 0.3 ms, so the
    default 50,000 files take 1 to 15 s. It fails with one error that lists every file that cannot be read (corrupt,
    truncated PNG, not an image, more pixels than PIL's ``MAX_IMAGE_PIXELS``, unsupported pixel format) with
    the reason. Files it cannot judge without decoding (a truncated JPEG) and the files of unchecked folders
    fail by name when the loader reaches them.

    Args:
        root: the folder of images; subfolders are searched too.
        channels: 3 to load the images as RGB colour, 1 as greyscale.
        image_size: height and width of the images (short side resized, then centre-cropped).
        batch_size: images per training batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_fraction: share of the images held out for validation, in [0, 1); 0 means no validation.
        seed: seed of the train/validation split and of the order the training images are drawn in.
        check_images: setup() reads the header of every image file, listing all unreadable ones at once, when
            a folder holds at most this many files (fast: 25 us a small PNG); 0 or None turns the check off.
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
        check_images: NonNegativeInt | None = CHECK_IMAGES,
    ) -> None:
        check_settings(ImageFolderDataModule, locals())
        super().__init__(image_size, batch_size, num_workers, val_fraction, seed)
        if channels not in PIL_MODES:
            raise ValueError(
                f"channels must be 1 (greyscale) or 3 (RGB colour), got {channels!r}. Pass channels=1 or "
                "channels=3 (--data.init_args.channels 3)."
            )
        self.root = Path(root).expanduser()
        self.channels = channels
        self.check_images = check_images

    def train_dataset(self) -> Dataset:
        transform = image_transform(self.image_size, self.channels)
        return ImageFileDataset(self.root, PIL_MODES[self.channels], transform, self.check_images)
