"""The shared machinery of the image-grid callbacks: when to draw, where to save, which loggers to send to."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only
from torch import Tensor
from torchvision.utils import save_image

from lightning_gans.callbacks.run_folder import run_folder
from lightning_gans.settings import PositiveInt, check_settings


class ImageGrid(Callback, ABC):
    """Every ``every_n_steps`` generator steps and/or every ``every_n_epochs`` epochs, and at the end of
    training, make a grid with :meth:`grid` and

    - save it as ``<log dir>/<key>/step_<generator step>.png``,
    - log it to every attached logger that takes images (W&B, TensorBoard, MLflow) under ``<key>``.

    Subclasses set ``key``, say which models they work with (:meth:`check_model`, called at setup) and
    draw the grid (:meth:`grid`, a float image in [0, 1] of shape (3, H, W)).

    Args:
        every_n_steps: draw a grid after every this many generator steps; None for not by step.
        every_n_epochs: draw a grid after every this many epochs; None for not by epoch.
    """

    #: The folder under the log dir and the loggers' image key.
    key: str

    def __init__(self, every_n_steps: PositiveInt | None, every_n_epochs: PositiveInt | None) -> None:
        check_settings(ImageGrid, locals())
        self.every_n_steps, self.every_n_epochs = every_n_steps, every_n_epochs
        self.last_step: int | None = None
        self.dirpath: Path | None = None

    @abstractmethod
    def check_model(self, pl_module: LightningModule) -> None:
        """Raise a TypeError, saying what is needed, unless this callback can draw grids of ``pl_module``."""

    @abstractmethod
    def grid(self, pl_module: LightningModule) -> Tensor:
        """The grid as a float image in [0, 1], shape (3, H, W)."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.check_model(pl_module)
        self.dirpath = run_folder(trainer) / self.key
        unsupported = [type(lg).__name__ for lg in trainer.loggers if not takes_images(lg)]
        if unsupported:
            rank_zero_info(
                f"{type(self).__name__}: {', '.join(unsupported)} cannot show images; grids go to {self.dirpath}"
            )

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: object) -> None:
        if self.every_n_steps and pl_module.g_steps % self.every_n_steps == 0:
            self.log_grid(trainer, pl_module)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.log_grid(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.log_grid(trainer, pl_module)

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
                logger.log_image(key=self.key, images=[grid], step=step)
            elif isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(self.key, grid, global_step=step)
            elif isinstance(logger, MLFlowLogger):
                image = grid.mul(255).round().byte().permute(1, 2, 0).numpy()
                logger.experiment.log_image(logger.run_id, image, f"{self.key}/step_{step:07d}.png")


def takes_images(logger: Logger) -> bool:
    return isinstance(logger, (WandbLogger, TensorBoardLogger, MLFlowLogger))
