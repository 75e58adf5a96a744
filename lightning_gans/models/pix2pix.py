"""pix2pix: Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial Networks"
(arXiv 1611.07004)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lightning_gans import losses
from lightning_gans.models.base import GANModule, adam, base_settings, eval_mode
from lightning_gans.models.cyclegan import CycleGAN
from lightning_gans.models.translation import check_direction, image_pair, linear_decay
from lightning_gans.nn import PatchGANDiscriminator, UNetGenerator, dcgan_init
from lightning_gans.settings import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    Probability,
    check_settings,
    described,
)

# The paper's Adam: lr 2e-4, betas (0.5, 0.999), for both players.
PIX2PIX_ADAM = adam(lr=2e-4, betas=(0.5, 0.999))


@described(CycleGAN)
class Pix2Pix(GANModule):
    """A conditional GAN that learns to translate an image x into its aligned counterpart y.

    For each batch of pairs (x, y) (section 3 of the paper, with the authors' code's order):

    1. G translates x once; G(x) serves both updates;
    2. update D, which sees the input with its output, on -[log D(x, y) + log(1 - D(x, G(x)))], halved (the
       paper: to slow D relative to G);
    3. update G on -log D(x, G(x)) + ``l1_weight`` (lambda = 100) * |y - G(x)|: fool D, stay close to y.

    Networks: a U-Net generator (skips between mirrored layers, depth following the image size: 8
    halvings for 256x256) whose only noise is dropout (``dropout`` 0.5), and a 70x70 PatchGAN
    discriminator on the input and output concatenated (``discriminator_layers=3``); batch norm
    (``norm``), weights from N(0, 0.02). Adam with lr 2e-4 and betas (0.5, 0.999), constant; batch size
    1 (the datamodules' default). ``direction`` says which image of the batches' (A, B) pairs is the
    input: facades holds photos in A, and the paper translates its label maps, so "BtoA".

    As in the paper, dropout stays on when translating, so the outputs vary a little from call to call
    (``inference_dropout=False`` turns it off). Deviation: at inference batch norm uses its running
    statistics, so a translation does not depend on the other images of its batch; the paper used each
    test batch's own statistics (instance norm at batch size 1, which ``norm="instance"`` gives in both
    training and inference). ``constant_lr_epochs``/``decay_lr_epochs`` give the linear decay of the
    authors' code (100 + 100 epochs); by default the rate is constant, as in the paper.

    Args:
        image_size: height and width of the images, in pixels: a power of two, large enough for the PatchGAN
            (24 for 3 layers).
        direction: which image of a batch's (A, B) pairs is the input: "AtoB" or "BtoA".
        generator_features: channels of the U-Net's first convolution; they double per halving, to at most 8 times
            as many.
        norm: normalisation in both networks: "batch" or "instance".
        dropout: share of activations dropped in the U-Net's innermost decoder blocks, its only noise.
        inference_dropout: keep the dropout on when translating, as the paper does.
        l1_weight: weight lambda of the L1 loss |y - G(x)|.
    """

    paired = True

    def __init__(
        self,
        image_size: PositiveInt = 256,
        channels: PositiveInt = 3,
        direction: Literal["AtoB", "BtoA"] = "AtoB",
        generator_features: PositiveInt = 64,
        discriminator_features: PositiveInt = 64,
        discriminator_layers: PositiveInt = 3,
        norm: Literal["batch", "instance"] = "batch",
        dropout: Probability = 0.5,
        inference_dropout: bool = True,
        l1_weight: NonNegativeFloat = 100.0,
        constant_lr_epochs: NonNegativeInt = 100,
        decay_lr_epochs: NonNegativeInt = 0,
        optimizer_g: OptimizerCallable = PIX2PIX_ADAM,
        optimizer_d: OptimizerCallable = PIX2PIX_ADAM,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(Pix2Pix, locals())
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(
                f"direction must be 'AtoB' or 'BtoA' (which image of a pair is the input), got {direction!r}"
            )
        generator = UNetGenerator(channels, image_size, generator_features, norm, dropout)
        # D judges the input and the output together: twice the channels.
        discriminator = PatchGANDiscriminator(
            2 * channels, image_size, discriminator_features, discriminator_layers, norm
        )
        generator.apply(dcgan_init)
        discriminator.apply(dcgan_init)
        schedule = linear_decay(constant_lr_epochs, decay_lr_epochs)
        super().__init__(
            generator,
            discriminator,
            latent_dim=None,
            latent_distribution=None,
            scheduler_g=schedule,
            scheduler_d=schedule,
            n_critic=1,
            ema_decay=None,
            **base_settings(locals()),
        )

    @property
    def directions(self) -> tuple[str, ...]:
        return (self.hparams.direction,)

    def input_and_target(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        a, b = image_pair(self, batch)
        return (a, b) if self.hparams.direction == "AtoB" else (b, a)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = self.input_and_target(batch)
        opt_d, opt_g = self.optimizers()
        # One translation for both updates, as in the authors' code: D sees it detached, G through it.
        fake = self.generator(x)

        # D: real pairs (x, y) against translated pairs (x, G(x)).
        with self.toggled_optimizer(opt_d):
            real_logits = self.discriminator(torch.cat([x, y], dim=1))
            fake_logits = self.discriminator(torch.cat([x, fake.detach()], dim=1))
            d_loss = 0.5 * losses.minimax_discriminator_loss(real_logits, fake_logits)
            self.update(opt_d, d_loss)
        self.log_dict(
            {"train/d_real": torch.sigmoid(real_logits).mean(), "train/d_fake": torch.sigmoid(fake_logits).mean()}
        )
        self.log("train/d_loss", d_loss, prog_bar=True)

        # G: fool the updated D, and stay close to the target in L1.
        with self.toggled_optimizer(opt_g):
            adversarial = losses.nonsaturating_generator_loss(self.discriminator(torch.cat([x, fake], dim=1)))
            l1 = F.l1_loss(fake, y)
            g_loss = adversarial + self.hparams.l1_weight * l1
            self.update(opt_g, g_loss)
        self.log_dict({"train/g_adversarial": adversarial, "train/l1": l1})
        self.log("train/g_loss", g_loss, prog_bar=True)

    @torch.no_grad()
    def translate(self, images: Tensor, direction: str | None = None) -> Tensor:
        """Input images in [-1, 1] -> their translations; ``direction`` must be the model's (its default)."""
        check_direction(self, direction or self.hparams.direction, self.directions)
        with eval_mode(self.generator) as net:
            if self.hparams.inference_dropout:
                for module in net.modules():
                    if isinstance(module, nn.Dropout):
                        module.train()
            return net(images)

    def forward(self, images: Tensor) -> Tensor:
        return self.generator(images)
