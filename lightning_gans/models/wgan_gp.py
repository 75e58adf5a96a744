"""WGAN-GP: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (arXiv 1704.00028)."""

from __future__ import annotations

from functools import partial
from typing import Literal

from lightning.pytorch import Trainer
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lightning_gans import losses
from lightning_gans.models.base import GANModule, adam, base_settings
from lightning_gans.models.wgan import critic_metrics
from lightning_gans.nn import (
    DCGANDiscriminator,
    DCGANGenerator,
    WGANGPResNetCritic,
    WGANGPResNetGenerator,
    dcgan_init,
)
from lightning_gans.settings import NonNegativeFloat, OpenUnitInterval, PositiveInt, check_settings

# Algorithm 1's Adam: lr 1e-4, betas (0, 0.9).
WGAN_GP_ADAM = adam(lr=1e-4, betas=(0.0, 0.9))

# Normalisations that keep the penalty per sample (batch norm would mix the samples of a batch).
# GroupNorm with one group is layer norm over (C, H, W) with a per-channel scale and shift, as in the authors' code.
CRITIC_NORMALIZATIONS = {"layer": partial(nn.GroupNorm, 1), "none": None}
#: The networks: DCGAN's (the paper's section 5 experiments), or the ResNet of its CIFAR-10 results (appendix F).
ARCHITECTURES = ("dcgan", "resnet")


def loss_scale(trainer: Trainer) -> float:
    """The fp16 loss scaler's current scale, or 1 when the precision plugin has no scaler (fp32, bf16)."""
    scaler = getattr(trainer.precision_plugin, "scaler", None)
    return scaler.get_scale() if scaler is not None else 1.0


class WGANGP(GANModule):
    """WGAN with the weight clipping replaced by a gradient penalty that keeps the critic 1-Lipschitz.

    Algorithm 1 of the paper, for each training batch: update the critic on
    E[f(G(z))] - E[f(x)] + lambda * E[(||grad f(x_hat)|| - 1)^2], x_hat drawn uniformly on lines between
    real and generated pairs (one interpolation weight per sample); after every ``n_critic`` critic
    updates, update G by descending -E[f(G(z))]. The critic's estimate E[f(x)] - E[f(G(z))] is logged as
    ``critic/wasserstein`` and the penalty as ``train/gradient_penalty``.

    Noise: as in Algorithm 1, every critic update draws its own z (and interpolation weights), and G's update draws
    another (``generator_batch_multiple`` times the batch). The ``n_critic`` critic updates before a G update each
    need fakes of their own, so, unlike GAN and DCGAN, no single batch of fakes serves both players; the critic's
    fakes are made under its toggle, G frozen, so G's graph is built only in G's update.

    Defaults are the paper's: lambda = 10, n_critic 5, Adam with lr 1e-4 and betas (0, 0.9), batch size 64
    (set in the configs), no batch norm in the critic (``critic_normalization``: "layer", which the paper
    recommends, or "none", as its DCGAN-style CIFAR-10 critic), 128-dimensional Gaussian z as in the
    authors' code.

    ``architecture`` picks the networks: "dcgan" (DCGAN's, initialised as DCGAN's; any power-of-two size) or
    "resnet", the residual networks of the paper's CIFAR-10 Inception-score result (appendix F; 32x32 only; see
    ``lightning_gans.nn.resnet_gp``), initialised as the authors' code. ``generator_features`` and
    ``discriminator_features`` are DCGAN's widths, or the ResNet's constant width per network (the paper: 128 for
    both). The paper's ResNet protocol, in configs/wgan_gp_resnet_cifar10.yaml: Adam lr 2e-4, betas (0, 0.9),
    decayed linearly to 0 over 100k generator iterations, n_critic 5, lambda 10, critic batch 64, no critic
    normalisation, and ``generator_batch_multiple`` 2 (the authors' code gives G's updates twice the critic's batch).

    Options off the paper's defaults: ``one_sided_penalty`` penalises only gradient norms above 1 (the
    paper considers it and prefers the two-sided penalty); ``drift_weight`` epsilon adds
    epsilon * E[f(x)^2], which keeps the critic's scores near zero (Karras et al. 2018 use 0.001).

    Deviations from the authors' ResNet code: the learning rate decays per epoch, not per generator iteration
    (the base steps schedulers once per epoch); real images get no uniform dequantisation noise; ``sample`` runs G's
    batch norm on its running statistics (eval mode), where the authors' code always normalises with the batch's.

    Mixed precision: under fp16 the penalty's gradients are taken on the loss-scaled critic output and
    unscaled before the norm (``losses.gradient_penalty``), so small gradients do not underflow.

    Args:
        image_size: height and width of the images, in pixels: a power of two from 16 for "dcgan", 32 for "resnet".
        channels: image channels: 1 for grey, 3 for colour (on the command line the data sets it).
        generator_features: "dcgan": channels of G's last hidden block, doubling per block towards z; "resnet": the
            channels of every block of G.
        discriminator_features: "dcgan": channels of the critic's first block, doubling per block; "resnet": the
            channels of every block of the critic.
        critic_normalization: the critic's normalisation: "layer" (per sample, over channels and pixels) or "none";
            no batch norm, which would make each sample's gradient depend on its batch.
        architecture: the networks: "dcgan" (DCGAN's) or "resnet" (the paper's CIFAR-10 residual networks).
        generator_batch_multiple: G's batch size as a multiple of the critic's.
        penalty_weight: weight lambda of the gradient penalty.
        one_sided_penalty: penalise only gradient norms above 1, not those below.
        drift_weight: weight epsilon of the drift term E[f(x)^2]; 0 for none.
    """

    d_loss_floor = None  # a critic's loss has no minimum where "D has won"

    def __init__(
        self,
        image_size: PositiveInt = 64,
        channels: PositiveInt = 3,
        latent_dim: PositiveInt = 128,
        latent_distribution: Literal["normal", "uniform"] = "normal",
        generator_features: PositiveInt = 64,
        discriminator_features: PositiveInt = 64,
        critic_normalization: Literal["layer", "none"] = "layer",
        architecture: Literal["dcgan", "resnet"] = "dcgan",
        generator_batch_multiple: PositiveInt = 1,
        penalty_weight: NonNegativeFloat = 10.0,
        one_sided_penalty: bool = False,
        drift_weight: NonNegativeFloat = 0.0,
        optimizer_g: OptimizerCallable = WGAN_GP_ADAM,
        optimizer_d: OptimizerCallable = WGAN_GP_ADAM,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: PositiveInt = 5,
        ema_decay: OpenUnitInterval | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(WGANGP, locals())
        if critic_normalization not in CRITIC_NORMALIZATIONS:
            raise ValueError(
                f"critic_normalization must be one of {sorted(CRITIC_NORMALIZATIONS)}, got {critic_normalization!r} "
                "(batch norm is not offered: it makes each sample's gradient depend on the batch, which the "
                "per-sample penalty assumes it does not)"
            )
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {ARCHITECTURES} (DCGAN's networks or the paper's CIFAR-10 ResNet), "
                f"got {architecture!r}"
            )
        norm_layer = CRITIC_NORMALIZATIONS[critic_normalization]
        if architecture == "resnet":  # initialised by their constructors, as in the authors' code
            generator = WGANGPResNetGenerator(latent_dim, channels, image_size, generator_features)
            critic = WGANGPResNetCritic(channels, image_size, discriminator_features, norm_layer=norm_layer)
        else:
            generator = DCGANGenerator(latent_dim, channels, image_size, generator_features)
            critic = DCGANDiscriminator(channels, image_size, discriminator_features, norm_layer=norm_layer)
            generator.apply(dcgan_init)
            critic.apply(dcgan_init)
        super().__init__(
            generator,
            critic,
            latent_dim=latent_dim,
            latent_distribution=latent_distribution,
            **base_settings(locals()),
        )

    def training_step(self, batch: Tensor | tuple, batch_idx: int) -> None:
        real = self.real_images(batch)
        opt_d, opt_g = self.optimizers()
        hp = self.hparams

        # Critic: E[f(G(z))] - E[f(x)] + lambda * gradient penalty (+ epsilon * E[f(x)^2], off by default).
        with self.toggled_optimizer(opt_d):
            fake = self.generator(self.sample_latent(real.size(0)))
            real_scores, fake_scores = self.discriminator(real), self.discriminator(fake)
            penalty = losses.gradient_penalty(
                self.discriminator, real, fake, grad_scale=loss_scale(self.trainer), one_sided=hp.one_sided_penalty
            )
            drift = real_scores.float().pow(2).mean()
            d_loss = (
                losses.wasserstein_critic_loss(real_scores, fake_scores)
                + hp.penalty_weight * penalty
                + hp.drift_weight * drift
            )
            self.update(opt_d, d_loss)
        self.log_diagnostics({**critic_metrics(real_scores, fake_scores), "train/gradient_penalty": penalty})
        self.log("train/d_loss", d_loss, prog_bar=True)

        # G: descend -E[f(G(z))] after every n_critic critic updates.
        if self.generator_turn():
            with self.toggled_optimizer(opt_g):
                z = self.sample_latent(real.size(0) * hp.generator_batch_multiple)
                fake_scores = self.discriminator(self.generator(z))
                g_loss = losses.wasserstein_generator_loss(fake_scores)
                self.update(opt_g, g_loss)
            self.log("train/g_loss", g_loss, prog_bar=True)
