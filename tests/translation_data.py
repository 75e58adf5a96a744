"""Small image-to-image datasets in the real on-disk formats, for the registry, the CLI tests and ours."""

from __future__ import annotations

import atexit
import functools
import inspect
import pydoc
import shutil
import tempfile
from pathlib import Path

import numpy as np
import yaml
from PIL import Image
from sklearn.datasets import load_digits

#: load_digits() stores pixel intensities as counts from 0 to 16.
DIGITS_MAX_VALUE = 16


def pattern(index: int, size: int, mode: str) -> Image.Image:
    """A size x size image that differs per index and spans dark to bright."""
    rows, cols = np.mgrid[0:size, 0:size]
    grey = (rows * 7 + cols * 3 + index * 41) % 256
    pixels = grey if mode == "L" else np.stack([grey, (grey + 85) % 256, np.full_like(grey, index * 29 % 256)], -1)
    return Image.fromarray(pixels.astype(np.uint8))


def write_unpaired_layout(root: Path, dataset: str, n: int, size: int, mode: str = "RGB") -> Path:
    """``root/dataset/{trainA,trainB,testA,testB}/`` with n JPEGs each; B holds one image more than A."""
    folder = root / dataset
    for subfolder in ("trainA", "trainB", "testA", "testB"):
        (folder / subfolder).mkdir(parents=True, exist_ok=True)
        for index in range(n + subfolder.endswith("B")):
            pattern(index, size, mode).save(folder / subfolder / f"{index:04d}.jpg", quality=95)
    return folder


def write_paired_layout(root: Path, dataset: str, n: int, size: int, mode: str = "RGB") -> Path:
    """``root/dataset/{train,test}/`` with n side-by-side A|B JPEGs each, B being A mirrored upside down."""
    folder = root / dataset
    for split in ("train", "test"):
        (folder / split).mkdir(parents=True, exist_ok=True)
        for index in range(n):
            a = pattern(index, size, mode)
            pair = Image.new(mode, (2 * size, size))
            pair.paste(a, (0, 0))
            pair.paste(a.transpose(Image.Transpose.FLIP_TOP_BOTTOM), (size, 0))
            pair.save(folder / split / f"{index:04d}.jpg", quality=95)
    return folder


@functools.cache
def digit_translation_root() -> Path:
    """scikit-learn's 8x8 digits as two tiny tasks, written once per process into a temporary folder:
    ``digits_unpaired`` (A: digits 0-4, B: digits 5-9) and ``digits_paired`` (each digit | itself transposed)."""
    root = Path(tempfile.mkdtemp(prefix="lightning_gans_translation_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    digits = load_digits()
    images = (digits.images * (255 / DIGITS_MAX_VALUE)).round().astype(np.uint8)
    low = digits.target < 5
    for split, chosen in (("train", slice(0, 64)), ("test", slice(64, 80))):
        for domain, members in (("A", images[low][chosen]), ("B", images[~low][chosen])):
            (root / "digits_unpaired" / f"{split}{domain}").mkdir(parents=True)
            for index, image in enumerate(members):
                Image.fromarray(image).save(root / "digits_unpaired" / f"{split}{domain}" / f"{index:03d}.png")
        (root / "digits_paired" / split).mkdir(parents=True)
        for index, image in enumerate(images[chosen]):
            pair = np.concatenate([image, image.T], axis=1)
            Image.fromarray(pair).save(root / "digits_paired" / split / f"{index:03d}.png")
    return root


def write_config_data(config: Path, root: Path, n: int = 4) -> bool:
    """If ``config`` trains on an UnpairedImageDataModule or PairedImageDataModule, write n images (pairs) of its
    dataset's layout under ``root`` at its image size and return True; else return False."""
    data = yaml.safe_load(config.read_text())["data"]
    writers = {
        "datamodules.UnpairedImageDataModule": write_unpaired_layout,
        "datamodules.PairedImageDataModule": write_paired_layout,
    }
    if data["class_path"] not in writers:
        return False
    signature = inspect.signature(pydoc.locate(data["class_path"]))
    settings = {name: p.default for name, p in signature.parameters.items()} | data.get("init_args", {})
    mode = "L" if settings["channels"] == 1 else "RGB"
    writers[data["class_path"]](root, settings["dataset"], n, settings["image_size"], mode)
    return True
