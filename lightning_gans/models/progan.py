"""ProGAN: Karras, Aila, Laine & Lehtinen 2017, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation" (arXiv 1710.10196)."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from lightning_gans import losses
from lightning_gans.models.base import GANModule, adam, base_settings, eval_mode
from lightning_gans.models.wgan_gp import loss_scale
from lightning_gans.nn import ProGANDiscriminator, ProGANGenerator
from lightning_gans.nn.progan import final_level, real_images_at, resolution
from lightning_gans.settings import (
    AtLeastTwo,
    NonNegativeFloat,
    NonNegativeInt,
    OpenUnitInterval,
    PositiveInt,
    check_settings,
)

# The paper's Adam: lr 0.001, beta1 0, beta2 0.99, epsilon 1e-8 (Adam's default).
PROGAN_ADAM = adam(lr=1e-3, betas=(0.0, 0.99))
# The paper's minibatch sizes per resolution (appendix A.1), smaller at high resolutions to fit in memory.
PAPER_BATCH_SIZES = {4: 16, 8: 16, 16: 16, 32: 16, 64: 16, 128: 16, 256: 14, 512: 6, 1024: 3}


def growth(images_seen: int, last_level: int, fade_images: int, stabilize_images: int) -> tuple[int, float]:
    """(level, alpha) after ``images_seen`` real images.

    Level 0 (4x4) trains for one stabilisation phase; every later level fades in, alpha rising linearly
    from 0 to 1 over ``fade_images``, then stabilises (alpha 1) for ``stabilize_images``; the last level
    trains on from there.
    """
    if images_seen < stabilize_images:
        return 0, 1.0
    level, into_level = divmod(images_seen - stabilize_images, fade_images + stabilize_images)
    level += 1
    if level > last_level:
        return last_level, 1.0
    return level, min(into_level / fade_images, 1.0)


class ProGAN(GANModule):
    """G and D grow together from 4x4 to ``image_size``, trained with WGAN-GP.

    Per batch, at the current level and fade-in weight alpha (both follow from the number of real
    images seen, see :func:`growth`):

    1. the real batch, loaded at full size, is box-filtered down to the current resolution and, while a
       level fades in, blended with the previous resolution exactly as G's output is;
    2. D descends E[D(G(z))] - E[D(x)] + lambda GP + epsilon_drift E[D(x)^2] (WGAN-GP, Gulrajani et al.
       2017, with the paper's drift term), ``n_critic`` times (the paper alternates: 1);
    3. G descends -E[D(G(z))]; the EMA of G's weights (``ema_decay``) is what ``sample`` draws from.

    Defaults are the paper's: 512-dimensional Gaussian z, table 2's networks (``lightning_gans.nn.progan``:
    equalized learning rate, pixelwise feature normalisation in G, minibatch standard deviation in D,
    512 channels up to 32x32 then halving), 800k images per fade-in and per stabilisation, lambda 10,
    epsilon_drift 0.001, Adam with lr 0.001 and betas (0, 0.99), EMA decay 0.999, and the minibatch
    sizes 16 up to 128x128, then 14, 6 and 3 (``batch_sizes``, per process).

    Data and phases: any datamodule works, since the model resizes the full-size real batch itself. A
    phase is counted in images, not epochs: when the batch size of a new resolution differs, the model
    sets the datamodule's ``batch_size`` and ends the epoch early (``on_train_batch_start`` returns -1),
    and Lightning's ``reload_dataloaders_every_n_epochs=1`` builds the loader with the new batch size.
    That Trainer setting is required (and checked) only when ``batch_sizes`` changes over the run;
    ``batch_sizes=None`` keeps the loader's batch size throughout. ``images_seen`` is part of the
    checkpoint, so phase, alpha and EMA resume exactly, also in the middle of a fade.

    Deviations: the minibatch standard deviation is taken over groups of ``mbstd_group_size`` = 4 samples,
    as in the authors' code, not over the whole batch as the paper's text says; the authors' code also
    resets Adam's moments when a level starts fading in, which the paper does not mention and we do
    not do. G's output is linear as in the paper, so ``sample`` clamps images to [-1, 1] and upsamples
    them (nearest neighbour) to ``image_size`` whatever the current resolution, so that callbacks always
    see images of the data's size.

    Logged per step, besides the base's: ``train/d_real`` and ``train/d_fake`` (the critic's mean scores),
    ``train/gradient_penalty``, ``train/resolution`` and ``train/alpha``. Each resolution r has
    min(``feature_base`` / r, ``feature_max``) channels.

    Args:
        image_size: height and width of the images at the end of growing, in pixels: a power of two from 4.
        channels: image channels: 1 for grey, 3 for colour (on the command line the data sets it).
        feature_base: channels at resolution r are feature_base / r, at most feature_max.
        feature_max: the most channels of any resolution.
        mbstd_group_size: samples per group of D's minibatch standard deviation.
        fade_images: real images over which each new resolution fades in.
        stabilize_images: real images each resolution trains for once faded in (4x4: from the start).
        batch_sizes: batch size per resolution, e.g. {4: 16, 8: 16, ...}, one for each from 4 to image_size (per
            process); None keeps the datamodule's throughout.
        gp_weight: weight lambda of the gradient penalty.
        drift_weight: weight epsilon_drift of the drift term E[D(x)^2].
    """

    #: A Wasserstein critic's loss has no floor that would mean "D wins".
    d_loss_floor = None

    def __init__(
        self,
        image_size: PositiveInt = 128,
        channels: PositiveInt = 3,
        latent_dim: PositiveInt = 512,
        latent_distribution: Literal["normal", "uniform"] = "normal",
        feature_base: PositiveInt = 16384,
        feature_max: PositiveInt = 512,
        mbstd_group_size: AtLeastTwo = 4,
        fade_images: PositiveInt = 800_000,
        stabilize_images: NonNegativeInt = 800_000,
        batch_sizes: dict[int, int] | None = PAPER_BATCH_SIZES,
        gp_weight: NonNegativeFloat = 10.0,
        drift_weight: NonNegativeFloat = 0.001,
        optimizer_g: OptimizerCallable = PROGAN_ADAM,
        optimizer_d: OptimizerCallable = PROGAN_ADAM,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: PositiveInt = 1,
        ema_decay: OpenUnitInterval | None = 0.999,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(ProGAN, locals())
        last_level = final_level(image_size)
        if batch_sizes is not None:
            # A YAML or command-line dict arrives with string keys ("4": 16); resolutions are ints.
            batch_sizes = {int(size): batch for size, batch in batch_sizes.items()}
            check_batch_sizes(batch_sizes, [resolution(level) for level in range(last_level + 1)], mbstd_group_size)
        super().__init__(
            ProGANGenerator(latent_dim, channels, image_size, feature_base, feature_max),
            ProGANDiscriminator(channels, image_size, feature_base, feature_max, mbstd_group_size),
            latent_dim=latent_dim,
            latent_distribution=latent_distribution,
            **base_settings(locals()),
        )
        self.hparams.batch_sizes = batch_sizes  # with the int keys, also when LightningCLI recorded the hparams
        self.last_level = last_level
        self.images_seen = 0

    # ------------------------------------------------------------------------------------- growth
    @property
    def growth(self) -> tuple[int, float]:
        """The current (level, alpha); level 0 is 4x4."""
        hp = self.hparams
        return growth(self.images_seen, self.last_level, hp.fade_images, hp.stabilize_images)

    def get_extra_state(self) -> dict[str, Any]:
        return {**super().get_extra_state(), "images_seen": self.images_seen}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        super().set_extra_state(state)
        self.images_seen = state["images_seen"]

    # ------------------------------------------------------------------------------------- training
    def training_step(self, batch: Tensor | tuple, batch_idx: int) -> None:
        level, alpha = self.growth
        real = real_images_at(self.real_images(batch), resolution(level), alpha)
        opt_d, opt_g = self.optimizers()
        critic = partial(self.discriminator, alpha=alpha)

        # D: descend E[D(G(z))] - E[D(x)] + lambda GP + epsilon_drift E[D(x)^2].
        with self.toggled_optimizer(opt_d):
            fake = self.generator(self.sample_latent(real.size(0)), level, alpha)
            real_scores, fake_scores = critic(real), critic(fake)
            penalty = losses.gradient_penalty(critic, real, fake, grad_scale=loss_scale(self.trainer))
            d_loss = (
                losses.wasserstein_critic_loss(real_scores, fake_scores)
                + self.hparams.gp_weight * penalty
                + self.hparams.drift_weight * losses.drift_penalty(real_scores)
            )
            self.update(opt_d, d_loss)
        self.log_diagnostics(
            {"train/d_real": real_scores.mean(), "train/d_fake": fake_scores.mean(), "train/gradient_penalty": penalty}
        )
        self.log("train/d_loss", d_loss, prog_bar=True)

        # G: descend -E[D(G(z))], after every n_critic D updates.
        if self.generator_turn():
            with self.toggled_optimizer(opt_g):
                fake_scores = critic(self.generator(self.sample_latent(real.size(0)), level, alpha))
                g_loss = losses.wasserstein_generator_loss(fake_scores)
                self.update(opt_g, g_loss)
            self.log("train/g_loss", g_loss, prog_bar=True)

        self.images_seen += real.size(0) * self.trainer.world_size  # the paper counts images over all devices
        self.log_dict({"train/resolution": float(resolution(level)), "train/alpha": alpha})

    def networks_to_compile(self) -> list[nn.Module]:
        # The whole networks branch on level and alpha, so torch.compile would recompile them at every step of a
        # fade-in; their blocks are fixed graphs, and the blending between them is cheap enough to run eagerly.
        g, d = self.generator, self.discriminator
        return [g.start, *g.blocks, *g.to_rgb, *d.from_rgb, *d.blocks, d.end]

    def configure_model(self) -> None:
        super().configure_model()
        if self.hparams.torch_compile:
            # The compiled blocks share one cache of graphs (nn.Module.compile compiles Module._call_impl), and each
            # needs a few (either player's turn; inputs with or without grad). Keep them all: past torch's limit (8)
            # dynamo would run the later, larger blocks eagerly.
            config = torch._dynamo.config
            config.recompile_limit = max(config.recompile_limit, 4 * len(self.networks_to_compile()))

    # ------------------------------------------------------------------- batch size per resolution
    def phase_batch_size(self) -> int | None:
        sizes = self.hparams.batch_sizes
        return None if sizes is None else sizes[resolution(self.growth[0])]

    def on_fit_start(self) -> None:
        wanted = self.phase_batch_size()
        if wanted is None:
            return
        datamodule = self.trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "batch_size"):
            raise ValueError(
                "ProGAN's batch_sizes set the batch size per resolution through the datamodule's batch_size, "
                "but this run has no datamodule with a batch_size. Train with one of the datamodules, or pass "
                "batch_sizes=None to keep the loader's batch size at every resolution."
            )
        ahead = {self.hparams.batch_sizes[resolution(level)] for level in range(self.growth[0], self.last_level + 1)}
        if len(ahead) > 1:
            self.check_loader_reloads(f"batch_sizes change the batch size over the run ({sorted(ahead)})")
        if datamodule.batch_size != wanted:
            size = resolution(self.growth[0])
            rank_zero_info(
                f"ProGAN: batch size {wanted} at {size}x{size} (the model's batch_sizes) in place of the "
                f"datamodule's {datamodule.batch_size}"
            )
            datamodule.batch_size = wanted

    def on_train_batch_start(self, batch: Tensor | tuple, batch_idx: int) -> int | None:
        wanted = self.phase_batch_size()
        if wanted is None or self.real_images(batch).size(0) == wanted:
            return None
        # A new resolution with another batch size: end the epoch here; the next one reloads the loader.
        self.check_loader_reloads(f"the batch size must change to {wanted}")
        self.trainer.datamodule.batch_size = wanted
        return -1

    def check_loader_reloads(self, why: str) -> None:
        if self.trainer.reload_dataloaders_every_n_epochs != 1:
            raise ValueError(
                f"ProGAN: {why}, and a new batch size needs a new DataLoader, which Lightning builds only "
                "with Trainer(reload_dataloaders_every_n_epochs=1) (--trainer.reload_dataloaders_every_n_epochs "
                "1). Set it, or give every resolution the same batch size in batch_sizes, or pass "
                "batch_sizes=None."
            )

    # ------------------------------------------------------------------------------------- sampling
    @torch.no_grad()
    def generate(self, latent: Tensor) -> Tensor:
        with eval_mode(self.sampling_generator) as net:
            images = net(latent, *self.growth)
        if images.size(-1) != self.hparams.image_size:
            images = F.interpolate(images, size=self.hparams.image_size, mode="nearest")
        return images.clamp(-1.0, 1.0)

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z, *self.growth)


def check_batch_sizes(batch_sizes: dict[int, int], resolutions: list[int], mbstd_group_size: int) -> None:
    missing = [size for size in resolutions if size not in batch_sizes]
    if missing:
        raise ValueError(
            f"batch_sizes has no batch size for the resolutions {missing}; it needs one for each of {resolutions}, "
            "e.g. {4: 16, 8: 16, ...}, or None to keep the datamodule's batch size throughout."
        )
    for size in resolutions:
        batch = batch_sizes[size]
        if batch < 1 or batch % min(mbstd_group_size, batch):
            raise ValueError(
                f"batch_sizes[{size}] = {batch} is not a positive multiple of mbstd_group_size={mbstd_group_size} "
                "(or smaller than it): the minibatch standard deviation splits each batch into groups of that size."
            )
