"""What the MNIST benchmarks share: a quiet CPU training run and real MNIST images as tensors."""

from __future__ import annotations

import time
from collections.abc import Iterable

import torch
from lightning.pytorch import LightningDataModule, Trainer
from torch import Tensor
from torchvision.datasets import MNIST

from datamodules import image_transform
from lightning_gans.models import GANModule

#: Images in MNIST's training and test splits.
MNIST_SIZES = {True: 60_000, False: 10_000}


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


def mnist_tensors(root: str, train: bool, indices: Iterable[int] | None = None) -> tuple[Tensor, Tensor]:
    """MNIST images as MNISTDataModule yields them (32x32 in [-1, 1]) and their labels: the whole split, or the
    images at ``indices``."""
    dataset = MNIST(root, train=train, transform=image_transform(32, 1))
    indices = list(range(len(dataset)) if indices is None else indices)
    return torch.stack([dataset[index][0] for index in indices]), dataset.targets[indices]
