"""GAN variants as LightningModules, one paper per file."""

from lightning_gans.models.base import GANModule, SampleSource
from lightning_gans.models.dcgan import DCGAN
from lightning_gans.models.gan import GAN

__all__ = ["DCGAN", "GAN", "GANModule", "SampleSource"]
