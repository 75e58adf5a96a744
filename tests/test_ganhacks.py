"""ganhacks' switches: soft, noisy and flipped labels, annealed instance noise, G's dropout and upsampling."""

from __future__ import annotations

import pytest
import torch

from lightning_gans.models import DCGAN, GAN, ImprovedGAN
from lightning_gans.models import gan as gan_module
from lightning_gans.models.ganhacks import GANHacks
from lightning_gans.nn import DCGANGenerator
from tests.test_models import fit, loader, tiny_dcgan

LOGITS = torch.zeros(20_000)


def test_by_default_targets_are_the_hard_labels_and_no_random_numbers_are_drawn():
    hacks = GANHacks()
    state = torch.get_rng_state()
    assert hacks.targets(LOGITS, LOGITS) == (1.0, 0.0)
    images = torch.ones(2, 1, 4, 4)
    assert hacks.instance_noise(images, g_steps=0) is images
    assert torch.equal(torch.get_rng_state(), state)


def test_soft_noisy_labels_lie_in_their_ranges_and_fill_them():
    real, fake = GANHacks(real_label_range=(0.7, 1.2), fake_label_range=(0.0, 0.3)).targets(LOGITS, LOGITS)
    assert real.shape == fake.shape == LOGITS.shape
    assert 0.7 <= real.min() < 0.71 and 1.19 < real.max() <= 1.2
    assert 0.0 <= fake.min() < 0.01 and 0.29 < fake.max() <= 0.3


def test_one_sided_label_smoothing_is_a_fixed_real_target():
    assert GANHacks(real_label_range=(0.9, 0.9)).targets(LOGITS, LOGITS) == (0.9, 0.0)


def test_label_flipping_gives_the_stated_share_the_other_players_labels():
    hacks = GANHacks(real_label_range=(0.7, 1.2), fake_label_range=(0.0, 0.3), label_flip_probability=0.2)
    real, fake = hacks.targets(LOGITS, LOGITS)
    flipped_real, flipped_fake = real <= 0.3, fake >= 0.7
    assert ((real >= 0.7) | flipped_real).all() and ((fake <= 0.3) | flipped_fake).all()
    assert flipped_real.float().mean().item() == pytest.approx(0.2, abs=0.015)
    assert flipped_fake.float().mean().item() == pytest.approx(0.2, abs=0.015)


def test_instance_noise_anneals_linearly_to_zero_over_the_generator_steps():
    hacks = GANHacks(instance_noise_std=0.2, instance_noise_steps=100)
    assert [hacks.noise_std(step) for step in (0, 50, 100, 1000)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    images = torch.zeros(50_000)
    assert hacks.instance_noise(images, g_steps=0).std().item() == pytest.approx(0.2, rel=0.02)
    assert hacks.instance_noise(images, g_steps=75).std().item() == pytest.approx(0.05, rel=0.02)
    assert hacks.instance_noise(images, g_steps=100) is images


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"real_label_range": (1.2, 0.7)}, "real_label_range.*low <= high"),
        ({"fake_label_range": (0.3, 0.0)}, "fake_label_range.*low <= high"),
        ({"label_flip_probability": 1.0}, "label_flip_probability"),
        ({"instance_noise_std": -0.1}, "instance_noise_std"),
        ({"instance_noise_std": 0.1}, "instance_noise_steps >= 1"),
        ({"generator_dropout": 1.0}, "dropout"),
        ({"generator_upsample": "bilinear"}, "upsample.*pixel_shuffle"),
    ],
)
def test_bad_ganhacks_settings_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_dcgan(**kwargs)


def test_every_minimax_model_takes_the_switches():
    gan = GAN(image_size=8, generator_hidden=(4,), discriminator_hidden=(4,), label_flip_probability=0.1)
    improved = ImprovedGAN(
        image_size=16, generator_features=2, discriminator_features=2, instance_noise_std=0.1, instance_noise_steps=5
    )
    assert gan.hacks.label_flip_probability == 0.1 and improved.hacks.noise_std(0) == 0.1


def test_the_training_step_feeds_d_the_targets_and_the_noise(tmp_path, monkeypatch):
    targets, d_inputs, loss = [], [], gan_module.losses.minimax_discriminator_loss

    def recording_loss(real_logits, fake_logits, real_target, fake_target):
        targets.append((real_target, fake_target))
        return loss(real_logits, fake_logits, real_target, fake_target)

    monkeypatch.setattr(gan_module.losses, "minimax_discriminator_loss", recording_loss)
    model = tiny_dcgan(
        real_label_range=(0.7, 1.2), fake_label_range=(0.0, 0.3), instance_noise_std=0.5, instance_noise_steps=2
    )
    model.discriminator.register_forward_pre_hook(lambda module, args: d_inputs.append(args[0].clone()))
    data = loader(n=24)
    fit(model, data, tmp_path)
    assert len(targets) == 3
    for real_target, fake_target in targets:
        assert real_target.shape == (8,) and 0.7 <= real_target.min() and real_target.max() <= 1.2
        assert fake_target.shape == (8,) and 0.0 <= fake_target.min() and fake_target.max() <= 0.3
    # Each batch: D sees the real images, generated ones in D's step, generated ones in G's step.
    real_batches = [images for images, _ in data]
    seen_real = [d_inputs[3 * i] for i in range(3)]
    noise_std = [(seen - real).std().item() for seen, real in zip(seen_real, real_batches, strict=True)]
    assert noise_std[0] == pytest.approx(0.5, rel=0.1) and noise_std[1] == pytest.approx(0.25, rel=0.1)
    assert noise_std[2] == 0.0  # annealed away after two generator steps


@pytest.mark.parametrize("upsample", ["transposed", "pixel_shuffle", "resize"])
def test_generator_upsampling_and_dropout_options(upsample):
    generator = DCGANGenerator(8, 3, 32, 4, upsample=upsample, dropout=0.5)
    assert generator(torch.randn(2, 8)).shape == (2, 3, 32, 32)
    transposed = [m for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(transposed) == (4 if upsample == "transposed" else 1)  # the 1x1 -> 4x4 projection stays
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in generator.modules()) == (
        3 if upsample == "pixel_shuffle" else 0
    )
    assert sum(isinstance(m, torch.nn.Dropout) for m in generator.modules()) == 3  # after each hidden block
    generator.eval()
    z = torch.randn(2, 8)
    assert torch.equal(generator(z), generator(z))  # dropout is off for sampling


def test_default_dcgan_networks_are_unchanged_by_the_switches():
    plain, hacked = tiny_dcgan(), tiny_dcgan(real_label_range=(0.7, 1.2))
    assert plain.state_dict().keys() == hacked.state_dict().keys()
    assert not any(isinstance(m, torch.nn.Dropout) for m in DCGAN().generator.modules())
