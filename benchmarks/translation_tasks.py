"""Two small real image-to-image tasks at 32x32, written in the datamodules' on-disk formats.

- ``cifar_horse2deer``: CIFAR-10's horses (domain A) and deer (domain B), unpaired, in CycleGAN's layout
  ``trainA/ trainB/ testA/ testB/``, extracted from CIFAR-10 as JPEG (``train/<class>/NNNN.jpg``,
  ``test/<class>/NNNN.jpg``, a .tar.gz).
- ``mnist_edges2digits``: MNIST digits paired with their edges (Sobel gradient magnitude), one greyscale
  PNG per pair in pix2pix's format, edges on the left (A) and the digit on the right (B), in ``train/``
  and ``test/``, written from torchvision's MNIST files.

Write both under ``data/`` for configs/cyclegan_cifar_horse2deer_32.yaml and configs/pix2pix_mnist_edges_32.yaml:

    python -m benchmarks.translation_tasks --cifar_archive ../shared/data/cifar10-jpeg.tar.gz \\
        --mnist_root ../shared/data --output_root data
"""

from __future__ import annotations

import argparse
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.datasets import MNIST

#: CIFAR-10 class folder -> translation domain.
HORSE2DEER_DOMAINS = {"horse": "A", "deer": "B"}
#: Sobel's response to a step from 0 to 1, which scales edge magnitudes to [0, 1].
SOBEL_STEP = 4.0


def write_cifar_horse2deer(
    archive: Path, root: Path, train_per_domain: int | None = None, test_per_domain: int | None = None
) -> Path:
    """Extract the horse and deer JPEGs (all 5,000 + 1,000 of each, or the first ``*_per_domain``) into
    ``root/cifar_horse2deer/``; returns that folder."""
    folder = root / "cifar_horse2deer"
    limits = {"train": train_per_domain, "test": test_per_domain}
    written: Counter[str] = Counter()
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[1] not in HORSE2DEER_DOMAINS:
                continue
            split, label, name = parts
            subfolder = f"{split}{HORSE2DEER_DOMAINS[label]}"
            limit = limits[split]
            if limit is not None and written[subfolder] >= limit:
                continue
            (folder / subfolder).mkdir(parents=True, exist_ok=True)
            (folder / subfolder / name).write_bytes(tar.extractfile(member).read())
            written[subfolder] += 1
    if len(written) != 4:
        raise ValueError(f"{archive} holds no train/ and test/ folders of horse and deer JPEGs (found {dict(written)})")
    return folder


def sobel_edges(images: np.ndarray) -> np.ndarray:
    """uint8 greyscale images (N, H, W) -> their Sobel gradient magnitudes as uint8, a full step giving 255."""
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)
    kernel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    # Replicated borders: no edges where the image meets its border.
    gradients = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), torch.stack([kernel, kernel.T]).unsqueeze(1))
    magnitude = gradients.pow(2).sum(1).sqrt().div(SOBEL_STEP).clamp(0, 1)
    return magnitude.mul(255).round().byte().numpy()


def write_mnist_edges2digits(mnist_root: Path, root: Path, n_train: int = 10_000, n_test: int = 1_000) -> Path:
    """Write the first ``n_train`` training and ``n_test`` test digits of MNIST (read from
    ``mnist_root/MNIST/raw``) as edges|digit PNGs into ``root/mnist_edges2digits/``; returns that folder."""
    folder = root / "mnist_edges2digits"
    for split, n in (("train", n_train), ("test", n_test)):
        digits = MNIST(str(mnist_root), train=split == "train", download=False).data[:n].numpy()
        (folder / split).mkdir(parents=True, exist_ok=True)
        for index, (edges, digit) in enumerate(zip(sobel_edges(digits), digits, strict=True)):
            Image.fromarray(np.concatenate([edges, digit], axis=1)).save(folder / split / f"{index:05d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar_archive", type=Path, required=True, help="CIFAR-10 as JPEG, a .tar.gz")
    parser.add_argument("--mnist_root", type=Path, required=True, help="folder that holds MNIST/raw/")
    parser.add_argument("--output_root", type=Path, default=Path("data"))
    args = parser.parse_args()
    for folder in (
        write_cifar_horse2deer(args.cifar_archive, args.output_root),
        write_mnist_edges2digits(args.mnist_root, args.output_root),
    ):
        print(f"wrote {folder}")


if __name__ == "__main__":
    main()
