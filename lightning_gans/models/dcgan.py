"""DCGAN: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks" (arXiv 1511.06434)."""

from __future__ import annotations

from typing import Literal

from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable

from lightning_gans.models.base import GANModule, adam, base_settings
from lightning_gans.models.gan import GAN, generator_loss_fn
from lightning_gans.models.ganhacks import GANHacks
from lightning_gans.nn import DCGANDiscriminator, DCGANGenerator, dcgan_init
from lightning_gans.settings import (
    NonNegativeFloat,
    NonNegativeInt,
    OpenUnitInterval,
    PositiveInt,
    Probability,
    check_settings,
    described,
)

# The paper's Adam: lr 2e-4, beta1 0.5.
DCGAN_ADAM = adam(lr=2e-4, betas=(0.5, 0.999))


@described(GAN)
class DCGAN(GANModule):
    """Convolutional G and D trained on the non-saturating GAN game of Goodfellow et al.

    The training step is GAN's (``lightning_gans/models/gan.py``): one D update, then one G update per
    batch, both on one forward of G: D's update sees the batch's fakes detached, G's update the same fakes through
    the updated D (as pytorch/examples' DCGAN does). What the paper changes is the architecture
    and the optimisation, all defaults here:

    - strided convolutions in D and transposed convolutions in G, no pooling, no fully connected
      hidden layers; batch norm in both, except on G's output and D's input;
    - ReLU in G with a tanh output, LeakyReLU(0.2) in D;
    - weights from N(0, 0.02); Adam with lr 2e-4 and beta1 0.5; batch size 128 (the datamodules' default);
    - z of 100 dimensions (the paper draws it uniformly; we default to a Gaussian as the authors' public
      code does; ``latent_distribution="uniform"`` restores the paper's choice).

    ``image_size`` is any power of two from 16; ``generator_features``/``discriminator_features`` set
    the width of G's last and D's first hidden layer (64 in the authors' code), doubling per block.

    ganhacks switches, all off by default: soft, noisy and flipped labels and annealed instance noise
    (``real_label_range``, ``fake_label_range``, ``label_flip_probability``, ``instance_noise_std``,
    ``instance_noise_steps``; see ``lightning_gans.models.ganhacks.GANHacks``), dropout after every hidden
    block of G (``generator_dropout``, ganhacks: 0.5) and pixel-shuffle or resize-convolution upsampling
    in G (``generator_upsample``). ganhacks keeps G's dropout on at test time too; here ``sample``
    turns it off, so that fixed noise gives the same images every time.

    Args:
        image_size: height and width of the images, in pixels: a power of two from 16.
        channels: image channels: 1 for grey, 3 for colour (on the command line the data sets it).
        generator_features: channels of G's last hidden block; they double per block towards z.
        discriminator_features: channels of D's first block; they double per block towards its output.
        generator_dropout: share of G's hidden activations dropped after every block in training (ganhacks: 0.5).
        generator_upsample: G's upsampling layers: "transposed" convolutions (the paper's), or "pixel_shuffle" or
            "resize" (nearest-neighbour, then a convolution), which avoid checkerboard artefacts.
    """

    training_step = GAN.training_step

    def __init__(
        self,
        image_size: PositiveInt = 64,
        channels: PositiveInt = 3,
        latent_dim: PositiveInt = 100,
        latent_distribution: Literal["normal", "uniform"] = "normal",
        generator_features: PositiveInt = 64,
        discriminator_features: PositiveInt = 64,
        generator_loss: Literal["nonsaturating", "minimax"] = "nonsaturating",
        real_label_range: tuple[float, float] = (1.0, 1.0),
        fake_label_range: tuple[float, float] = (0.0, 0.0),
        label_flip_probability: Probability = 0.0,
        instance_noise_std: NonNegativeFloat = 0.0,
        instance_noise_steps: NonNegativeInt = 0,
        generator_dropout: Probability = 0.0,
        generator_upsample: Literal["transposed", "pixel_shuffle", "resize"] = "transposed",
        optimizer_g: OptimizerCallable = DCGAN_ADAM,
        optimizer_d: OptimizerCallable = DCGAN_ADAM,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: PositiveInt = 1,
        ema_decay: OpenUnitInterval | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(DCGAN, locals())
        generator = DCGANGenerator(
            latent_dim, channels, image_size, generator_features, upsample=generator_upsample, dropout=generator_dropout
        )
        discriminator = DCGANDiscriminator(channels, image_size, discriminator_features)
        generator.apply(dcgan_init)
        discriminator.apply(dcgan_init)
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
