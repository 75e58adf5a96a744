"""Trains CycleGAN and ImprovedGAN (historical averaging on) under DDP on CPU (2 processes, gloo) and saves, from
each rank, the state each rank keeps for itself: the image pools and the historical averages.

Run as ``python -m tests.ddp_state_worker OUT_DIR``; Lightning starts rank 1 by running this same command again,
hence the ``__main__`` guard. tests/test_image_pool.py reads the results.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.nn.parallel import DistributedDataParallel

from tests.registry import VARIANTS


class Record(Callback):
    """The buffers DDP broadcasts (when it wraps the model, and before a forward that follows a synced backward),
    and each image pool as every step finds it (inside DDP's forward) and leaves it."""

    def __init__(self) -> None:
        self.buffers: list[str] = []
        self.found: dict[str, list[torch.Tensor]] = {"A": [], "B": []}
        self.left: dict[str, list[torch.Tensor]] = {"A": [], "B": []}

    def on_fit_start(self, trainer, pl_module) -> None:
        ddp = trainer.strategy.model
        assert isinstance(ddp, DistributedDataParallel) and ddp.broadcast_buffers
        self.buffers = [name for name, _ in ddp.module.named_buffers()]
        for domain, pool in getattr(pl_module, "image_pools", {}).items():
            pool.register_forward_pre_hook(
                lambda pool, args, found=self.found[domain]: found.append(pool.images.clone())
            )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        for domain, pool in getattr(pl_module, "image_pools", {}).items():
            self.left[domain].append(pool.images.clone())


def train(name: str, out: Path) -> None:
    # Each rank its own seed: its own initial weights, which DDP replaces with rank 0's when it wraps the model
    # and which the historical averages start from.
    rank = int(os.environ.get("LOCAL_RANK", 0))
    seed_everything(rank)
    variant = VARIANTS[name]
    model = variant.make_model()
    for pool in getattr(model, "image_pools", {}).values():
        pool(torch.full_like(pool.images, rank))  # this rank's own pool, which DDP must not replace when it wraps
    record = Record()
    trainer = Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_find_unused_parameters_true",
        max_epochs=1,
        limit_train_batches=3,
        logger=False,
        callbacks=[ModelCheckpoint(dirpath=out / "checkpoints"), record],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=variant.make_data())
    state = {"buffers": record.buffers, "found": record.found, "left": record.left, "state_dict": model.state_dict()}
    torch.save(state, out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    out_dir = Path(sys.argv[1])
    for variant_name in ("cyclegan", "improved_gan_all_switches"):
        train(variant_name, out_dir / variant_name)
