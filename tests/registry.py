"""Every variant registers a tiny CPU configuration here; the conformance suite runs on all of them.

A new variant is checked by adding one entry: a model factory and a datamodule factory, both small
enough that a few training steps take well under a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lightning.pytorch import LightningDataModule

from datamodules import DigitsDataModule
from lightning_gans.models import DCGAN, GAN, GANModule


@dataclass(frozen=True)
class Variant:
    make_model: Callable[[], GANModule]
    make_data: Callable[[], LightningDataModule]


def tiny_digits(image_size: int = 16) -> DigitsDataModule:
    return DigitsDataModule(image_size=image_size, batch_size=8, num_workers=0)


VARIANTS: dict[str, Variant] = {
    "gan": Variant(
        lambda: GAN(
            image_size=16, channels=1, latent_dim=8, generator_hidden=(32,), discriminator_hidden=(16,), maxout_pieces=2
        ),
        tiny_digits,
    ),
    "dcgan": Variant(
        lambda: DCGAN(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4),
        tiny_digits,
    ),
    # The base's optional machinery: EMA of G, several D steps per G step, an LR schedule.
    "dcgan_ema_ncritic_sched": Variant(
        lambda: DCGAN(
            image_size=16,
            channels=1,
            latent_dim=8,
            generator_features=4,
            discriminator_features=4,
            ema_decay=0.9,
            n_critic=2,
            scheduler_g={"class_path": "torch.optim.lr_scheduler.StepLR", "init_args": {"step_size": 1, "gamma": 0.5}},
        ),
        tiny_digits,
    ),
}
