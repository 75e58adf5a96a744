"""WGAN-GP's CIFAR-10 ResNet (Gulrajani et al. 2017, appendix F) and its reproduction config.

Training, resuming and loading are covered by the conformance suite's "wgan_gp_resnet" entry (tests/registry.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import Callback, Trainer, seed_everything
from torch import nn

from lightning_gans.models import WGANGP
from lightning_gans.nn import WGANGPResNetCritic, WGANGPResNetGenerator
from tests.registry import tiny_digits

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "wgan_gp_resnet_cifar10.yaml"


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_generator_maps_latents_to_32px_images_in_range():
    generator = WGANGPResNetGenerator(latent_dim=16, channels=3, features=8)
    images = generator(torch.randn(5, 16))
    assert images.shape == (5, 3, 32, 32)
    assert images.min() >= -1 and images.max() <= 1


def test_critic_scores_each_image_once_from_an_8x8_map_and_has_no_batch_norm():
    critic = WGANGPResNetCritic(channels=3, features=8)
    images = torch.randn(5, 3, 32, 32)
    assert critic.blocks(images).shape == (5, 8, 8, 8)  # 32 -> 16 -> 8, then two blocks at 8x8
    assert critic(images).shape == (5,)
    model = WGANGP(image_size=32, architecture="resnet", generator_features=8, discriminator_features=8)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.discriminator.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.generator.modules())  # G keeps its batch norm
    layer_normed = [m for m in model.discriminator.modules() if isinstance(m, nn.GroupNorm)]
    assert len(layer_normed) == 6  # before both ReLUs of the three non-first blocks
    plain = WGANGP(image_size=32, architecture="resnet", critic_normalization="none")
    assert not any(isinstance(m, nn.GroupNorm) for m in plain.discriminator.modules())


def test_parameter_counts_match_the_papers_networks_at_width_128():
    conv3, conv1, bn = 128 * 128 * 9 + 128, 128 * 128 + 128, 2 * 128
    # G: linear 128 -> 128x4x4; 3 up-blocks (BN, conv3, BN, conv3, 1x1 shortcut); BN and 3x3 conv to RGB.
    generator = (128 * 2048 + 2048) + 3 * (bn + conv3 + bn + conv3 + conv1) + bn + (128 * 3 * 9 + 3)
    # D: optimized block (conv3 3->128, conv3, 1x1 shortcut 3->128); a down-block (two conv3, 1x1 shortcut);
    # two blocks with identity shortcuts; linear 128 -> 1.
    critic = (3 * 128 * 9 + 128) + conv3 + (3 * 128 + 128) + (2 * conv3 + conv1) + 2 * (2 * conv3) + 129
    assert (generator, critic) == (1_204_483, 1_053_825)
    model = WGANGP(
        image_size=32,
        architecture="resnet",
        generator_features=128,
        discriminator_features=128,
        critic_normalization="none",
    )
    assert parameter_count(model.generator) == generator
    assert parameter_count(model.discriminator) == critic


def test_weights_start_as_in_the_authors_code():
    critic = WGANGPResNetCritic(features=128)
    conv = critic.blocks[1].residual[1]  # a 3x3 block convolution: variance 4 / (fan_in + fan_out)
    assert conv.kernel_size == (3, 3)
    expected = (4 / (2 * 128 * 9)) ** 0.5
    assert abs(conv.weight.std().item() / expected - 1) < 0.02
    shortcut = critic.blocks[1].shortcut[0]  # a 1x1 shortcut: Glorot, 2 / (fan_in + fan_out)
    assert abs(shortcut.weight.std().item() / (2 / (2 * 128)) ** 0.5 - 1) < 0.02
    assert all(not m.bias.any() for m in critic.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


class GeneratorBatchSizes(Callback):
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def on_fit_start(self, trainer: Trainer, pl_module: WGANGP) -> None:
        pl_module.generator.register_forward_hook(lambda module, args, output: self.sizes.append(len(output)))


def test_generator_updates_draw_the_multiple_of_the_critic_batch(tmp_path):
    seed_everything(0)
    model = WGANGP(
        image_size=32,
        channels=1,
        latent_dim=8,
        architecture="resnet",
        generator_features=4,
        discriminator_features=4,
        n_critic=1,
        generator_batch_multiple=2,
    )
    sizes = GeneratorBatchSizes()
    trainer = Trainer(
        max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False, callbacks=[sizes]
    )
    trainer.fit(model, datamodule=tiny_digits(32))
    assert sizes.sizes == [8, 16]  # the critic's fakes, then G's


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"architecture": "resnet", "image_size": 64}, "32x32 images only"),
        ({"architecture": "stylegan"}, "architecture must be one of"),
        ({"generator_batch_multiple": 0}, "generator_batch_multiple"),
    ],
)
def test_bad_settings_are_refused_with_the_fix(arguments, message):
    with pytest.raises(ValueError, match=message):
        WGANGP(**arguments)


def test_the_reproduction_config_decays_the_rate_to_zero_over_its_100k_generator_iterations():
    config = yaml.safe_load(CONFIG.read_text())
    model, batch_size = config["model"]["init_args"], config["data"]["init_args"]["batch_size"]
    n_critic = model.get("n_critic", 5)
    generator_iterations = config["trainer"]["max_steps"] // (n_critic + 1)  # max_steps counts D and G steps
    assert generator_iterations == 100_000
    epochs = generator_iterations * n_critic / (50_000 // batch_size)  # one critic update per batch
    for name in ("scheduler_g", "scheduler_d"):
        schedule = model[name]["init_args"]
        assert schedule["end_factor"] == 0.0
        assert abs(schedule["total_iters"] - epochs) < 1  # the decay ends within an epoch of the last iteration
