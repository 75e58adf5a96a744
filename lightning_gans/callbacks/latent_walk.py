"""Walks through the latent space between fixed noise vectors, saved as a PNG grid (and a GIF) and logged."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from lightning_gans.callbacks.image_grid import ImageGrid
from lightning_gans.models.base import ConditionalSource, LatentSource, TranslationSource
from lightning_gans.nn.latent import INTERPOLATIONS, interpolation_path
from lightning_gans.settings import AtLeastTwo, PositiveInt, check_settings


class LatentWalk(ImageGrid):
    """Every ``every_n_steps`` generator steps and/or every ``every_n_epochs`` epochs, and at the end of
    training, decode ``walks`` paths of ``steps`` latents each, every path joining two fixed latents (seeded by
    ``seed``) by ``method`` ("slerp": along the great circle, White 2016; or "lerp": along the straight line), and

    - save the grid, one walk per row, as ``<log dir>/latent_walk/step_<generator step>.png``,
    - log it to every attached logger that takes images (W&B, TensorBoard, MLflow) under ``latent_walk``,
    - with ``gif=True``, also save an animation beside it, ``step_<generator step>.gif``: frame t shows every
      walk at its t-th step (``frame_duration_ms`` per frame, looping); W&B gets it as a video under
      ``latent_walk_animation``.

    Smooth walks suggest the generator has learnt a continuous representation rather than memorised images
    (Radford et al. 2015, section 6.1). Works with any model that follows ``lightning_gans.models.LatentSource``;
    a ``ConditionalSource`` model (cGAN) walks row r with class r mod num_classes. On the command line it is
    opt-in: ``--trainer.callbacks+=lightning_gans.callbacks.LatentWalk``.

    Args:
        walks: walks in the grid, one per row.
        steps: latents along each walk, its two ends included.
        method: the path between a walk's ends: "slerp" (along the great circle) or "lerp" (the straight line).
        gif: also save an animation of the walks, and send it to W&B.
        frame_duration_ms: how long each frame of the animation shows, in milliseconds.
        seed: seed of the fixed latents the walks join.
    """

    key = "latent_walk"

    def __init__(
        self,
        walks: PositiveInt = 8,
        steps: AtLeastTwo = 10,
        method: Literal["slerp", "lerp"] = "slerp",
        gif: bool = False,
        frame_duration_ms: PositiveInt = 100,
        every_n_steps: PositiveInt | None = None,
        every_n_epochs: PositiveInt | None = 1,
        seed: int = 0,
    ) -> None:
        check_settings(LatentWalk, locals())
        if method not in INTERPOLATIONS:
            raise ValueError(f"LatentWalk method must be one of {INTERPOLATIONS}, got {method!r}")
        super().__init__(every_n_steps, every_n_epochs)
        self.walks, self.steps, self.method, self.seed = walks, steps, method, seed
        self.gif, self.frame_duration_ms = gif, frame_duration_ms
        # The GIF frames of the grid just drawn, written by log_grid once the grid's step is known.
        self.pending_frames: list[Image.Image] | None = None

    def check_model(self, pl_module: LightningModule) -> None:
        if isinstance(pl_module, TranslationSource):
            raise TypeError(
                f"{type(pl_module).__name__} translates images and has no latent space to walk through; use the "
                "TranslationGrid callback (lightning_gans.callbacks) for it instead of LatentWalk."
            )
        if not isinstance(pl_module, LatentSource):
            raise TypeError(
                f"LatentWalk needs a model with `g_steps`, `sample_latent(n, generator)` and `generate(latent)`; "
                f"{type(pl_module).__name__} lacks them. Derive it from lightning_gans.models.GANModule or "
                "implement them (see lightning_gans.models.LatentSource)."
            )

    def walk(self, pl_module: LightningModule) -> Tensor:
        """The decoded walks as (walks, steps, channels, height, width) images in [-1, 1]."""
        ends = pl_module.sample_latent(2 * self.walks, generator=torch.Generator().manual_seed(self.seed))
        flat = ends.flatten(1)
        path = interpolation_path(flat[: self.walks], flat[self.walks :], self.steps, self.method)
        latents = path.reshape(self.walks * self.steps, *ends.shape[1:])
        if isinstance(pl_module, ConditionalSource):
            rows = torch.arange(self.walks, device=latents.device) % pl_module.num_classes
            images = pl_module.generate(latents, rows.repeat_interleave(self.steps))
        else:
            images = pl_module.generate(latents)
        return images.float().cpu().unflatten(0, (self.walks, self.steps))

    def grid(self, pl_module: LightningModule) -> Tensor:
        """The walks as a float image in [0, 1], shape (3, H, W): one walk per row, one step per column."""
        images = self.walk(pl_module)
        if self.gif:
            self.pending_frames = [as_pil(picture(images[:, step])) for step in range(self.steps)]
        return make_grid(images.flatten(0, 1), nrow=self.steps, normalize=True, value_range=(-1, 1))

    @rank_zero_only
    def log_grid(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().log_grid(trainer, pl_module)
        if self.pending_frames is None:  # no new grid drawn at this step
            return
        frames, self.pending_frames = self.pending_frames, None
        path = self.dirpath / f"step_{self.last_step:07d}.gif"
        save_gif(frames, path, self.frame_duration_ms)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_video(key=f"{self.key}_animation", videos=[str(path)], step=trainer.global_step)


def picture(images: Tensor) -> Tensor:
    """(n, C, H, W) images in [-1, 1] as one near-square grid in [0, 1], (3, H', W')."""
    return make_grid(images, nrow=math.ceil(math.sqrt(images.size(0))), normalize=True, value_range=(-1, 1))


def as_pil(grid: Tensor) -> Image.Image:
    return Image.fromarray(grid.mul(255).round().byte().permute(1, 2, 0).numpy())


def save_gif(frames: list[Image.Image], path: Path, frame_duration_ms: int) -> None:
    """An endlessly looping GIF of ``frames``."""
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=frame_duration_ms, loop=0)
