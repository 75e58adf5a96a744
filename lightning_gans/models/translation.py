"""What the image-to-image models (pix2pix, CycleGAN) share: directions, batches, the learning-rate schedule."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from lightning_gans.models.base import GANModule

#: Translation directions between the domains A and B.
DIRECTIONS = ("AtoB", "BtoA")
REVERSE = {"AtoB": "BtoA", "BtoA": "AtoB"}


def check_direction(model: GANModule, direction: str, directions: tuple[str, ...]) -> None:
    if direction not in directions:
        raise ValueError(
            f"{type(model).__name__} translates {' and '.join(directions)}, not {direction!r}"
            + (" (pix2pix learns one direction: train another model for the other)" if len(directions) == 1 else "")
        )


def image_pair(model: GANModule, batch: tuple | list) -> tuple[Tensor, Tensor]:
    """A batch's A images and B images, each checked against the model's networks."""
    pair = isinstance(batch, (tuple, list)) and len(batch) == 2
    if pair and not all(isinstance(item, Tensor) and item.dim() == 4 for item in batch):
        raise ValueError(
            f"{type(model).__name__} trains on batches of (A images, B images), as UnpairedImageDataModule and "
            "PairedImageDataModule yield them; got a pair whose second item is not a batch of images (a labelled "
            "datamodule such as DigitsDataModule or MNISTDataModule yields (images, labels)). Train it on one of those "
            "two datamodules."
        )
    if not pair:
        raise ValueError(
            f"{type(model).__name__} trains on batches of (A images, B images), as UnpairedImageDataModule and "
            f"PairedImageDataModule yield them; got a {type(batch).__name__}"
            + (f" of {len(batch)} items" if isinstance(batch, (tuple, list)) else "")
        )
    return model.real_images(batch[0]), model.real_images(batch[1])


def linear_decay_factor(epoch: int, constant_epochs: int, decay_epochs: int) -> float:
    """1 for the first ``constant_epochs`` epochs, then falling by 1/(decay_epochs + 1) per epoch, as in the
    authors' code: the last of the ``decay_epochs`` trains at 1/(decay_epochs + 1) of the rate, the next
    would train at 0."""
    return 1.0 - max(0, epoch + 1 - constant_epochs) / (decay_epochs + 1)


def linear_decay(constant_epochs: int, decay_epochs: int) -> Callable[[Optimizer], LambdaLR] | None:
    """A scheduler factory for the papers' schedule (stepped once per epoch), or None for a constant rate.

    The scheduler's state (its epoch count) is in every checkpoint, so a resumed run continues the schedule
    where it stopped; the authors' code restarts it unless told the epoch. Both counts are >= 0 (the models' settings
    constant_lr_epochs and decay_lr_epochs, checked as they are built).
    """
    if decay_epochs == 0:
        return None
    factor = partial(linear_decay_factor, constant_epochs=constant_epochs, decay_epochs=decay_epochs)
    return partial(LambdaLR, lr_lambda=factor)
