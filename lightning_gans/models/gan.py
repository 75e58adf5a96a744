"""GAN: Goodfellow et al. 2014, "Generative Adversarial Networks" (arXiv 1406.2661)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lightning_gans import losses
from lightning_gans.models.base import GANModule, adam, base_settings
from lightning_gans.models.ganhacks import GANHacks
from lightning_gans.nn import MLPDiscriminator, MLPGenerator

# Adam with lr 2e-4 and beta1 0.5 (DCGAN's choice, which our GAN adopts too).
GAN_ADAM = adam(lr=2e-4, betas=(0.5, 0.999))


GENERATOR_LOSSES = {
    "nonsaturating": losses.nonsaturating_generator_loss,
    "minimax": losses.minimax_generator_loss,
}


def generator_loss_fn(name: str) -> Callable[[Tensor], Tensor]:
    if name not in GENERATOR_LOSSES:
        raise ValueError(f"generator_loss must be one of {sorted(GENERATOR_LOSSES)}, got {name!r}")
    return GENERATOR_LOSSES[name]


class GAN(GANModule):
    """The original adversarial nets: a fully connected G and a maxout D playing the minimax game.

    Algorithm 1 of the paper, for each training batch:

    1. update D by ascending log D(x) + log(1 - D(G(z))), ``n_critic`` times (the paper's k, default 1);
    2. update G by descending log(1 - D(G(z))), or, by default, ascending log D(G(z)) (the
       non-saturating loss the paper recommends in section 3).

    Defaults follow the authors' MNIST model: G has two ReLU layers of 1200 units, D two maxout layers
    of 240 units with 5 pieces and dropout 0.5, z is 100-dimensional and uniform.

    Deviations: G's output is tanh (data in [-1, 1]) instead of sigmoid; D ends in a logit and the
    losses use BCE-with-logits (the same objective, numerically safe under mixed precision); Adam
    (lr 2e-4, betas (0.5, 0.999)) replaces the paper's hand-tuned SGD-with-momentum schedule, which
    does not transfer to modern initialisations.

    ganhacks' label and input tricks (``real_label_range``, ``fake_label_range``,
    ``label_flip_probability``, ``instance_noise_std``/``instance_noise_steps``; see
    ``lightning_gans.models.ganhacks.GANHacks``) are off by default. The networks are fully connected, so
    ``channels_last`` (see ``GANModule``) only changes the batches' memory layout here.
    """

    def __init__(
        self,
        image_size: int = 28,
        channels: int = 1,
        latent_dim: int = 100,
        latent_distribution: Literal["normal", "uniform"] = "uniform",
        generator_hidden: tuple[int, ...] = (1200, 1200),
        discriminator_hidden: tuple[int, ...] = (240, 240),
        maxout_pieces: int = 5,
        dropout: float = 0.5,
        generator_loss: Literal["nonsaturating", "minimax"] = "nonsaturating",
        real_label_range: tuple[float, float] = (1.0, 1.0),
        fake_label_range: tuple[float, float] = (0.0, 0.0),
        label_flip_probability: float = 0.0,
        instance_noise_std: float = 0.0,
        instance_noise_steps: int = 0,
        optimizer_g: OptimizerCallable = GAN_ADAM,
        optimizer_d: OptimizerCallable = GAN_ADAM,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: int = 1,
        ema_decay: float | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        super().__init__(
            MLPGenerator(latent_dim, channels, image_size, generator_hidden),
            MLPDiscriminator(channels, image_size, discriminator_hidden, maxout_pieces, dropout),
            latent_dim=latent_dim,
            latent_distribution=latent_distribution,
            **base_settings(locals()),
        )
        self.generator_loss = generator_loss_fn(generator_loss)
        self.hacks = GANHacks(
            real_label_range, fake_label_range, label_flip_probability, instance_noise_std, instance_noise_steps
        )

    def training_step(self, batch: Tensor | tuple, batch_idx: int) -> None:
        real = self.real_images(batch)
        opt_d, opt_g = self.optimizers()
        hacks = self.hacks  # ganhacks' tricks on D's inputs and targets; all off by default

        # D: maximise log D(x) + log(1 - D(G(z))). G has no grad under D's toggle.
        with self.toggled_optimizer(opt_d):
            fake = self.generator(self.sample_latent(real.size(0)))
            real_logits = self.discriminator(hacks.instance_noise(real, self.g_steps))
            fake_logits = self.discriminator(hacks.instance_noise(fake, self.g_steps))
            d_loss = losses.minimax_discriminator_loss(
                real_logits, fake_logits, *hacks.targets(real_logits, fake_logits)
            )
            self.update(opt_d, d_loss)
        self.log_diagnostics(
            {"train/d_real": torch.sigmoid(real_logits).mean(), "train/d_fake": torch.sigmoid(fake_logits).mean()}
        )
        self.log("train/d_loss", d_loss, prog_bar=True)

        # G: after every n_critic D updates.
        if self.generator_turn():
            with self.toggled_optimizer(opt_g):
                fake = self.generator(self.sample_latent(real.size(0)))
                fake_logits = self.discriminator(hacks.instance_noise(fake, self.g_steps))
                g_loss = self.generator_loss(fake_logits)
                self.update(opt_g, g_loss)
            self.log("train/g_loss", g_loss, prog_bar=True)
