"""CycleGAN: Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks" (arXiv 1703.10593)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lightning_gans import losses
from lightning_gans.models.base import GANModule, adam, base_settings, eval_mode
from lightning_gans.models.translation import DIRECTIONS, check_direction, image_pair, linear_decay
from lightning_gans.nn import ImagePool, PatchGANDiscriminator, ResnetGenerator, dcgan_init
from lightning_gans.settings import NonNegativeFloat, NonNegativeInt, PositiveInt, check_settings

# The paper's Adam: lr 2e-4, betas (0.5, 0.999), for both players.
CYCLEGAN_ADAM = adam(lr=2e-4, betas=(0.5, 0.999))


class CycleGAN(GANModule):
    """Two generators translate between unpaired domains A and B; two discriminators judge each domain.

    For each batch of A images a and independently drawn B images b (section 3 and 4 of the paper):

    1. update G_AB and G_BA together on the least-squares adversarial losses E[(D_B(G_AB(a)) - 1)^2] +
       E[(D_A(G_BA(b)) - 1)^2], plus ``cycle_weight`` (lambda = 10) times the cycle-consistency losses
       |G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b|, plus ``identity_weight`` (0.5) times lambda times the
       identity losses |G_AB(b) - b| + |G_BA(a) - a|, which keep colours when translating paintings;
    2. update D_A and D_B on the least-squares loss (halved, as in the paper, to slow D relative to G),
       real images against translated ones drawn from an ``ImagePool`` of the last ``pool_size`` (50)
       translations, to damp oscillation (Shrivastava et al. 2017).

    Networks: ResNet generators with instance norm (9 residual blocks for 256x256 images, 6 below, or
    ``residual_blocks``) and 70x70 PatchGAN discriminators with instance norm (``discriminator_layers=3``);
    weights from N(0, 0.02). Adam with lr 2e-4 and betas (0.5, 0.999), constant for ``constant_lr_epochs``
    (100) and then decaying linearly towards 0 over ``decay_lr_epochs`` (100); batch size 1 (the
    datamodules' default).

    The updates come in the authors' code order, G then D, and D sees the translations of G's step. The
    image pools are each rank's own (not buffers, so DDP does not overwrite them with rank 0's) and
    checkpoints hold them; their draws come from torch's random stream, which checkpoints also hold (the
    authors' pool uses Python's ``random``), so a resumed run is exact.

    ``translate(images, "AtoB")`` and ``translate(images, "BtoA")`` apply the generators; the model has no
    latent space, so ``sample`` is refused.

    Args:
        image_size: height and width of the images, in pixels: a multiple of 4 from 8.
        channels: image channels: 1 for grey, 3 for colour (on the command line the data sets it).
        generator_features: channels of each generator's first convolution; they double at each of its two
            downsamplings.
        discriminator_features: channels of each PatchGAN's first convolution; they double per strided layer.
        residual_blocks: residual blocks of each generator; None for the paper's choice by image size.
        discriminator_layers: strided layers of each PatchGAN (3: 70x70 patches).
        cycle_weight: weight lambda of the cycle-consistency losses.
        identity_weight: weight of the identity losses, relative to cycle_weight; 0 for none.
        pool_size: earlier translations kept in each image pool, for D to judge; 0 for none.
        constant_lr_epochs: epochs at the initial learning rate.
        decay_lr_epochs: epochs over which the learning rate then falls linearly towards 0; 0 for a constant rate.
    """

    directions = DIRECTIONS
    paired = False

    def __init__(
        self,
        image_size: PositiveInt = 256,
        channels: PositiveInt = 3,
        generator_features: PositiveInt = 64,
        discriminator_features: PositiveInt = 64,
        residual_blocks: NonNegativeInt | None = None,
        discriminator_layers: PositiveInt = 3,
        cycle_weight: NonNegativeFloat = 10.0,
        identity_weight: NonNegativeFloat = 0.5,
        pool_size: NonNegativeInt = 50,
        constant_lr_epochs: NonNegativeInt = 100,
        decay_lr_epochs: NonNegativeInt = 100,
        optimizer_g: OptimizerCallable = CYCLEGAN_ADAM,
        optimizer_d: OptimizerCallable = CYCLEGAN_ADAM,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(CycleGAN, locals())
        blocks = residual_blocks if residual_blocks is not None else 9 if image_size >= 256 else 6
        # Keyed by direction and by the domain judged: generator["AtoB"] makes B images, discriminator["B"] judges them.
        generator = nn.ModuleDict(
            {direction: ResnetGenerator(channels, image_size, generator_features, blocks) for direction in DIRECTIONS}
        )
        discriminator = nn.ModuleDict(
            {
                domain: PatchGANDiscriminator(
                    channels, image_size, discriminator_features, discriminator_layers, "instance"
                )
                for domain in "AB"
            }
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
        self.image_pools = nn.ModuleDict(
            {domain: ImagePool(pool_size, (channels, image_size, image_size)) for domain in "AB"}
        )

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        real_a, real_b = image_pair(self, batch)
        opt_d, opt_g = self.optimizers()
        g_ab, g_ba = self.generator["AtoB"], self.generator["BtoA"]
        d_a, d_b = self.discriminator["A"], self.discriminator["B"]
        cycle_weight, identity_weight = self.hparams.cycle_weight, self.hparams.identity_weight

        # G: fool both discriminators, translate back to the start (cycle), leave the target domain alone (identity).
        with self.toggled_optimizer(opt_g):
            fake_b, fake_a = g_ab(real_a), g_ba(real_b)
            # The paper's E[(D(G(x)) - 1)^2]; losses.py halves it, as the LSGAN paper writes it.
            adversarial = 2 * (
                losses.least_squares_generator_loss(d_b(fake_b)) + losses.least_squares_generator_loss(d_a(fake_a))
            )
            cycle = F.l1_loss(g_ba(fake_b), real_a) + F.l1_loss(g_ab(fake_a), real_b)
            identity = (
                F.l1_loss(g_ab(real_b), real_b) + F.l1_loss(g_ba(real_a), real_a)
                if identity_weight > 0
                else torch.zeros((), device=self.device)
            )
            g_loss = adversarial + cycle_weight * cycle + cycle_weight * identity_weight * identity
            self.update(opt_g, g_loss)
        self.log_dict({"train/g_adversarial": adversarial, "train/cycle_loss": cycle, "train/identity_loss": identity})
        self.log("train/g_loss", g_loss, prog_bar=True)

        # D: real images against translations from the pool of earlier ones.
        with self.toggled_optimizer(opt_d):
            real_scores = {"A": d_a(real_a), "B": d_b(real_b)}
            fake_scores = {"A": d_a(self.image_pools["A"](fake_a)), "B": d_b(self.image_pools["B"](fake_b))}
            d_loss = sum(
                losses.least_squares_discriminator_loss(real_scores[domain], fake_scores[domain]) for domain in "AB"
            )
            self.update(opt_d, d_loss)
        self.log_dict(
            {
                "train/d_real": torch.stack([scores.mean() for scores in real_scores.values()]).mean(),
                "train/d_fake": torch.stack([scores.mean() for scores in fake_scores.values()]).mean(),
            }
        )
        self.log("train/d_loss", d_loss, prog_bar=True)

    @torch.no_grad()
    def translate(self, images: Tensor, direction: str = "AtoB") -> Tensor:
        """Images of one domain in [-1, 1] -> the other domain's, by the generator of ``direction``."""
        check_direction(self, direction, self.directions)
        with eval_mode(self.generator[direction]) as net:
            return net(images)

    def forward(self, images: Tensor, direction: str = "AtoB") -> Tensor:
        check_direction(self, direction, self.directions)
        return self.generator[direction](images)
