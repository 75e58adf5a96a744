"""GAN variants as LightningModules, one paper per file."""

from lightning_gans.models.base import (
    CodeSource,
    ConditionalSource,
    GANModule,
    LatentSource,
    SampleSource,
    TranslationSource,
)
from lightning_gans.models.began import BEGAN
from lightning_gans.models.cgan import ConditionalGAN
from lightning_gans.models.checkpoint import check_checkpoint, load_model
from lightning_gans.models.cyclegan import CycleGAN
from lightning_gans.models.dcgan import DCGAN
from lightning_gans.models.gan import GAN
from lightning_gans.models.improved_gan import ImprovedGAN
from lightning_gans.models.infogan import InfoGAN
from lightning_gans.models.pix2pix import Pix2Pix
from lightning_gans.models.progan import ProGAN
from lightning_gans.models.wgan import WGAN
from lightning_gans.models.wgan_gp import WGANGP

__all__ = [
    "DCGAN",
    "GAN",
    "GANModule",
    "SampleSource",
    "ImprovedGAN",
    "WGAN",
    "WGANGP",
    "BEGAN",
    "ProGAN",
    "check_checkpoint",
    "load_model",
    "CycleGAN",
    "Pix2Pix",
    "TranslationSource",
    "ConditionalSource",
    "CodeSource",
    "ConditionalGAN",
    "LatentSource",
    "InfoGAN",
]
