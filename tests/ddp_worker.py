"""Trains registered variants under DDP on CPU (2 processes, gloo) and writes what each rank ends with.

Run as ``python -m tests.ddp_worker OUT_DIR VARIANT [VARIANT ...]``; Lightning starts rank 1 by running this
same command again, hence the ``__main__`` guard. tests/test_conformance_ddp.py reads the results.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from lightning_gans.callbacks import SampleGrid, TranslationGrid
from tests.registry import VARIANTS


def grid_callback(protocol: str) -> SampleGrid | TranslationGrid:
    return TranslationGrid(num_images=2) if protocol == "translation" else SampleGrid(num_samples=4, nrow=2)


def train(name: str, out: Path, sync_batchnorm: bool) -> None:
    seed_everything(0)
    variant = VARIANTS[name]
    model = variant.make_model()
    trainer = Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_find_unused_parameters_true",
        sync_batchnorm=sync_batchnorm,
        max_epochs=1,
        limit_train_batches=3,
        logger=CSVLogger(out, name="logs"),
        callbacks=[grid_callback(variant.protocol), ModelCheckpoint(dirpath=out / "checkpoints")],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    started = time.perf_counter()
    trainer.fit(model, datamodule=variant.make_data())
    seconds = time.perf_counter() - started
    rank = trainer.global_rank
    # Parameters, not buffers: BatchNorm running statistics follow each rank's own batches (under manual
    # optimisation DDP broadcasts buffers only when it wraps the model; rank 0's are the ones checkpointed).
    torch.save(dict(model.named_parameters()), out / f"parameters_rank{rank}.pt")
    summary = {"seconds": seconds, "steps": model.steps, "world_size": trainer.world_size}
    (out / f"rank{rank}.json").write_text(json.dumps(summary))


if __name__ == "__main__":
    out_dir, *names = sys.argv[1:]
    for variant_name in names:
        name, _, option = variant_name.partition("+")
        train(name, Path(out_dir) / variant_name, sync_batchnorm=option == "syncbn")
