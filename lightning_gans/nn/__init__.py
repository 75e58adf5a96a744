"""Plain ``nn.Module`` networks, with no Lightning in them."""

from lightning_gans.nn.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init
from lightning_gans.nn.mlp import Maxout, MLPDiscriminator, MLPGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "Maxout",
    "dcgan_init",
]
