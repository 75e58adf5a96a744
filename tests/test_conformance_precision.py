"""Every registered variant trains under bf16-mixed on CPU, without NaN and with losses close to fp32's."""

from __future__ import annotations

import math

import pytest
from lightning.pytorch import Callback, Trainer, seed_everything

from tests.registry import VARIANTS

RELATIVE_TOLERANCE = 0.05


class LossRecorder(Callback):
    """The logged train/*loss* values after every batch."""

    def __init__(self) -> None:
        self.batches: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        metrics = trainer.callback_metrics
        self.batches.append({k: float(v) for k, v in metrics.items() if k.startswith("train/") and "loss" in k})


def record_losses(name: str, precision: str, tmp_path) -> list[dict[str, float]]:
    seed_everything(0)
    variant = VARIANTS[name]
    recorder = LossRecorder()
    Trainer(
        accelerator="cpu",
        precision=precision,
        max_epochs=1,
        limit_train_batches=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[recorder],
        default_root_dir=tmp_path,
    ).fit(variant.make_model(), datamodule=variant.make_data())
    return recorder.batches


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_bf16_mixed_is_finite_and_close_to_fp32(name, tmp_path):
    full = record_losses(name, "32-true", tmp_path)
    half = record_losses(name, "bf16-mixed", tmp_path)
    assert full[0], "no loss was logged in the first step"
    assert all(math.isfinite(value) for batch in half for value in batch.values())
    # Same weights and data at the first step, so the only difference is bf16 rounding.
    for key, value in full[0].items():
        assert half[0][key] == pytest.approx(value, rel=RELATIVE_TOLERANCE, abs=RELATIVE_TOLERANCE), key
