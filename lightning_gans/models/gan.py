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
from lightning_gans.settings import (
    NonNegativeFloat,
    NonNegativeInt,
    OpenUnitInterval,
    PositiveInt,
    Probability,
    check_settings,
    described,
)

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


def generator_turn_this_batch(model: GANModule) -> bool:
    """Whether G updates in this batch, after the D update about to be made: the base's rule
    (``GANModule.generator_turn``, after every ``n_critic`` D updates) one D update ahead. Variants that make one
    batch of fakes for both players build G's graph for it only then."""
    return (model.d_steps + 1) % model.hparams.n_critic == 0


@described(GANHacks)
class GAN(GANModule):
    """The original adversarial nets: a fully connected G and a maxout D playing the minimax game.

    Algorithm 1 of the paper, for each training batch:

    1. update D by ascending log D(x) + log(1 - D(G(z))), ``n_critic`` times (the paper's k, default 1);
    2. update G by descending log(1 - D(G(z))), or, by default, ascending log D(G(z)) (the
       non-saturating loss the paper recommends in section 3).

    Noise: each batch draws one minibatch of z and runs G on it once. D's update sees these fakes detached from G;
    G's update, on the batches where G updates, sees the same fakes, through D as it is after D's update. On the
    other batches (``n_critic`` > 1) G runs without building its graph.

    Defaults follow the authors' MNIST model (pylearn2 ``mnist.yaml`` of goodfeli/adversarial): G has two ReLU
    layers of 1200 units, D two maxout layers of 240 units with 5 pieces, z is 100-dimensional and uniform. D's
    dropout keeps 80% of its inputs (``input_dropout`` 0.2) and 50% of its hidden units (``dropout`` 0.5).

    Deviations: G's output is tanh (data in [-1, 1]) instead of sigmoid; D ends in a logit and the
    losses use BCE-with-logits (the same objective, numerically safe under mixed precision); Adam
    (lr 2e-4, betas (0.5, 0.999)) replaces the paper's hand-tuned SGD-with-momentum schedule, which
    does not transfer to modern initialisations. Algorithm 1 draws a fresh noise minibatch for G's update; G's
    update here reuses the fakes D's update saw, as pytorch/examples' DCGAN and most reference code do, which saves
    one forward of G per batch (benchmarks/overhead.py compares with that loop).

    ganhacks' label and input tricks (``real_label_range``, ``fake_label_range``,
    ``label_flip_probability``, ``instance_noise_std``/``instance_noise_steps``; see
    ``lightning_gans.models.ganhacks.GANHacks``) are off by default. The networks are fully connected, so
    ``channels_last`` (see ``GANModule``) only changes the batches' memory layout here.

    Args:
        image_size: height and width of the images, in pixels (any size: the networks are fully connected).
        channels: image channels: 1 for grey, 3 for colour (on the command line the data sets it).
        generator_hidden: units of each of G's hidden ReLU layers, from z to the image.
        discriminator_hidden: maxout units of each of D's hidden layers, from the image to the logit.
        maxout_pieces: linear pieces each maxout unit takes the maximum of.
        dropout: share of D's hidden units dropped in training.
        input_dropout: share of D's input pixels dropped in training.
        generator_loss: G's loss: "nonsaturating" ascends log D(G(z)) (the paper's advice, section 3), "minimax"
            descends log(1 - D(G(z))) as the game is written.
    """

    def __init__(
        self,
        image_size: PositiveInt = 28,
        channels: PositiveInt = 1,
        latent_dim: PositiveInt = 100,
        latent_distribution: Literal["normal", "uniform"] = "uniform",
        generator_hidden: tuple[PositiveInt, ...] = (1200, 1200),
        discriminator_hidden: tuple[PositiveInt, ...] = (240, 240),
        maxout_pieces: PositiveInt = 5,
        dropout: Probability = 0.5,
        input_dropout: Probability = 0.2,
        generator_loss: Literal["nonsaturating", "minimax"] = "nonsaturating",
        real_label_range: tuple[float, float] = (1.0, 1.0),
        fake_label_range: tuple[float, float] = (0.0, 0.0),
        label_flip_probability: Probability = 0.0,
        instance_noise_std: NonNegativeFloat = 0.0,
        instance_noise_steps: NonNegativeInt = 0,
        optimizer_g: OptimizerCallable = GAN_ADAM,
        optimizer_d: OptimizerCallable = GAN_ADAM,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: PositiveInt = 1,
        ema_decay: OpenUnitInterval | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(GAN, locals())
        super().__init__(
            MLPGenerator(latent_dim, channels, image_size, generator_hidden),
            MLPDiscriminator(channels, image_size, discriminator_hidden, maxout_pieces, dropout, input_dropout),
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
        g_turn = generator_turn_this_batch(self)

        # One forward of G per batch; D and G see the same (noisy) images. G's graph only if G updates.
        with torch.set_grad_enabled(g_turn):
            fake = hacks.instance_noise(self.generator(self.sample_latent(real.size(0))), self.g_steps)
        real = hacks.instance_noise(real, self.g_steps)

        # D: maximise log D(x) + log(1 - D(G(z))), on the fakes detached from G.
        with self.toggled_optimizer(opt_d):
            real_logits = self.discriminator(real)
            fake_logits = self.discriminator(fake.detach())
            d_loss = losses.minimax_discriminator_loss(
                real_logits, fake_logits, *hacks.targets(real_logits, fake_logits)
            )
            self.update(opt_d, d_loss)
        self.log_diagnostics(
            {"train/d_real": torch.sigmoid(real_logits).mean(), "train/d_fake": torch.sigmoid(fake_logits).mean()}
        )
        self.log("train/d_loss", d_loss, prog_bar=True)

        # G: after every n_critic D updates, on the same fakes through the updated D. D has no grad under G's toggle.
        if g_turn:
            with self.toggled_optimizer(opt_g):
                g_loss = self.generator_loss(self.discriminator(fake))
                self.update(opt_g, g_loss)
            self.log("train/g_loss", g_loss, prog_bar=True)
