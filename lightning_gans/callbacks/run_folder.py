"""The one folder that holds everything a run writes: its config, grids and checkpoints."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Trainer
from lightning.pytorch.loggers import WandbLogger


def run_folder(trainer: Trainer) -> Path:
    """The logger's folder of this run (``lightning_logs/version_N`` by default), where ModelCheckpoint puts
    ``checkpoints/``. W&B's ``log_dir`` is its ``save_dir``, shared by every run, so a W&B run's folder is
    ``<save_dir>/<project>/<run id>``, the one its checkpoints go to. Rank zero's on every process."""
    logger = trainer.logger
    if isinstance(logger, WandbLogger):
        folder = Path(logger.save_dir or trainer.default_root_dir) / str(logger.name) / str(logger.version)
        return Path(trainer.strategy.broadcast(str(folder)))
    # log_dir broadcasts from rank 0, so every rank must ask for it.
    return Path(trainer.log_dir or trainer.default_root_dir)
