"""Behaviour of the base module and the GAN/DCGAN variants beyond the conformance suite."""

from __future__ import annotations

import csv

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans.models import DCGAN, GAN
from lightning_gans.nn import DCGANDiscriminator, DCGANGenerator


def tiny_dcgan(**kwargs) -> DCGAN:
    defaults = dict(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)
    return DCGAN(**{**defaults, **kwargs})


def loader(shape=(1, 16, 16), n=32, batch_size=8) -> DataLoader:
    images = torch.rand(n, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return DataLoader(TensorDataset(images, torch.zeros(n)), batch_size=batch_size)


def fit(model, data, tmp_path, **trainer_kwargs) -> Trainer:
    settings = dict(
        accelerator="cpu",
        max_epochs=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
        logger=False,
    )
    trainer = Trainer(**{**settings, **trainer_kwargs})
    trainer.fit(model, data)
    return trainer


@pytest.mark.parametrize("image_size, blocks", [(16, 2), (32, 3), (64, 4), (128, 5)])
def test_dcgan_networks_follow_the_paper_for_every_power_of_two(image_size, blocks):
    generator = DCGANGenerator(latent_dim=10, channels=3, image_size=image_size, features=8)
    discriminator = DCGANDiscriminator(channels=3, image_size=image_size, features=8)
    z = torch.randn(2, 10)
    images = generator(z)
    assert images.shape == (2, 3, image_size, image_size)
    assert discriminator(images).shape == (2,)
    batch_norms = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(batch_norms) == blocks  # every block but the output layer
    assert isinstance(generator.net[-1], torch.nn.Tanh)
    assert not isinstance(discriminator.body[1], torch.nn.BatchNorm2d)  # none on D's input layer
    assert not any(isinstance(m, (torch.nn.Linear, torch.nn.MaxPool2d)) for m in discriminator.modules())


def test_dcgan_initialisation_is_normal_with_std_0_02():
    model = DCGAN(image_size=64, channels=3)
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, torch.nn.Conv2d)])
    assert weights.mean().abs() < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.02)


@pytest.mark.parametrize("image_size", [8, 24, 48, 100])
def test_dcgan_rejects_sizes_it_cannot_build(image_size):
    with pytest.raises(ValueError, match=f"image_size={image_size} is not supported.*power of two"):
        tiny_dcgan(image_size=image_size)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_critic": 0}, "n_critic"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"latent_distribution": "cauchy"}, "latent_distribution"),
        ({"generator_loss": "wasserstein"}, "generator_loss"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_dcgan(**kwargs)


def test_grayscale_data_into_a_colour_model_fails_before_any_update(tmp_path):
    model = tiny_dcgan(channels=3)
    before = {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    with pytest.raises(ValueError, match=r"shape \(1, 16, 16\).*built for \(3, 16, 16\).*channels=1"):
        fit(model, loader(shape=(1, 16, 16)), tmp_path)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items() if isinstance(v, torch.Tensor))


def test_default_latent_distributions():
    assert GAN(image_size=8, generator_hidden=(4,), discriminator_hidden=(4,)).sample_latent(4000).abs().max() <= 1
    z = tiny_dcgan().sample_latent(4000)
    assert z.std().item() == pytest.approx(1.0, rel=0.05) and z.abs().max() > 2


def test_each_step_logs_losses_discriminator_outputs_and_gradient_norms(tmp_path):
    logger = CSVLogger(tmp_path)
    fit(tiny_dcgan(), loader(), tmp_path, logger=logger, log_every_n_steps=1)
    with open(logger.log_dir + "/metrics.csv") as f:
        columns = set(next(csv.reader(f)))
    expected = {
        "train/d_loss",
        "train/g_loss",
        "train/d_real",
        "train/d_fake",
        "train/d_grad_norm",
        "train/g_grad_norm",
    }
    assert expected <= columns


def test_losses_are_logged_every_batch_and_diagnostics_only_when_the_loggers_write(tmp_path, monkeypatch):
    model = tiny_dcgan()
    logged = []
    log = model.log
    monkeypatch.setattr(model, "log", lambda name, *args, **kwargs: (logged.append(name), log(name, *args, **kwargs)))
    fit(model, loader(), tmp_path, limit_train_batches=4, log_every_n_steps=2)
    assert logged.count("train/d_loss") == logged.count("train/g_loss") == 4
    assert logged.count("train/d_real") == logged.count("train/d_fake") == logged.count("train/d_grad_norm") == 2


def test_n_critic_sets_discriminator_updates_per_generator_update(tmp_path):
    model = tiny_dcgan(n_critic=3)
    trainer = fit(model, loader(n=96), tmp_path)  # 12 batches
    assert model.d_steps == 12 and model.g_steps == 4
    assert trainer.global_step == 16  # Lightning counts both players' optimizer steps


def test_ema_generator_tracks_the_generator_and_is_used_for_samples(tmp_path):
    seed_everything(0)
    model = tiny_dcgan(ema_decay=0.5)
    fit(model, loader(), tmp_path)
    ema_weights = dict(model.generator_ema.module.named_parameters())
    live_weights = dict(model.generator.named_parameters())
    assert not any(p.requires_grad for p in ema_weights.values())
    assert any(not torch.equal(ema_weights[k], live_weights[k]) for k in live_weights)
    z = model.sample_latent(4)
    model.generator_ema.eval()
    assert torch.equal(model.generate(z), model.generator_ema(z))


def test_lr_schedulers_step_once_per_epoch(tmp_path):
    model = tiny_dcgan(
        scheduler_d={"class_path": "torch.optim.lr_scheduler.StepLR", "init_args": {"step_size": 1, "gamma": 0.1}}
    )
    trainer = fit(model, loader(), tmp_path, max_epochs=2)
    d_lr, g_lr = (opt.param_groups[0]["lr"] for opt in trainer.optimizers)
    assert d_lr == pytest.approx(2e-6) and g_lr == pytest.approx(2e-4)


def test_python_optimizer_callables_work_too(tmp_path):
    model = tiny_dcgan(optimizer_d=lambda params: torch.optim.SGD(params, lr=0.01))
    trainer = fit(model, loader(), tmp_path)
    assert isinstance(trainer.optimizers[0], torch.optim.SGD)
    assert "optimizer_d" not in model.hparams  # code stays out of the checkpoint's hyperparameters
