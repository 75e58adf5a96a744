"""InfoGAN: Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets" (arXiv 1606.03657)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lightning_gans import losses
from lightning_gans.models.base import GANModule, adam, base_settings, draw_latent, eval_mode
from lightning_gans.models.dcgan import DCGAN
from lightning_gans.models.gan import generator_turn_this_batch
from lightning_gans.nn import DCGANDiscriminator, DCGANGenerator, InfoGANQHead, dcgan_init
from lightning_gans.settings import (
    AtLeastTwo,
    NonNegativeFloat,
    NonNegativeInt,
    OpenUnitInterval,
    PositiveInt,
    check_settings,
    described,
)

# The paper's Adam (appendix C): lr 2e-4 for D, 1e-3 for G (and Q, which trains with G), beta1 0.5.
INFOGAN_ADAM_D = adam(lr=2e-4, betas=(0.5, 0.999))
INFOGAN_ADAM_G = adam(lr=1e-3, betas=(0.5, 0.999))

#: What Q makes of a batch: categorical logits (one tensor per code), continuous means and log-stds (or None).
Posterior = tuple[list[Tensor], Tensor, Tensor | None]


@described(DCGAN)
class InfoGAN(GANModule):
    """A GAN whose generator input is noise z plus codes c, and which maximises the mutual information
    I(c; G(z, c)) through a lower bound estimated by a recognition network Q(c | x).

    G's latent is ``[z, one-hot of each categorical code, continuous codes]``: by default z has 62
    dimensions (uniform in [-1, 1], as in the authors' code), one categorical code takes 10 values and two
    continuous codes are uniform in [-1, 1] (the paper's MNIST setting). Q shares D's convolutional body and
    adds one hidden layer (``lightning_gans.nn.InfoGANQHead``); for each batch:

    1. update D on the GAN loss -[log D(x) + log(1 - D(G(z, c)))] plus lambda times the codes' negative
       log-likelihood under Q(c | G(z, c)), ``n_critic`` times;
    2. update G and Q on the non-saturating loss -log D(G(z, c)) plus the same lambda-weighted negative
       log-likelihood (``losses.mutual_information_loss``), i.e. minimise V(D, G) - lambda L_I(G, Q).

    Noise and codes: each batch draws one minibatch of z and c and runs G on it once. D's update sees these fakes
    detached from G; G and Q's update, on the batches where G updates, sees the same fakes through D's body as it is
    after D's update. Both information terms are the likelihood of the codes G was given. On the other batches
    (``n_critic`` > 1) G runs without building its graph.

    Q's head trains with G's optimizer. D's body also learns from the information term (step 1, Q's head
    frozen), since in the paper Q *is* D's network with another output layer, and the authors' code adds the
    information term to D's loss as well; so the shared features learn to expose the codes. ``train/d_loss``
    and ``train/g_loss`` log the adversarial parts, ``train/info_loss`` the information term of G's step.

    Defaults are the paper's MNIST ones: Adam with lr 2e-4 for D and 1e-3 for G, beta1 0.5;
    ``lambda_categorical`` 1 and ``lambda_continuous`` 0.1 (the paper weighs continuous codes less, their
    differential entropy being on another scale; the authors' code uses 1, which makes Q pick them up in far
    fewer steps); batch norm in G, D and Q; batch size 64 (set on the datamodule, see
    configs/infogan_mnist.yaml). Continuous codes are a factored Gaussian in Q with its standard deviation
    fixed to 1 (the authors' code); ``learn_continuous_std=True`` lets Q predict it.

    Deviations: G and D are the DCGAN networks (``lightning_gans.nn.dcgan``) at a power-of-two
    ``image_size`` (MNIST at 32x32) instead of the paper's fully connected + 2-conv nets at 28x28, so that
    every dataset and the rest of the package share one architecture; D's widths double per block (64, 128,
    256 by default) where the paper ends in a 1024-unit layer. DCGAN's N(0, 0.02) initialisation is used.

    Args:
        noise_dim: dimensions of the incompressible noise z.
        noise_distribution: distribution of z's entries: "normal", N(0, 1), or "uniform", U(-1, 1).
        categorical_codes: the number of values of each categorical code, e.g. (10,) for one ten-valued code; () for
            none.
        continuous_codes: how many continuous codes, each uniform in [-1, 1].
        lambda_categorical: weight lambda of the categorical codes' information term.
        lambda_continuous: weight lambda of the continuous codes' information term.
        learn_continuous_std: let Q predict the standard deviation of the continuous codes' Gaussian, instead of 1.
        q_hidden: units of Q's hidden layer.
    """

    def __init__(
        self,
        image_size: PositiveInt = 32,
        channels: PositiveInt = 1,
        noise_dim: NonNegativeInt = 62,
        noise_distribution: Literal["normal", "uniform"] = "uniform",
        categorical_codes: tuple[AtLeastTwo, ...] = (10,),
        continuous_codes: NonNegativeInt = 2,
        lambda_categorical: NonNegativeFloat = 1.0,
        lambda_continuous: NonNegativeFloat = 0.1,
        learn_continuous_std: bool = False,
        generator_features: PositiveInt = 64,
        discriminator_features: PositiveInt = 64,
        q_hidden: PositiveInt = 128,
        optimizer_g: OptimizerCallable = INFOGAN_ADAM_G,
        optimizer_d: OptimizerCallable = INFOGAN_ADAM_D,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: PositiveInt = 1,
        ema_decay: OpenUnitInterval | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(InfoGAN, locals())
        categorical_codes = tuple(categorical_codes)
        if not categorical_codes and continuous_codes == 0:
            raise ValueError(
                "InfoGAN needs at least one latent code: give categorical_codes (e.g. (10,)) or continuous_codes >= 1"
            )
        latent_dim = noise_dim + sum(categorical_codes) + continuous_codes
        generator = DCGANGenerator(latent_dim, channels, image_size, generator_features)
        discriminator = DCGANDiscriminator(channels, image_size, discriminator_features)
        # The body ends in 4x4 maps.
        q_head = InfoGANQHead(
            discriminator.out_features * 16, categorical_codes, continuous_codes, q_hidden, learn_continuous_std
        )
        for network in (generator, discriminator, q_head):
            network.apply(dcgan_init)
        super().__init__(
            generator,
            discriminator,
            latent_dim=latent_dim,
            latent_distribution=noise_distribution,
            **base_settings(locals()),
        )
        self.q_head = q_head
        self.noise_dim = noise_dim
        self.categorical_codes = categorical_codes
        self.continuous_codes = continuous_codes

    def training_step(self, batch: Tensor | tuple, batch_idx: int) -> None:
        real = self.real_images(batch)
        opt_d, opt_g = self.optimizers()
        g_turn = generator_turn_this_batch(self)

        # One forward of G per batch, for D's step and G's. G's graph only if G updates.
        codes = self.sample_codes(real.size(0))
        with torch.set_grad_enabled(g_turn):
            fake = self.generator(self.assemble_latent(*codes))

        # D: maximise log D(x) + log(1 - D(G(z, c))); its body also learns to expose c to Q (Q's head is frozen).
        with self.toggled_optimizer(opt_d):
            real_logits = self.discriminator(real)
            fake_logits, posterior = self.discriminate(fake.detach())
            d_loss = losses.minimax_discriminator_loss(real_logits, fake_logits)
            self.update(opt_d, d_loss + self.information_loss(posterior, codes))
        self.log_diagnostics(
            {"train/d_real": torch.sigmoid(real_logits).mean(), "train/d_fake": torch.sigmoid(fake_logits).mean()}
        )
        self.log("train/d_loss", d_loss, prog_bar=True)

        # G and Q: minimise -log D(G(z, c)) - lambda L_I(G, Q), after every n_critic D updates, on the same fakes.
        if g_turn:
            with self.toggled_optimizer(opt_g):
                fake_logits, posterior = self.discriminate(fake)
                g_loss = losses.nonsaturating_generator_loss(fake_logits)
                info_loss = self.information_loss(posterior, codes)
                self.update(opt_g, g_loss + info_loss)
            self.log("train/g_loss", g_loss, prog_bar=True)
            self.log("train/info_loss", info_loss, prog_bar=True)

    # ------------------------------------------------------------------------------------ D and Q
    def discriminate(self, images: Tensor) -> tuple[Tensor, Posterior]:
        """D's logits and Q's posterior from one pass through the body they share."""
        features = self.discriminator.body(images)
        return self.discriminator.head(features).flatten(), self.q_head(features)

    def information_loss(self, posterior: Posterior, codes: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        """-lambda L_I(G, Q) up to a constant, for the codes G was given."""
        _, categorical, continuous = codes
        return losses.mutual_information_loss(
            posterior[0],
            categorical,
            posterior[1],
            continuous,
            posterior[2],
            lambda_categorical=self.hparams.lambda_categorical,
            lambda_continuous=self.hparams.lambda_continuous,
        )

    @torch.no_grad()
    def infer_codes(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Q's reading of images in [-1, 1]: the most likely value of each categorical code, (n, codes) of
        ints, and the mean of each continuous code, (n, continuous_codes)."""
        with eval_mode(self.discriminator), eval_mode(self.q_head):
            logits, means, _ = self.q_head(self.discriminator.body(images.to(self.device)))
        categorical = [code_logits.argmax(1) for code_logits in logits]
        return torch.stack(categorical, 1) if categorical else means.new_zeros((len(means), 0), dtype=torch.long), means

    def generator_parameters(self) -> Iterator[nn.Parameter]:
        return chain(self.generator.parameters(), self.q_head.parameters())

    def networks_to_compile(self) -> list[nn.Module]:
        # Training calls D's body and Q's head directly (one pass feeds both), not D's forward.
        return [*super().networks_to_compile(), self.discriminator.body, self.q_head]

    # -------------------------------------------------------------------------------- noise and codes
    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n noise vectors z; a seeded ``generator`` gives the same ones every time."""
        device = generator.device if generator is not None else self.device
        return draw_latent((n, self.noise_dim), self.hparams.noise_distribution, generator, device).to(self.device)

    def sample_codes(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Noise (n, noise_dim), categorical code values (n, codes) uniform over each code's values, and
        continuous codes (n, continuous_codes) uniform in [-1, 1], drawn in that order from ``generator``."""
        noise = self.sample_noise(n, generator)
        device = generator.device if generator is not None else self.device
        values = torch.tensor(self.categorical_codes, device=device)
        categorical = (torch.rand((n, len(values)), generator=generator, device=device) * values).long()
        continuous = draw_latent((n, self.continuous_codes), "uniform", generator, device)
        return noise, categorical.to(self.device), continuous.to(self.device)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.assemble_latent(*self.sample_codes(n, generator))

    def latent_from_codes(self, noise: Tensor, categorical: Tensor, continuous: Tensor) -> Tensor:
        """G's input for given noise (n, noise_dim), categorical values (n, codes) and continuous codes
        (n, continuous_codes): ``[noise, one-hot of each categorical code, continuous codes]``."""
        n = noise.size(0)
        expected = {
            "noise": (noise, (n, self.noise_dim)),
            "categorical": (categorical, (n, len(self.categorical_codes))),
            "continuous": (continuous, (n, self.continuous_codes)),
        }
        for name, (tensor, shape) in expected.items():
            if tuple(tensor.shape) != shape:
                raise ValueError(f"{name} must have shape {shape} for this InfoGAN, got {tuple(tensor.shape)}")
        if categorical.is_floating_point():
            raise TypeError(f"categorical must hold integer code values, got dtype {categorical.dtype}")
        for index, values in enumerate(self.categorical_codes):
            column = categorical[:, index]
            if n and (column.min() < 0 or column.max() >= values):
                raise ValueError(
                    f"categorical code {index} takes values 0 to {values - 1}, got values from {column.min().item()} "
                    f"to {column.max().item()}"
                )
        return self.assemble_latent(noise, categorical, continuous)

    def assemble_latent(self, noise: Tensor, categorical: Tensor, continuous: Tensor) -> Tensor:
        """``latent_from_codes`` without its checks, for codes drawn by ``sample_codes``."""
        one_hots = [F.one_hot(categorical[:, i], values) for i, values in enumerate(self.categorical_codes)]
        return torch.cat([noise, *(one_hot.to(noise.dtype) for one_hot in one_hots), continuous.to(noise.dtype)], 1)
