"""Every variant registers a tiny CPU configuration here; the conformance suite runs on all of them.

A new variant is checked by adding one entry: a model factory and a datamodule factory, both small
enough that a few training steps take well under a second. Every model class also registers how the command
line trains it (``CLI_VARIANTS``), with its own defaults, so that defaults which do not survive the command
line's round trip fail a test too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lightning.pytorch import LightningDataModule

from datamodules import DigitsDataModule, PairedImageDataModule, UnpairedImageDataModule
from datamodules.image_folder import PIL_MODES
from lightning_gans.models import (
    BEGAN,
    DCGAN,
    GAN,
    WGAN,
    WGANGP,
    ConditionalGAN,
    CycleGAN,
    GANModule,
    ImprovedGAN,
    InfoGAN,
    Pix2Pix,
    ProGAN,
)
from tests.translation_data import digit_translation_root, write_paired_layout, write_unpaired_layout


@dataclass(frozen=True)
class Variant:
    make_model: Callable[[], GANModule]
    make_data: Callable[[], LightningDataModule]
    #: The protocol the model follows: SampleSource (images from noise) or TranslationSource (image to image).
    protocol: Literal["sample", "translation"] = "sample"


def tiny_digits(image_size: int = 16) -> DigitsDataModule:
    return DigitsDataModule(image_size=image_size, batch_size=8, num_workers=0)


def tiny_translation_data(datamodule: type, dataset: str) -> LightningDataModule:
    return datamodule(
        root=str(digit_translation_root()),
        dataset=dataset,
        download=False,
        channels=1,
        image_size=8,
        batch_size=8,
        num_workers=0,
    )


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
    # n_critic 2 instead of the papers' 5, so that the suite's 3 batches include a generator step.
    "wgan": Variant(
        lambda: WGAN(
            image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4, n_critic=2
        ),
        tiny_digits,
    ),
    "wgan_gp": Variant(
        lambda: WGANGP(
            image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4, n_critic=2
        ),
        tiny_digits,
    ),
    # The paper's CIFAR-10 ResNet at width 8 (32x32 only), with its protocol's switches: no critic normalisation,
    # G batches twice the critic's and a learning rate that decays linearly to 0.
    "wgan_gp_resnet": Variant(
        lambda: WGANGP(
            image_size=32,
            channels=1,
            latent_dim=8,
            architecture="resnet",
            generator_features=8,
            discriminator_features=8,
            critic_normalization="none",
            generator_batch_multiple=2,
            n_critic=2,
            scheduler_g={
                "class_path": "torch.optim.lr_scheduler.LinearLR",
                "init_args": {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 2},
            },
            scheduler_d={
                "class_path": "torch.optim.lr_scheduler.LinearLR",
                "init_args": {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 2},
            },
        ),
        lambda: tiny_digits(32),
    ),
    # Every Improved-GAN technique at once, with an EMA generator (which copies the VBN reference batch).
    "improved_gan_all_switches": Variant(
        lambda: ImprovedGAN(
            image_size=16,
            channels=1,
            latent_dim=8,
            generator_features=4,
            discriminator_features=4,
            feature_matching=True,
            minibatch_kernels=3,
            minibatch_kernel_dim=2,
            historical_averaging=1.0,
            virtual_batch_norm=True,
            reference_batch_size=4,
            real_label_range=(0.9, 0.9),
            ema_decay=0.9,
        ),
        tiny_digits,
    ),
    # Every ganhacks switch at once.
    "dcgan_ganhacks": Variant(
        lambda: DCGAN(
            image_size=16,
            channels=1,
            latent_dim=8,
            generator_features=4,
            discriminator_features=4,
            real_label_range=(0.7, 1.2),
            fake_label_range=(0.0, 0.3),
            label_flip_probability=0.1,
            instance_noise_std=0.1,
            instance_noise_steps=10,
            generator_dropout=0.5,
            generator_upsample="pixel_shuffle",
        ),
        tiny_digits,
    ),
    # Labels from the digits' batches; an EMA generator, which takes the labels too.
    "cgan": Variant(
        lambda: ConditionalGAN(
            image_size=16,
            channels=1,
            latent_dim=8,
            embedding_dim=4,
            generator_features=4,
            discriminator_features=4,
            ema_decay=0.9,
        ),
        tiny_digits,
    ),
    # Two categorical codes and Gaussian continuous codes with a learned spread: every part of Q's output.
    "infogan": Variant(
        lambda: InfoGAN(
            image_size=16,
            channels=1,
            noise_dim=4,
            categorical_codes=(3, 2),
            continuous_codes=2,
            learn_continuous_std=True,
            generator_features=4,
            discriminator_features=4,
            q_hidden=8,
        ),
        tiny_digits,
    ),
    "began": Variant(lambda: BEGAN(image_size=16, channels=1, latent_dim=8, embedding_dim=8, filters=4), tiny_digits),
    # Grows 4 -> 8 -> 16 within the suite's 2 epochs of 3 batches of 8: 4x4 for 8 images, 8x8 fades in over
    # images 8-28, so that the resume point (24 images) falls mid-fade at alpha 0.8, and 16x16 starts fading
    # in at 36 images. The EMA generator (paper default) is on.
    "progan_growing": Variant(
        lambda: ProGAN(
            image_size=16,
            channels=1,
            latent_dim=8,
            feature_base=64,
            feature_max=8,
            fade_images=20,
            stabilize_images=8,
            batch_sizes={4: 8, 8: 8, 16: 8},
        ),
        tiny_digits,
    ),
    # Unpaired 8x8 digits 0-4 <-> 5-9. A pool smaller than a batch, so it fills and starts swapping in the first
    # step; a learning rate that decays from the first epoch, so resuming must continue the schedule.
    "cyclegan": Variant(
        lambda: CycleGAN(
            image_size=8,
            channels=1,
            generator_features=4,
            discriminator_features=4,
            residual_blocks=1,
            discriminator_layers=1,
            pool_size=4,
            constant_lr_epochs=0,
            decay_lr_epochs=2,
        ),
        lambda: tiny_translation_data(UnpairedImageDataModule, "digits_unpaired"),
        protocol="translation",
    ),
    # Paired 8x8 digit | transposed digit, translated right to left; dropout stays on when translating.
    "pix2pix": Variant(
        lambda: Pix2Pix(
            image_size=8,
            channels=1,
            direction="BtoA",
            generator_features=4,
            discriminator_features=4,
            discriminator_layers=1,
            constant_lr_epochs=1,
            decay_lr_epochs=1,
        ),
        lambda: tiny_translation_data(PairedImageDataModule, "digits_paired"),
        protocol="translation",
    ),
}


@dataclass(frozen=True)
class CLIVariant:
    """A model class as ``lightning-gans fit --model MODEL --data DATA`` trains it: with the model's and the
    datamodule's own defaults, apart from flags that only make it tiny (widths, depths, image size)."""

    model: str
    data: str
    tiny: tuple[str, ...]
    #: Writes the datamodule's default dataset in its real on-disk layout under a folder and returns the flags
    #: that point the datamodule there; None for data that needs no files.
    write_data: Callable[[Path], list[str]] | None = None

    def args(self, data_root: Path) -> list[str]:
        data = self.write_data(data_root) if self.write_data is not None else []
        return [f"--model={self.model}", f"--data={self.data}", *self.tiny, *data]


def size(image_size: int) -> str:
    return f"--data.init_args.image_size={image_size}"


def folders(datamodule: type, write_layout: Callable[..., Path], image_size: int) -> Callable[[Path], list[str]]:
    """A writer of ``datamodule``'s default dataset (its name and channels), 4 images (pairs) a split."""

    def write(root: Path) -> list[str]:
        defaults = {name: p.default for name, p in inspect.signature(datamodule).parameters.items()}
        write_layout(root, defaults["dataset"], 4, image_size, PIL_MODES[defaults["channels"]])
        return [f"--data.init_args.root={root}"]

    return write


NARROW = ("--model.init_args.generator_features=4", "--model.init_args.discriminator_features=4")
TRANSLATION_SIZE = 32

#: One entry per model class (WGAN-GP twice, for its two architectures), named as in VARIANTS.
CLI_VARIANTS: dict[str, CLIVariant] = {
    "gan": CLIVariant(
        "GAN",
        "DigitsDataModule",
        (size(16), "--model.init_args.generator_hidden=[16]", "--model.init_args.discriminator_hidden=[8]"),
    ),
    "dcgan": CLIVariant("DCGAN", "DigitsDataModule", (size(16), *NARROW)),
    "improved_gan": CLIVariant("ImprovedGAN", "DigitsDataModule", (size(16), *NARROW)),
    "wgan": CLIVariant("WGAN", "DigitsDataModule", (size(16), *NARROW)),
    "wgan_gp": CLIVariant("WGANGP", "DigitsDataModule", (size(16), *NARROW)),
    # The CIFAR-10 ResNet is built for 32x32 only.
    "wgan_gp_resnet": CLIVariant(
        "WGANGP", "DigitsDataModule", (size(32), "--model.init_args.architecture=resnet", *NARROW)
    ),
    "began": CLIVariant(
        "BEGAN", "DigitsDataModule", (size(16), "--model.init_args.filters=4", "--model.init_args.embedding_dim=8")
    ),
    "progan": CLIVariant(
        "ProGAN",
        "DigitsDataModule",
        (size(16), "--model.init_args.feature_base=64", "--model.init_args.feature_max=8"),
    ),
    "cgan": CLIVariant("ConditionalGAN", "DigitsDataModule", (size(16), *NARROW)),
    "infogan": CLIVariant("InfoGAN", "DigitsDataModule", (size(16), *NARROW, "--model.init_args.q_hidden=8")),
    "cyclegan": CLIVariant(
        "CycleGAN",
        "UnpairedImageDataModule",
        (size(TRANSLATION_SIZE), *NARROW, "--model.init_args.residual_blocks=1"),
        folders(UnpairedImageDataModule, write_unpaired_layout, TRANSLATION_SIZE),
    ),
    "pix2pix": CLIVariant(
        "Pix2Pix",
        "PairedImageDataModule",
        (size(TRANSLATION_SIZE), *NARROW),
        folders(PairedImageDataModule, write_paired_layout, TRANSLATION_SIZE),
    ),
}
