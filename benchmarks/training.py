"""The quiet CPU training run the benchmarks share: no logger, checkpoints, progress bar or summary."""

from __future__ import annotations

import time

from lightning.pytorch import LightningDataModule, Trainer

from lightning_gans.models import GANModule


def fit_quietly(model: GANModule, datamodule: LightningDataModule, generator_steps: int) -> float:
    """Train ``model`` for ``generator_steps`` G updates (and n_critic D updates each); returns the seconds taken."""
    trainer = Trainer(
        accelerator="cpu",
        # Lightning counts both players' optimizer steps.
        max_steps=generator_steps * (model.hparams.n_critic + 1),
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    return time.perf_counter() - started
