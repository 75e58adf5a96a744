"""Improved GAN: Salimans et al. 2016, "Improved Techniques for Training GANs" (arXiv 1606.03498)."""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lightning_gans import losses
from lightning_gans.models.base import GANModule, adam, base_settings, draw_latent
from lightning_gans.models.dcgan import DCGAN
from lightning_gans.models.gan import generator_loss_fn, generator_turn_this_batch
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
from lightning_gans.nn.image_pool import RankLocal
from lightning_gans.settings import (
    NonNegativeFloat,
    NonNegativeInt,
    OpenUnitInterval,
    PositiveInt,
    Probability,
    check_settings,
    described,
)

# The authors' code: Adam with lr 3e-4 and beta1 0.5.
IMPROVED_GAN_ADAM = adam(lr=3e-4, betas=(0.5, 0.999))


class RankLocalHistoricalAverage(RankLocal, HistoricalAverage):
    """``HistoricalAverage`` with its mean and count out of DDP's buffer broadcast (see ``RankLocal``).

    Every rank averages the same parameters (DDP keeps them in sync), so the ranks agree without the broadcast,
    which would send the size of the network every step; ``ImprovedGAN.on_fit_start`` aligns them once.
    """


@described(DCGAN)
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

    Noise: each batch draws one minibatch of z and runs G on it once (with VBN, on the reference latents and z
    together). D's update sees these fakes detached from G; G's update, on the batches where G updates, sees the same
    fakes (and, for feature matching, the same real images, with the same instance noise) through D as it is after
    D's update. On the other batches (``n_critic`` > 1) G runs without building its graph.

    All are off by default; the other defaults are the authors' code's: Adam with lr 3e-4 and beta1 0.5,
    batch size 100 (set in the configs), 100-dimensional uniform z. ganhacks' switches (soft, noisy and
    flipped labels, instance noise, G dropout and upsampling; see ``DCGAN``) work here too.

    Deviations: the networks are DCGAN's (the authors use weight-normalised networks with dropout and
    Gaussian noise layers in D); the semi-supervised K+1-class discriminator of section 5 is not
    here, as every model in this package is unconditional.

    Args:
        feature_matching: train G to match the mean of D's last hidden features on real and generated images,
            instead of on its generator loss.
        minibatch_kernels: kernels B of minibatch discrimination; 0 for none.
        minibatch_kernel_dim: dimensions C of each minibatch-discrimination kernel.
        historical_averaging: weight of the historical-averaging penalty in each player's cost; 0 for none.
        virtual_batch_norm: normalise G's activations with the statistics of a fixed reference batch.
        reference_batch_size: latents in the reference batch of virtual batch norm.
    """

    def __init__(
        self,
        image_size: PositiveInt = 32,
        channels: PositiveInt = 3,
        latent_dim: PositiveInt = 100,
        latent_distribution: Literal["normal", "uniform"] = "uniform",
        generator_features: PositiveInt = 64,
        discriminator_features: PositiveInt = 64,
        generator_loss: Literal["nonsaturating", "minimax"] = "nonsaturating",
        feature_matching: bool = False,
        minibatch_kernels: NonNegativeInt = 0,
        minibatch_kernel_dim: PositiveInt = 5,
        historical_averaging: NonNegativeFloat = 0.0,
        virtual_batch_norm: bool = False,
        reference_batch_size: PositiveInt = 64,
        real_label_range: tuple[float, float] = (1.0, 1.0),
        fake_label_range: tuple[float, float] = (0.0, 0.0),
        label_flip_probability: Probability = 0.0,
        instance_noise_std: NonNegativeFloat = 0.0,
        instance_noise_steps: NonNegativeInt = 0,
        generator_dropout: Probability = 0.0,
        generator_upsample: Literal["transposed", "pixel_shuffle", "resize"] = "transposed",
        optimizer_g: OptimizerCallable = IMPROVED_GAN_ADAM,
        optimizer_d: OptimizerCallable = IMPROVED_GAN_ADAM,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: PositiveInt = 1,
        ema_decay: OpenUnitInterval | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(ImprovedGAN, locals())
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
                {
                    "generator": RankLocalHistoricalAverage(generator),
                    "discriminator": RankLocalHistoricalAverage(discriminator),
                }
            )
            if historical_averaging > 0
            else None
        )

    def on_fit_start(self) -> None:
        # Each rank's histories start from its own initial parameters. DDP hands every rank rank 0's parameters
        # once, when it wraps the model; the histories, not buffers, take rank 0's here, once, to match.
        if self.history is not None and self.trainer.world_size > 1:
            state = {key: value.cpu() for key, value in self.history.state_dict().items()}
            self.history.load_state_dict(self.trainer.strategy.broadcast(state))

    def training_step(self, batch: Tensor | tuple, batch_idx: int) -> None:
        real = self.real_images(batch)
        opt_d, opt_g = self.optimizers()
        hacks = self.hacks
        g_turn = generator_turn_this_batch(self)

        # One forward of G per batch; D and G see the same (noisy) images. G's graph only if G updates.
        with torch.set_grad_enabled(g_turn):
            fake = hacks.instance_noise(self.generator(self.sample_latent(real.size(0))), self.g_steps)
        real = hacks.instance_noise(real, self.g_steps)

        # D: the minimax game's loss (one-sided label smoothing: real targets 0.9) + historical averaging.
        with self.toggled_optimizer(opt_d):
            real_logits = self.discriminator(real)
            fake_logits = self.discriminator(fake.detach())
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

        # G: feature matching or the generator loss + historical averaging, after every n_critic D updates, on the
        # same fakes through the updated D.
        if g_turn:
            with self.toggled_optimizer(opt_g):
                g_loss = self.generator_objective(real, fake) + self.historical_penalty("generator")
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
