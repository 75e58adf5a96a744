"""A resumable checkpoint when training is interrupted: Ctrl-C, or SIGTERM from a scheduler."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException


class InterruptCheckpoint(Checkpoint):
    """Save the current state as ``interrupted.ckpt`` when a run is stopped by Ctrl-C or SIGTERM, and say where.

    SLURM, Kubernetes and ``timeout`` send SIGTERM before they kill a job. Lightning then ends training after the
    current batch; this callback saves that state (resumable with ``--ckpt_path``, mid-epoch included). Only
    interrupts are saved: after an error, e.g. TrainingHealth stopping a diverged run, the state is not worth
    resuming. The file goes beside ModelCheckpoint's (``dirpath`` None); a later run that finishes removes it.
    Not Lightning's ``OnExceptionCheckpoint``: with one present, Lightning resumes every new ``fit`` from the
    newest checkpoint it finds unless ``ckpt_path`` is given.

    Args:
        dirpath: folder of the checkpoint; None for the first ModelCheckpoint's folder (or the trainer's root).
        filename: name of the checkpoint, without ``.ckpt``.
    """

    def __init__(self, dirpath: str | None = None, filename: str = "interrupted") -> None:
        self.dirpath, self.filename = dirpath, filename

    @property
    def ckpt_path(self) -> Path | None:
        return None if self.dirpath is None else Path(self.dirpath) / f"{self.filename}.ckpt"

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.resolve_folder(trainer)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)):
            return
        self.resolve_folder(trainer)
        trainer.save_checkpoint(self.ckpt_path)
        cause = "SIGTERM" if isinstance(exception, SIGTERMException) else "Ctrl-C"
        rank_zero_info(
            f"Stopped by {cause} after {trainer.global_step} optimizer steps. Saved the current state to "
            f"{self.ckpt_path}; continue with the same command plus --ckpt_path {self.ckpt_path}"
        )

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # Called only when a run ends normally: its own interrupted state, if it resumed from it, is stale now.
        if self.ckpt_path is not None:
            trainer.strategy.remove_checkpoint(self.ckpt_path)

    def resolve_folder(self, trainer: Trainer) -> None:
        if self.dirpath is not None:
            return
        folders = [c.dirpath for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.dirpath]
        self.dirpath = folders[0] if folders else str(Path(trainer.default_root_dir) / "checkpoints")
