"""Train the digit classifier that FID/KID/IS use on MNIST and scikit-learn's digits, and report its accuracy.

    python -m benchmarks.train_digit_classifier --mnist_root ../shared/data

Training data: MNIST's 60,000 training images and a seeded 80% of scikit-learn's 1,797 digits (repeated so that
they make up a fifth of every epoch), both through the datamodules' own transform at 32x32, so the classifier sees
exactly what the GANs train on. Test accuracy is measured on MNIST's 10,000 test images and the other 20% of the
digits. Writes lightning_gans/metrics/weights/digit_classifier.pt (the shipped weights) unless --output says
otherwise.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import Tensor
from torch.utils.data import ConcatDataset, DataLoader, TensorDataset, random_split
from torchvision.datasets import MNIST

from datamodules.base import image_transform
from datamodules.digits import DIGITS_MAX_VALUE
from lightning_gans.metrics.digit_classifier import WEIGHTS, DigitClassifier

SIZE = DigitClassifier.input_size


def mnist(root: str, train: bool) -> TensorDataset:
    data = MNIST(root, train=train, download=False)
    # The datamodule's transform, on the whole uint8 batch at once (the same ops as per PIL image).
    return TensorDataset(image_transform(SIZE, 1)(data.data.unsqueeze(1)), data.targets)


def digits(seed: int) -> tuple[TensorDataset, TensorDataset]:
    raw = load_digits()
    images = image_transform(SIZE, 1)(torch.from_numpy(raw.images).float().unsqueeze(1) / DIGITS_MAX_VALUE)
    full = TensorDataset(images, torch.from_numpy(raw.target))
    train, test = random_split(full, [0.8, 0.2], generator=torch.Generator().manual_seed(seed))
    return _materialise(train), _materialise(test)


def _materialise(subset: torch.utils.data.Subset) -> TensorDataset:
    images, labels = zip(*subset, strict=True)
    return TensorDataset(torch.stack(images), torch.stack(labels))


@torch.no_grad()
def accuracy(model: DigitClassifier, data: TensorDataset) -> float:
    images, labels = data.tensors
    predictions = torch.cat([model.predict(batch) for batch in images.split(1000)])
    return (predictions == labels).float().mean().item()


def shifted(images: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Each image moved by a random whole-pixel offset (zero-padded): GAN samples are rarely centred exactly."""
    padded = F.pad(images, [max_shift] * 4, value=-1.0)
    offsets = torch.randint(0, 2 * max_shift + 1, (len(images), 2), generator=generator)
    return torch.stack([p[:, y : y + SIZE, x : x + SIZE] for p, (y, x) in zip(padded, offsets.tolist(), strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist_root", required=True, help="folder that contains MNIST/raw")
    parser.add_argument("--output", type=Path, default=WEIGHTS)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    mnist_train, mnist_test = mnist(args.mnist_root, train=True), mnist(args.mnist_root, train=False)
    digits_train, digits_test = digits(args.seed)
    repeats = round(len(mnist_train) / 4 / len(digits_train))  # digits: a fifth of each epoch
    train = ConcatDataset([mnist_train, *[digits_train] * repeats])
    loader = DataLoader(train, batch_size=128, shuffle=True, generator=torch.Generator().manual_seed(args.seed))

    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=args.epochs * len(loader))
    augment = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        for images, labels in loader:
            loss = F.cross_entropy(model.logits(shifted(images, 2, augment)), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        print(
            f"epoch {epoch + 1}: loss {loss.item():.4f}, test accuracy MNIST {accuracy(model, mnist_test):.4f}, "
            f"digits {accuracy(model, digits_test):.4f} ({time.perf_counter() - start:.0f} s)"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
