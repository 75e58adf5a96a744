"""WGAN: Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN" (arXiv 1701.07875)."""

from __future__ import annotations

from typing import Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lightning_gans import losses
from lightning_gans.models.base import GANModule, base_settings
from lightning_gans.models.dcgan import DCGAN
from lightning_gans.nn import DCGANDiscriminator, DCGANGenerator, dcgan_init
from lightning_gans.settings import OpenUnitInterval, PositiveFloat, PositiveInt, check_settings, described

# The paper's RMSprop with lr 5e-5 (Algorithm 1: momentum-based optimizers made the critic unstable).
WGAN_RMSPROP = {"class_path": "torch.optim.RMSprop", "init_args": {"lr": 5e-5}}

# The authors' code trains the critic this many times before each of the first BURN_IN_STEPS generator
# updates and before every BURN_IN_EVERY-th one, so that its estimate is close to the distance.
BURN_IN_CRITIC_UPDATES, BURN_IN_STEPS, BURN_IN_EVERY = 100, 25, 500


def critic_updates_through(g_step: int, n_critic: int, burn_in: bool) -> int:
    """How many critic updates, in total, come before generator update number ``g_step`` (counting from 0)."""
    if not burn_in:
        return n_critic * (g_step + 1)
    long_turns = min(g_step + 1, BURN_IN_STEPS) + len(range(BURN_IN_EVERY, g_step + 1, BURN_IN_EVERY))
    return BURN_IN_CRITIC_UPDATES * long_turns + n_critic * (g_step + 1 - long_turns)


def critic_metrics(real_scores: Tensor, fake_scores: Tensor) -> dict[str, Tensor]:
    """What a Wasserstein critic's scores say: its estimate E[f(x)] - E[f(G(z))] and both means."""
    real_mean, fake_mean = real_scores.float().mean(), fake_scores.float().mean()
    return {"critic/wasserstein": real_mean - fake_mean, "train/d_real": real_mean, "train/d_fake": fake_mean}


@torch.no_grad()
def clip_weights_(network: nn.Module, bound: float) -> None:
    """Clamp every parameter of ``network`` to [-bound, bound], in place."""
    for parameter in network.parameters():
        parameter.clamp_(-bound, bound)


@described(DCGAN)
class WGAN(GANModule):
    """A critic f that estimates the Wasserstein-1 distance between data and samples, and a G that
    minimises it.

    Algorithm 1 of the paper: for each training batch, update the critic by ascending
    E[f(x)] - E[f(G(z))] and clip its weights to [-c, c] (keeping f K-Lipschitz); after every
    ``n_critic`` critic updates, update G by descending -E[f(G(z))]. Each critic update takes a fresh
    real batch, as in the paper. The critic's estimate is logged as ``critic/wasserstein``; the paper's
    point is that, unlike a GAN's D loss, it falls as the samples improve.

    Noise: as in Algorithm 1, every critic update draws its own z, and G's update draws another. The ``n_critic``
    critic updates before a G update each need fakes of their own, so, unlike GAN and DCGAN, no single batch of
    fakes serves both players; the critic's fakes are made under its toggle, G frozen, so G's graph is built only
    in G's update.

    Defaults are the paper's: clipping c = 0.01, RMSprop with lr 5e-5, n_critic 5, batch size 64 (set
    in the configs), DCGAN's generator and, as critic, DCGAN's discriminator with batch norm and
    without the sigmoid (it outputs a score), both initialised as DCGAN's; z is 100-dimensional and
    Gaussian, as in the authors' code. Every critic parameter is clipped, batch-norm scales included, as
    the authors' code does.

    ``critic_burn_in`` (off by default, as the paper does not mention it) adds the authors' code's
    schedule: 100 critic updates before each of the first 25 G updates and before every 500th, so that
    the critic, and so its estimate, is close to optimal from the start.

    Args:
        discriminator_features: channels of the critic's first block; they double per block towards its output.
        clip_value: the bound c that every critic weight is clipped to after each critic update, e.g. 0.01.
        critic_burn_in: train the critic on the authors' code's schedule (100 updates before each of the first 25
            G updates and before every 500th) instead of n_critic updates each time.
    """

    d_loss_floor = None  # a critic's loss has no minimum where "D has won"

    def __init__(
        self,
        image_size: PositiveInt = 64,
        channels: PositiveInt = 3,
        latent_dim: PositiveInt = 100,
        latent_distribution: Literal["normal", "uniform"] = "normal",
        generator_features: PositiveInt = 64,
        discriminator_features: PositiveInt = 64,
        clip_value: PositiveFloat = 0.01,
        critic_burn_in: bool = False,
        optimizer_g: OptimizerCallable = WGAN_RMSPROP,
        optimizer_d: OptimizerCallable = WGAN_RMSPROP,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: PositiveInt = 5,
        ema_decay: OpenUnitInterval | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(WGAN, locals())
        generator = DCGANGenerator(latent_dim, channels, image_size, generator_features)
        critic = DCGANDiscriminator(channels, image_size, discriminator_features)
        generator.apply(dcgan_init)
        critic.apply(dcgan_init)
        super().__init__(
            generator,
            critic,
            latent_dim=latent_dim,
            latent_distribution=latent_distribution,
            **base_settings(locals()),
        )

    def generator_turn(self) -> bool:
        """True once the critic has made all the updates that precede G's next one (``n_critic``, or the burn-in's)."""
        return self.d_steps >= critic_updates_through(self.g_steps, self.hparams.n_critic, self.hparams.critic_burn_in)

    def training_step(self, batch: Tensor | tuple, batch_idx: int) -> None:
        real = self.real_images(batch)
        opt_d, opt_g = self.optimizers()

        # Critic: ascend E[f(x)] - E[f(G(z))], then clip its weights to [-c, c].
        with self.toggled_optimizer(opt_d):
            fake = self.generator(self.sample_latent(real.size(0)))
            real_scores, fake_scores = self.discriminator(real), self.discriminator(fake)
            d_loss = losses.wasserstein_critic_loss(real_scores, fake_scores)
            self.update(opt_d, d_loss)
            clip_weights_(self.discriminator, self.hparams.clip_value)
        self.log_diagnostics(critic_metrics(real_scores, fake_scores))
        self.log("train/d_loss", d_loss, prog_bar=True)

        # G: descend -E[f(G(z))] after every n_critic critic updates.
        if self.generator_turn():
            with self.toggled_optimizer(opt_g):
                fake_scores = self.discriminator(self.generator(self.sample_latent(real.size(0))))
                g_loss = losses.wasserstein_generator_loss(fake_scores)
                self.update(opt_g, g_loss)
            self.log("train/g_loss", g_loss, prog_bar=True)
