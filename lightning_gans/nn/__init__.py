"""Plain ``nn.Module`` networks, with no Lightning in them."""

from lightning_gans.nn.began import BEGANDecoder, BEGANDiscriminator, BEGANEncoder
from lightning_gans.nn.conditional import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator
from lightning_gans.nn.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init
from lightning_gans.nn.image_pool import ImagePool
from lightning_gans.nn.improved import (
    HistoricalAverage,
    MinibatchDiscrimination,
    ReferenceBatchGenerator,
    VirtualBatchNorm2d,
)
from lightning_gans.nn.infogan import InfoGANQHead
from lightning_gans.nn.latent import concept_vector, interpolation_path, latent_arithmetic, lerp, slerp
from lightning_gans.nn.mlp import Maxout, MLPDiscriminator, MLPGenerator
from lightning_gans.nn.patchgan import PatchGANDiscriminator
from lightning_gans.nn.progan import ProGANDiscriminator, ProGANGenerator
from lightning_gans.nn.resnet_generator import ResnetGenerator
from lightning_gans.nn.resnet_gp import WGANGPResNetCritic, WGANGPResNetGenerator
from lightning_gans.nn.unet import UNetGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "Maxout",
    "HistoricalAverage",
    "MinibatchDiscrimination",
    "ReferenceBatchGenerator",
    "VirtualBatchNorm2d",
    "dcgan_init",
    "BEGANDecoder",
    "BEGANDiscriminator",
    "BEGANEncoder",
    "ProGANDiscriminator",
    "ProGANGenerator",
    "ImagePool",
    "PatchGANDiscriminator",
    "ResnetGenerator",
    "UNetGenerator",
    "ConditionalDCGANDiscriminator",
    "ConditionalDCGANGenerator",
    "concept_vector",
    "interpolation_path",
    "latent_arithmetic",
    "lerp",
    "slerp",
    "InfoGANQHead",
    "WGANGPResNetCritic",
    "WGANGPResNetGenerator",
]
