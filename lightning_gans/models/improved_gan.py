"""Improved GAN: Salimans et al. 2016, "Improved Techniques for Training GANs" (arXiv 1606.03498)."""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lightning_gans import losses
from lightning_gans.models.base import GANModule, adam, base_settings, draw_latent
from lightning_gans.models.gan import generator_loss_fn
from lightning_gans.models.ganhacks import GANHacks
from lightning_gans.nn import (
    DCGANDiscriminator,
    DCGANGenerator,
    HistoricalAverage,
    MinibatchDiscrimination,
    ReferenceBatchGenerator,
    VirtualBatchNorm2d,
    dcgan_init,
)

# The authors' code: Adam with lr 3e-4 and beta1 0.5.
IMPROVED_GAN_ADAM = adam(lr=3e-4, betas=(0.5, 0.999))


class ImprovedGAN(GANModule):
    """DCGAN's networks and game, plus the paper's techniques for stabler training, each a switch:

    - feature matching (section 3.1, ``feature_matching``): G minimises ||E[f(x)] - E[f(G(z))]||^2 over
      D's last hidden features f instead of the usual generator loss;
    - minibatch discrimination (3.2, ``minibatch_kernels`` B > 0 kernels of ``minibatch_kernel_dim`` C;
      the authors use 100 and 5): a layer between D's body and its head, which becomes linear;
    - historical averaging (3.3, ``historical_averaging``: the weight, 1 in the paper): each player's
      cost gets ||theta - mean of its past theta||^2;
    - one-sided label smoothing (3.4): ``real_label_range=(0.9, 0.9)`` sets D's target for real images
      to 0.9 and leaves the generated ones' at 0;
    - virtual batch normalisation in G (3.5, ``virtual_batch_norm``): G's batch norms take their
      statistics from a reference batch of ``reference_batch_size`` latents, drawn once at construction
      and kept in the checkpoint.

    All are off by default; the other defaults are the authors' code's: Adam with lr 3e-4 and beta1 0.5,
    batch size 100 (set in the configs), 100-dimensional uniform z. ganhacks' switches (soft, noisy and
    flipped labels, instance noise, G dropout and upsampling; see ``DCGAN``) work here too.

    Deviations: the networks are DCGAN's (the authors use weight-normalised networks with dropout and
    Gaussian noise layers in D); the semi-supervised K+1-class discriminator of section 5 is not
    here, as every model in this package is unconditional.
    """

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 3,
        latent_dim: int = 100,
        latent_distribution: Literal["normal", "uniform"] = "uniform",
        generator_features: int = 64,
        discriminator_features: int = 64,
        generator_loss: Literal["nonsaturating", "minimax"] = "nonsaturating",
        feature_matching: bool = False,
        minibatch_kernels: int = 0,
        minibatch_kernel_dim: int = 5,
        historical_averaging: float = 0.0,
        virtual_batch_norm: bool = False,
        reference_batch_size: int = 64,
        real_label_range: tuple[float, float] = (1.0, 1.0),
        fake_label_range: tuple[float, float] = (0.0, 0.0),
        label_flip_probability: float = 0.0,
        instance_noise_std: float = 0.0,
        instance_noise_steps: int = 0,
        generator_dropout: float = 0.0,
        generator_upsample: Literal["transposed", "pixel_shuffle", "resize"] = "transposed",
        optimizer_g: OptimizerCallable = IMPROVED_GAN_ADAM,
        optimizer_d: OptimizerCallable = IMPROVED_GAN_ADAM,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: int = 1,
        ema_decay: float | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        if minibatch_kernels < 0:
            raise ValueError(
                f"minibatch_kernels must be >= 0 (0 for no minibatch discrimination), got {minibatch_kernels}"
            )
        if historical_averaging < 0:
            raise ValueError(f"historical_averaging (the penalty's weight) must be >= 0, got {historical_averaging}")
        generator = DCGANGenerator(
            latent_dim,
            channels,
            image_size,
            generator_features,
            upsample=generator_upsample,
            dropout=generator_dropout,
            norm_layer=partial(VirtualBatchNorm2d, reference_size=reference_batch_size)
            if virtual_batch_norm
            else nn.BatchNorm2d,
        )
        discriminator = DCGANDiscriminator(channels, image_size, discriminator_features)
        if minibatch_kernels:
            body_features = discriminator.out_features * 4 * 4  # the body ends in 4x4 maps
            minibatch = MinibatchDiscrimination(body_features, minibatch_kernels, minibatch_kernel_dim)
            discriminator.head = nn.Sequential(nn.Flatten(), minibatch, nn.Linear(minibatch.out_features, 1))
        generator.apply(dcgan_init)
        discriminator.apply(dcgan_init)
        if virtual_batch_norm:
            # Drawn like the initial weights, from the model's latent distribution.
            reference = draw_latent((reference_batch_size, latent_dim), latent_distribution)
            generator = ReferenceBatchGenerator(generator, reference)
        super().__init__(
            generator,
            discriminator,
            latent_dim=latent_dim,
            latent_distribution=latent_distribution,
            **base_settings(locals()),
        )
        self.generator_loss = generator_loss_fn(generator_loss)
        self.hacks = GANHacks(
            real_label_range, fake_label_range, label_flip_probability, instance_noise_std, instance_noise_steps
        )
        self.history = (
            nn.ModuleDict(
                {"generator": HistoricalAverage(generator), "discriminator": HistoricalAverage(discriminator)}
            )
            if historical_averaging > 0
            else None
        )

    def training_step(self, batch: Tensor | tuple, batch_idx: int) -> None:
        real = self.real_images(batch)
        opt_d, opt_g = self.optimizers()
        hacks = self.hacks

        # D: the minimax game's loss (one-sided label smoothing: real targets 0.9) + historical averaging.
        with self.toggled_optimizer(opt_d):
            fake = self.generator(self.sample_latent(real.size(0)))
            real_logits = self.discriminator(hacks.instance_noise(real, self.g_steps))
            fake_logits = self.discriminator(hacks.instance_noise(fake, self.g_steps))
            d_loss = losses.minimax_discriminator_loss(
                real_logits, fake_logits, *hacks.targets(real_logits, fake_logits)
            )
            d_loss = d_loss + self.historical_penalty("discriminator")
            self.update(opt_d, d_loss)
            self.remember("discriminator")
        self.log_diagnostics(
            {"train/d_real": torch.sigmoid(real_logits).mean(), "train/d_fake": torch.sigmoid(fake_logits).mean()}
        )
        self.log("train/d_loss", d_loss, prog_bar=True)

        # G: feature matching or the generator loss + historical averaging, after every n_critic D updates.
        if self.generator_turn():
            with self.toggled_optimizer(opt_g):
                fake = self.generator(self.sample_latent(real.size(0)))
                g_loss = self.generator_objective(
                    hacks.instance_noise(real, self.g_steps), hacks.instance_noise(fake, self.g_steps)
                )
                g_loss = g_loss + self.historical_penalty("generator")
                self.update(opt_g, g_loss)
                self.remember("generator")
            self.log("train/g_loss", g_loss, prog_bar=True)

    def generator_objective(self, real: Tensor, fake: Tensor) -> Tensor:
        """G's loss on a real and a generated batch: feature matching when switched on, else the generator loss."""
        if self.hparams.feature_matching:
            return losses.feature_matching_loss(self.discriminator.features(real), self.discriminator.features(fake))
        return self.generator_loss(self.discriminator(fake))

    def historical_penalty(self, player: Literal["generator", "discriminator"]) -> Tensor | float:
        """The weighted ||theta - mean of past theta||^2 of ``player``'s network; 0 when switched off."""
        if self.history is None:
            return 0.0
        return self.hparams.historical_averaging * self.history[player].penalty(getattr(self, player))

    def remember(self, player: Literal["generator", "discriminator"]) -> None:
        """Add ``player``'s parameters after its step to its historical mean."""
        if self.history is not None:
            self.history[player].update(getattr(self, player))
