"""Training length and checkpoint names in generator steps, the unit the papers count in.

Lightning's ``max_steps`` and checkpoint names count optimizer steps, both players' (and each critic update of a
WGAN), so ``max_steps=4`` is two DCGAN updates. These count ``g_steps``, like the sample grids, the FID/KID/IS
logs and the papers' iteration counts.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gans.models.base import SampleSource
from lightning_gans.settings import PositiveInt, check_settings


class GeneratorStepLimit(Callback):
    """Stop training after ``max_generator_steps`` generator updates (``lightning-gans fit --max_generator_steps``).

    Training ends after the batch that makes the count, as with Lightning's ``max_steps``: the epoch-end hooks run
    (so the last checkpoint, grid and evaluation come at that step) and ``trainer.should_stop`` is set.

    Args:
        max_generator_steps: generator updates to train for.
    """

    def __init__(self, max_generator_steps: PositiveInt) -> None:
        check_settings(GeneratorStepLimit, locals())
        self.max_generator_steps = max_generator_steps

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if pl_module.g_steps >= self.max_generator_steps:
            trainer.should_stop = True


class GeneratorStepCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` whose ``{step}`` in file names is the generator step, as in the sample grids'
    names (``epoch=0-step=2.ckpt`` after two generator updates); when it saves (``every_n_train_steps``) still counts
    Lightning's optimizer steps. The default checkpointing of ``lightning-gans fit``."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        self.module = pl_module

    def format_checkpoint_name(self, metrics: dict[str, Any], *args: Any, **kwargs: Any) -> str:
        if isinstance(getattr(self, "module", None), SampleSource):
            metrics = {**metrics, "step": self.module.g_steps}
        return super().format_checkpoint_name(metrics, *args, **kwargs)
