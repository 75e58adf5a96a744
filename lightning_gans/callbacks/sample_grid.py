"""Sample grids from fixed noise, saved as PNG and sent to the attached loggers."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule
from torch import Tensor
from torchvision.utils import make_grid

from lightning_gans.callbacks.image_grid import ImageGrid
from lightning_gans.models.base import SampleSource, TranslationSource
from lightning_gans.settings import PositiveInt, check_settings


class SampleGrid(ImageGrid):
    """Every ``every_n_steps`` generator steps and/or every ``every_n_epochs`` epochs, and at the end
    of training, draw ``num_samples`` images from the same fixed noise (seeded by ``seed``) and

    - save the grid as ``<log dir>/samples/step_<generator step>.png``,
    - log it to every attached logger that takes images (W&B, TensorBoard, MLflow) under ``samples``.

    Works with any LightningModule that follows ``lightning_gans.models.SampleSource``.

    Args:
        num_samples: images in the grid.
        nrow: images per row of the grid.
        seed: seed of the fixed noise the images are drawn from.
    """

    key = "samples"

    def __init__(
        self,
        num_samples: PositiveInt = 64,
        nrow: PositiveInt = 8,
        every_n_steps: PositiveInt | None = None,
        every_n_epochs: PositiveInt | None = 1,
        seed: int = 0,
    ) -> None:
        check_settings(SampleGrid, locals())
        super().__init__(every_n_steps, every_n_epochs)
        self.num_samples, self.nrow, self.seed = num_samples, nrow, seed

    def check_model(self, pl_module: LightningModule) -> None:
        if isinstance(pl_module, TranslationSource):
            raise TypeError(
                f"{type(pl_module).__name__} translates images and has no noise to sample from; use the "
                "TranslationGrid callback (lightning_gans.callbacks) for it instead of SampleGrid."
            )
        if not isinstance(pl_module, SampleSource):
            raise TypeError(
                f"SampleGrid needs a model with `g_steps` and `sample(n, generator)`; {type(pl_module).__name__} "
                "has neither. Derive it from lightning_gans.models.GANModule or implement both."
            )

    def grid(self, pl_module: LightningModule) -> Tensor:
        """The grid of fixed-noise samples as a float image in [0, 1], shape (3, H, W)."""
        images = pl_module.sample(self.num_samples, generator=torch.Generator().manual_seed(self.seed))
        return make_grid(images.float().cpu(), nrow=self.nrow, normalize=True, value_range=(-1, 1))
