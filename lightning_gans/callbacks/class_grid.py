"""Grids of class-conditional samples, one row per class, saved as PNG and sent to the loggers."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule
from torch import Tensor
from torchvision.utils import make_grid

from lightning_gans.callbacks.image_grid import ImageGrid
from lightning_gans.models.base import ConditionalSource
from lightning_gans.settings import PositiveInt, check_settings


class ClassGrid(ImageGrid):
    """Every ``every_n_steps`` generator steps and/or every ``every_n_epochs`` epochs, and at the end of
    training, draw ``samples_per_class`` images of every class and

    - save the grid as ``<log dir>/class_samples/step_<generator step>.png``,
    - log it to every attached logger that takes images (W&B, TensorBoard, MLflow) under ``class_samples``.

    Row c holds class c. The noise is fixed (seeded by ``seed``) and the same down each column, so a column
    shows what the label alone changes. Works with any LightningModule that follows
    ``lightning_gans.models.ConditionalSource``.

    Args:
        samples_per_class: images of each class, one column each.
        seed: seed of the fixed noise of the columns.
    """

    key = "class_samples"

    def __init__(
        self,
        samples_per_class: PositiveInt = 8,
        every_n_steps: PositiveInt | None = None,
        every_n_epochs: PositiveInt | None = 1,
        seed: int = 0,
    ) -> None:
        check_settings(ClassGrid, locals())
        super().__init__(every_n_steps, every_n_epochs)
        self.samples_per_class, self.seed = samples_per_class, seed

    def check_model(self, pl_module: LightningModule) -> None:
        if not isinstance(pl_module, ConditionalSource):
            raise TypeError(
                f"ClassGrid needs a class-conditional model with `g_steps`, `num_classes`, `sample_latent` and "
                f"`generate(latent, labels)` (lightning_gans.models.ConditionalSource, e.g. ConditionalGAN); "
                f"{type(pl_module).__name__} lacks them. For unconditional models use SampleGrid."
            )

    def grid(self, pl_module: LightningModule) -> Tensor:
        """The grid, one row per class and one fixed latent per column, as a float image in [0, 1]."""
        columns = pl_module.sample_latent(self.samples_per_class, generator=torch.Generator().manual_seed(self.seed))
        classes = pl_module.num_classes
        latent = columns.repeat(classes, *[1] * (columns.dim() - 1))
        labels = torch.arange(classes, device=latent.device).repeat_interleave(self.samples_per_class)
        images = pl_module.generate(latent, labels)
        return make_grid(images.float().cpu(), nrow=self.samples_per_class, normalize=True, value_range=(-1, 1))
