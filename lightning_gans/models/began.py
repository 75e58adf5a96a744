"""BEGAN: Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial Networks"
(arXiv 1703.10717)."""

from __future__ import annotations

from typing import Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor
from torchmetrics import MeanMetric

from lightning_gans import losses
from lightning_gans.models.base import GANModule, adam, base_settings
from lightning_gans.nn import BEGANDecoder, BEGANDiscriminator
from lightning_gans.settings import OpenUnitInterval, PositiveFloat, PositiveInt, check_settings, ranged

# The paper: Adam with a learning rate of 1e-4 (it names no betas; these are Adam's own defaults).
BEGAN_ADAM = adam(lr=1e-4, betas=(0.9, 0.999))
#: gamma = E[L(G(z))] / E[L(x)]: 0 would ask G for images D reconstructs perfectly, 1 for as well as real ones.
DiversityRatio = ranged(float, above=0, at_most=1)


class BEGAN(GANModule):
    """An auto-encoder discriminator and a generator kept in balance by a proportional controller.

    D is an auto-encoder and L(v) = |v - D(v)| its mean pixel-wise L1 reconstruction error. Each batch,
    with G and D updated simultaneously (both gradients at the same parameters), the paper's equations:

    - L_D = L(x) - k_t L(G(z_D))                  (D: reconstruct real images, not generated ones)
    - L_G = L(G(z_G))                              (G: make images that D reconstructs well)
    - k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1)
    - M_global = L(x) + |gamma L(x) - L(G(z_G))|  (the convergence measure, logged every step)

    The diversity ratio ``gamma`` = E[L(G(z))] / E[L(x)] sets the equilibrium: lower gives sharper but
    less varied images (the paper uses 0.3 to 0.7). k_0 = 0. ``k`` is a buffer, so checkpoints hold it.

    Defaults are the paper's: gamma 0.5, lambda_k 0.001, z of 64 dimensions drawn uniformly from
    [-1, 1], embedding h of 64, n = 64 filters (the paper also uses 128 for 128x128 images), ELU
    networks without batch norm (``lightning_gans.nn.began``), Adam with lr 1e-4, batch size 16 (set it
    on the datamodule). The paper halves the learning rate when M_global stalls: pass
    ``scheduler_g``/``scheduler_d`` = ReduceLROnPlateau with factor 0.5, which watches the epoch's mean
    M_global (``plateau_metric``).

    Simultaneous updates with the base's helpers: G(z_D) is drawn before either step, G steps first
    against the current D, and D then steps on L(x) and the G(z_D) drawn before G moved. Deviations: the
    paper gives no Adam betas (we use Adam's defaults); the generator's output is unbounded as in the
    paper, so ``sample`` clamps images to [-1, 1] for display.

    Logged per step, besides the base's: ``train/d_real`` = L(x) and ``train/d_fake`` = L(G(z_D)) (D's
    reconstruction errors), ``train/k`` and ``train/m_global``.

    Args:
        image_size: height and width of the images, in pixels: a power of two from 8.
        channels: image channels: 1 for grey, 3 for colour (on the command line the data sets it).
        embedding_dim: dimensions of the embedding h between D's encoder and decoder.
        filters: the paper's n: channels of the decoders' convolutions (G's and D's); D's encoder widens by n at
            every scale.
        gamma: the diversity ratio E[L(G(z))] / E[L(x)] that the controller keeps; lower gives sharper but less varied
            images (the paper uses 0.3 to 0.7).
        lambda_k: learning rate of the control variable k_t.
    """

    #: L_D = L(x) - k_t L(G(z)) has no floor that would mean "D wins".
    d_loss_floor = None

    def __init__(
        self,
        image_size: PositiveInt = 64,
        channels: PositiveInt = 3,
        latent_dim: PositiveInt = 64,
        latent_distribution: Literal["normal", "uniform"] = "uniform",
        embedding_dim: PositiveInt = 64,
        filters: PositiveInt = 64,
        gamma: DiversityRatio = 0.5,
        lambda_k: PositiveFloat = 0.001,
        optimizer_g: OptimizerCallable = BEGAN_ADAM,
        optimizer_d: OptimizerCallable = BEGAN_ADAM,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        ema_decay: OpenUnitInterval | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(BEGAN, locals())
        super().__init__(
            BEGANDecoder(latent_dim, channels, image_size, filters),
            BEGANDiscriminator(channels, image_size, filters, embedding_dim),
            latent_dim=latent_dim,
            latent_distribution=latent_distribution,
            n_critic=1,  # simultaneous updates
            **base_settings(locals()),
        )
        self.register_buffer("k", torch.zeros(()))
        # The epoch's mean M_global for ReduceLROnPlateau; persistent, so a mid-epoch checkpoint keeps it,
        # and synchronised over processes, so that every process decays its learning rate alike.
        self.epoch_m_global = MeanMetric()
        self.epoch_m_global.persistent(True)

    def reconstruction_loss(self, images: Tensor) -> Tensor:
        """L(v) = |v - D(v)|."""
        return losses.reconstruction_loss(images, self.discriminator(images))

    def training_step(self, batch: Tensor | tuple, batch_idx: int) -> None:
        real = self.real_images(batch)
        opt_d, opt_g = self.optimizers()
        with torch.no_grad():
            fake_d = self.generator(self.sample_latent(real.size(0)))  # G(z_D), before G moves

        # G: minimise L_G = L(G(z_G)) against the current D.
        with self.toggled_optimizer(opt_g):
            loss_fake_g = self.reconstruction_loss(self.generator(self.sample_latent(real.size(0))))
            self.update(opt_g, loss_fake_g)

        # D: minimise L_D = L(x) - k_t L(G(z_D)).
        with self.toggled_optimizer(opt_d):
            loss_real, loss_fake_d = self.reconstruction_loss(real), self.reconstruction_loss(fake_d)
            d_loss = loss_real - self.k * loss_fake_d
            self.update(opt_d, d_loss)

        # k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1), and the convergence measure.
        balance = (self.hparams.gamma * loss_real - loss_fake_g).detach()
        self.k.copy_((self.k + self.hparams.lambda_k * balance).clamp(0.0, 1.0))
        m_global = loss_real.detach() + balance.abs()
        self.epoch_m_global.update(m_global)

        self.log_dict({"train/d_real": loss_real, "train/d_fake": loss_fake_d, "train/k": self.k})
        self.log_dict({"train/d_loss": d_loss, "train/g_loss": loss_fake_g, "train/m_global": m_global}, prog_bar=True)

    def plateau_metric(self) -> Tensor:
        return self.epoch_m_global.compute()

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.epoch_m_global.reset()

    @torch.no_grad()
    def generate(self, latent: Tensor) -> Tensor:
        return super().generate(latent).clamp(-1.0, 1.0)
