"""ProGAN beyond the conformance suite: the growth schedule, table 2's networks, the fade-in of G, D and the
real images, the per-resolution batch size, and a resume in the middle of a fade."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, Trainer, seed_everything
from torch.utils.data import DataLoader, TensorDataset

from datamodules import DigitsDataModule
from lightning_gans.models import ProGAN
from lightning_gans.models.progan import growth
from lightning_gans.nn import ProGANDiscriminator, ProGANGenerator
from lightning_gans.nn.progan import EqualizedConv2d, MinibatchStdDev, PixelNorm, real_images_at
from tests.registry import VARIANTS


def tiny_progan(**kwargs) -> ProGAN:
    defaults = dict(image_size=16, channels=1, latent_dim=8, feature_base=64, feature_max=8)
    return ProGAN(**{**defaults, **kwargs})


def trainer(tmp_path, **kwargs) -> Trainer:
    settings = dict(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    return Trainer(**{**settings, **kwargs})


# ------------------------------------------------------------------------------------ schedule
@pytest.mark.parametrize(
    "images_seen, expected",
    [
        (0, (0, 1.0)),
        (7, (0, 1.0)),  # 4x4 stabilises for 8 images
        (8, (1, 0.0)),  # 8x8 fades in over 20 images
        (18, (1, 0.5)),
        (24, (1, 0.8)),
        (28, (1, 1.0)),  # and stabilises for 8
        (35, (1, 1.0)),
        (36, (2, 0.0)),
        (46, (2, 0.5)),
        (56, (2, 1.0)),
        (10**9, (2, 1.0)),  # the last level trains on
    ],
)
def test_growth_fades_each_level_in_linearly_then_stabilises(images_seen, expected):
    assert growth(images_seen, last_level=2, fade_images=20, stabilize_images=8) == expected


def test_a_4x4_model_never_grows():
    assert growth(10**6, last_level=0, fade_images=5, stabilize_images=5) == (0, 1.0)


# ------------------------------------------------------------------------------------ networks
def test_full_size_networks_match_table_2():
    generator = ProGANGenerator(latent_dim=512, channels=3, image_size=1024, feature_base=16384, feature_max=512)
    discriminator = ProGANDiscriminator(3, 1024, feature_base=16384, feature_max=512, mbstd_group_size=4)
    assert [rgb[0].weight.shape[0] for rgb in discriminator.from_rgb] == [512, 512, 512, 512, 256, 128, 64, 32, 16]
    # The paper: 23.1M trainable parameters in each network.
    for net in (generator, discriminator):
        assert sum(p.numel() for p in net.parameters()) / 1e6 == pytest.approx(23.1, abs=0.05)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_networks_run_at_every_level(level):
    generator = ProGANGenerator(8, 3, 16, feature_base=64, feature_max=8)
    discriminator = ProGANDiscriminator(3, 16, feature_base=64, feature_max=8, mbstd_group_size=4)
    size = 4 * 2**level
    images = generator(torch.randn(4, 8), level, alpha=0.5 if level else 1.0)
    assert images.shape == (4, 3, size, size)
    assert discriminator(images, alpha=0.5 if level else 1.0).shape == (4,)


def test_a_fading_level_blends_with_the_previous_level_as_the_paper_says():
    seed_everything(0)
    generator = ProGANGenerator(8, 3, 16, feature_base=64, feature_max=8)
    discriminator = ProGANDiscriminator(3, 16, feature_base=64, feature_max=8, mbstd_group_size=4)
    z = torch.randn(4, 8)
    coarse = F.interpolate(generator(z, 1), scale_factor=2, mode="nearest")
    fine = generator(z, 2, 1.0)
    torch.testing.assert_close(generator(z, 2, 0.0), coarse)
    torch.testing.assert_close(generator(z, 2, 0.3), 0.7 * coarse + 0.3 * fine)
    # D at alpha 0 is the previous level's D on the average-pooled images.
    x = torch.randn(4, 3, 16, 16)
    torch.testing.assert_close(discriminator(x, alpha=0.0), discriminator(F.avg_pool2d(x, 2)))


def test_real_images_are_box_filtered_and_faded_like_the_generators_output():
    x = torch.randn(2, 3, 16, 16)
    blocks = x.view(2, 3, 4, 4, 4, 4).mean(dim=(3, 5))  # means of 4x4 pixel blocks
    torch.testing.assert_close(real_images_at(x, 4), blocks)
    coarser = F.interpolate(x.view(2, 3, 2, 8, 2, 8).mean(dim=(3, 5)), scale_factor=2, mode="nearest")
    torch.testing.assert_close(real_images_at(x, 4, alpha=0.0), coarser)
    torch.testing.assert_close(real_images_at(x, 4, alpha=0.25), 0.75 * coarser + 0.25 * blocks)
    assert torch.equal(real_images_at(x, 16), x)


def test_equalized_layers_are_he_initialised_at_run_time():
    layer = EqualizedConv2d(64, 32, 3)
    assert layer.weight.std().item() == pytest.approx(1.0, abs=0.02)  # stored N(0, 1)
    effective = layer.weight * layer.scale
    assert effective.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.02)
    x = torch.randn(2, 64, 8, 8)
    torch.testing.assert_close(layer(x), F.conv2d(x, effective, layer.bias, padding=1))


def test_pixel_norm_gives_every_pixel_unit_mean_square():
    out = PixelNorm()(torch.randn(3, 16, 5, 5) * 7)
    torch.testing.assert_close(out.pow(2).mean(dim=1), torch.ones(3, 5, 5))


def test_minibatch_stddev_appends_each_groups_mean_standard_deviation():
    x = torch.randn(8, 3, 4, 4)
    out = MinibatchStdDev(group_size=4)(x)
    assert out.shape == (8, 4, 4, 4) and torch.equal(out[:, :3], x)
    for member in range(2):  # groups are samples {0, 2, 4, 6} and {1, 3, 5, 7}
        group = x[member::2]
        expected = group.std(dim=0, unbiased=False).mean()
        torch.testing.assert_close(out[member::2, 3], expected.expand(4, 4, 4), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch of 6 images cannot be split into groups of 4"):
        MinibatchStdDev(group_size=4)(torch.randn(6, 3, 4, 4))


# ------------------------------------------------------------------------------ model settings
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_sizes": {4: 8, 8: 8}}, r"no batch size for the resolutions \[16\]"),
        ({"batch_sizes": {4: 8, 8: 6, 16: 8}}, r"batch_sizes\[8\] = 6 is not a positive multiple of mbstd"),
        ({"fade_images": 0}, "fade_images must be an integer >= 1"),
        ({"gp_weight": -1.0}, "gp_weight"),
        ({"image_size": 12}, "image_size=12 is not supported.*power of two >= 4"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_progan(**kwargs)


class RecordBatchSizes(Callback):
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.sizes.append(batch[0].size(0))


def test_the_batch_size_follows_the_resolution_through_the_datamodule(tmp_path):
    # 4x4 for 16 images in batches of 8, then 8x8 in batches of 4: the first epoch ends at the switch and
    # the next one reloads the loader with the new batch size.
    model = tiny_progan(fade_images=8, stabilize_images=16, batch_sizes={4: 8, 8: 4, 16: 4})
    data = DigitsDataModule(image_size=16, batch_size=32)  # replaced at the start by the 4x4 batch size
    record = RecordBatchSizes()
    run = trainer(
        tmp_path, max_epochs=2, limit_train_batches=4, reload_dataloaders_every_n_epochs=1, callbacks=[record]
    )
    run.fit(model, datamodule=data)
    assert record.sizes == [8, 8, 4, 4, 4, 4]
    assert model.images_seen == 32 and data.batch_size == 4 and model.growth == (1, 1.0)


def test_a_changing_batch_size_needs_loaders_that_reload(tmp_path):
    model = tiny_progan(batch_sizes={4: 8, 8: 4, 16: 4})
    with pytest.raises(ValueError, match="reload_dataloaders_every_n_epochs=1"):
        trainer(tmp_path).fit(model, datamodule=DigitsDataModule(image_size=16, batch_size=8))


def test_batch_sizes_need_a_datamodule_and_none_keeps_the_loaders(tmp_path):
    images = torch.rand(16, 1, 16, 16) * 2 - 1
    loader = DataLoader(TensorDataset(images), batch_size=4)
    with pytest.raises(ValueError, match="no datamodule with a batch_size.*batch_sizes=None"):
        trainer(tmp_path).fit(tiny_progan(batch_sizes={4: 4, 8: 4, 16: 4}), loader)
    model = tiny_progan(batch_sizes=None)
    trainer(tmp_path).fit(model, loader)
    assert model.images_seen == 16


# ------------------------------------------------------------------------------- resume mid-fade
def test_the_conformance_resume_point_is_mid_fade_and_the_run_reaches_the_full_size(tmp_path):
    """tests/test_conformance.py resumes the registered ProGAN after 1 of 2 epochs of 3 batches of 8 and
    compares every tensor and the extra state with an uninterrupted run; this pins down that the
    checkpoint lies in the middle of the 8x8 fade-in and that the run then grows to 16x16."""
    variant = VARIANTS["progan_growing"]
    seed_everything(0)
    model = variant.make_model()
    run = trainer(tmp_path, limit_train_batches=3)
    run.fit(model, datamodule=variant.make_data())
    assert model.images_seen == 24 and model.growth == (1, 0.8)
    run.save_checkpoint(tmp_path / "mid_fade.ckpt")

    resumed = variant.make_model()
    trainer(tmp_path, max_epochs=2, limit_train_batches=3).fit(
        resumed, datamodule=variant.make_data(), ckpt_path=tmp_path / "mid_fade.ckpt"
    )
    assert resumed.images_seen == 48 and resumed.growth == (2, 0.6)
    assert resumed.generator_ema.n_averaged.item() == 6
    assert resumed.sample(2).shape == (2, 1, 16, 16)


def test_batch_sizes_with_string_keys_from_a_config_are_read_as_resolutions():
    # jsonargparse and YAML hand dict[int, int] over with string keys.
    model = tiny_progan(batch_sizes={"4": 8, "8": 4, "16": 4})
    assert model.hparams.batch_sizes == {4: 8, 8: 4, 16: 4} and model.phase_batch_size() == 8
