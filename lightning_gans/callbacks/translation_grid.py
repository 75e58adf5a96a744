"""Grids of translated images (input | output | target or reconstruction), saved as PNG and sent to the loggers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor
from torch.utils.data import DataLoader
from torchvision.utils import make_grid

from lightning_gans.callbacks.image_grid import ImageGrid
from lightning_gans.models.base import TranslationSource
from lightning_gans.models.translation import REVERSE
from lightning_gans.settings import PositiveInt, check_settings


class TranslationGrid(ImageGrid):
    """Every ``every_n_steps`` generator steps and/or every ``every_n_epochs`` epochs, and at the end of
    training, translate the same ``num_images`` training pairs and

    - save the grid as ``<log dir>/translations/step_<generator step>.png``,
    - log it to every attached logger that takes images (W&B, TensorBoard, MLflow) under ``translations``.

    Each row shows, for every direction the model translates, input | translation | target for a model
    trained on aligned pairs (pix2pix), or input | translation | translation back for an unpaired one
    (CycleGAN): A to B then B to A beside it.

    The pairs are the first ``num_images`` items of the training set, drawn once when training starts (random
    crops, flips and pairings included); translating is seeded by ``seed`` (pix2pix keeps dropout on). Neither
    touches the training's random state. Works with any LightningModule that follows
    ``lightning_gans.models.TranslationSource`` trained on a dataset of (A image, B image) pairs.

    Args:
        num_images: training pairs in the grid, one per row.
        seed: seed of the random draws while translating (pix2pix's dropout).
    """

    key = "translations"

    def __init__(
        self,
        num_images: PositiveInt = 8,
        every_n_steps: PositiveInt | None = None,
        every_n_epochs: PositiveInt | None = 1,
        seed: int = 0,
    ) -> None:
        check_settings(TranslationGrid, locals())
        super().__init__(every_n_steps, every_n_epochs)
        self.num_images, self.seed = num_images, seed
        self.pairs: tuple[Tensor, Tensor] | None = None

    def check_model(self, pl_module: LightningModule) -> None:
        if not isinstance(pl_module, TranslationSource):
            raise TypeError(
                f"TranslationGrid needs an image-to-image model with `g_steps`, `directions`, `paired` and "
                f"`translate(images, direction)` (lightning_gans.models.TranslationSource); {type(pl_module).__name__} "
                "lacks them. For models that generate from noise use SampleGrid."
            )

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        loader = trainer.train_dataloader
        if not isinstance(loader, DataLoader):
            raise TypeError(
                f"TranslationGrid takes its images from one training DataLoader; got {type(loader).__name__}"
            )
        dataset = loader.dataset
        with seeded(self.seed):  # for datasets whose random crops or pairings draw from torch's global stream
            items = [dataset[index] for index in range(min(self.num_images, len(dataset)))]
        self.pairs = tuple(torch.stack([item[side] for item in items]) for side in (0, 1))

    def grid(self, pl_module: LightningModule) -> Tensor:
        """The grid of translations as a float image in [0, 1], shape (3, H, W)."""
        sources = {"AtoB": self.pairs[0], "BtoA": self.pairs[1]}
        targets = {"AtoB": self.pairs[1], "BtoA": self.pairs[0]}
        columns = []
        with seeded(self.seed):
            for direction in pl_module.directions:
                images = sources[direction].to(pl_module.device)
                translated = pl_module.translate(images, direction)
                third = (
                    targets[direction].to(pl_module.device)
                    if pl_module.paired
                    else pl_module.translate(translated, REVERSE[direction])
                )
                columns += [images, translated, third]
        # Row i holds image i's columns side by side.
        cells = torch.stack(columns, dim=1).flatten(0, 1).float().cpu()
        return make_grid(cells, nrow=len(columns), normalize=True, value_range=(-1, 1))


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """A block whose random draws start from ``seed`` and that leaves the random state as it found it."""
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
        torch.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.manual_seed(seed)
        yield
