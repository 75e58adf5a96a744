"""Sample grids from fixed noise, saved as PNG and sent to the attached loggers."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only
from torch import Tensor
from torchvision.utils import make_grid, save_image

from lightning_gans.models.base import SampleSource


class SampleGrid(Callback):
    """Every ``every_n_steps`` generator steps and/or every ``every_n_epochs`` epochs, and at the end
    of training, draw ``num_samples`` images from the same fixed noise (seeded by ``seed``) and

    - save the grid as ``<log dir>/samples/step_<generator step>.png``,
    - log it to every attached logger that takes images (W&B, TensorBoard, MLflow) under ``samples``.

    Works with any LightningModule that follows ``lightning_gans.models.SampleSource``.
    """

    def __init__(
        self,
        num_samples: int = 64,
        nrow: int = 8,
        every_n_steps: int | None = None,
        every_n_epochs: int | None = 1,
        seed: int = 0,
    ) -> None:
        for name, value in (("num_samples", num_samples), ("nrow", nrow)):
            if value < 1:
                raise ValueError(f"SampleGrid {name} must be >= 1, got {value}")
        for name, value in (("every_n_steps", every_n_steps), ("every_n_epochs", every_n_epochs)):
            if value is not None and value < 1:
                raise ValueError(f"SampleGrid {name} must be >= 1 or None (never), got {value}")
        self.num_samples, self.nrow, self.seed = num_samples, nrow, seed
        self.every_n_steps, self.every_n_epochs = every_n_steps, every_n_epochs
        self.last_step: int | None = None
        self.dirpath: Path | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not isinstance(pl_module, SampleSource):
            raise TypeError(
                f"SampleGrid needs a model with `g_steps` and `sample(n, generator)`; {type(pl_module).__name__} "
                "has neither. Derive it from lightning_gans.models.GANModule or implement both."
            )
        # log_dir broadcasts from rank 0, so every rank must ask for it.
        self.dirpath = Path(trainer.log_dir or trainer.default_root_dir) / "samples"
        unsupported = [type(lg).__name__ for lg in trainer.loggers if not _takes_images(lg)]
        if unsupported:
            rank_zero_info(f"SampleGrid: {', '.join(unsupported)} cannot show images; grids go to {self.dirpath}")

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: object) -> None:
        if self.every_n_steps and pl_module.g_steps % self.every_n_steps == 0:
            self.log_grid(trainer, pl_module)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.log_grid(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.log_grid(trainer, pl_module)

    def grid(self, pl_module: LightningModule) -> Tensor:
        """The grid of fixed-noise samples as a float image in [0, 1], shape (3, H, W)."""
        images = pl_module.sample(self.num_samples, generator=torch.Generator().manual_seed(self.seed))
        return make_grid(images.float().cpu(), nrow=self.nrow, normalize=True, value_range=(-1, 1))

    @rank_zero_only
    def log_grid(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # With n_critic > 1 several batches share one generator step; draw each step once.
        step = pl_module.g_steps
        if step == self.last_step:
            return
        self.last_step = step
        grid = self.grid(pl_module)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        save_image(grid, self.dirpath / f"step_{step:07d}.png")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="samples", images=[grid], step=trainer.global_step)
            elif isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image("samples", grid, global_step=trainer.global_step)
            elif isinstance(logger, MLFlowLogger):
                image = grid.mul(255).round().byte().permute(1, 2, 0).numpy()
                logger.experiment.log_image(logger.run_id, image, f"samples/step_{step:07d}.png")


def _takes_images(logger: Logger) -> bool:
    return isinstance(logger, (WandbLogger, TensorBoardLogger, MLFlowLogger))
