"""BEGAN beyond the conformance suite: figure 1's networks, the k_t controller, M_global and its LR decay."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Callback, Trainer, seed_everything

from datamodules import DigitsDataModule
from lightning_gans.cli import cli_main
from lightning_gans.models import BEGAN, DCGAN
from lightning_gans.nn import BEGANDecoder, BEGANDiscriminator
from tests.test_cli import CONFIGS

PLATEAU = {"class_path": "torch.optim.lr_scheduler.ReduceLROnPlateau", "init_args": {"factor": 0.5, "patience": 0}}


def tiny_began(**kwargs) -> BEGAN:
    return BEGAN(**{"image_size": 16, "channels": 1, "latent_dim": 8, "embedding_dim": 8, "filters": 4, **kwargs})


def fit(model, tmp_path, epochs: int = 1, batches: int = 1, callbacks=()) -> Trainer:
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        limit_train_batches=batches,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=list(callbacks),
    )
    trainer.fit(model, datamodule=DigitsDataModule(image_size=16, batch_size=8))
    return trainer


@pytest.mark.parametrize("image_size, scales", [(8, 1), (32, 3), (64, 4)])
def test_networks_follow_figure_1(image_size, scales):
    n = 5
    discriminator = BEGANDiscriminator(channels=3, image_size=image_size, filters=n, embedding_dim=7)
    generator = BEGANDecoder(input_dim=6, channels=3, image_size=image_size, filters=n)
    x = torch.randn(2, 3, image_size, image_size)
    assert discriminator(x).shape == x.shape and generator(torch.rand(2, 6)).shape == x.shape
    assert discriminator.encoder(x).shape == (2, 7)

    encoder_convs = [m for m in discriminator.encoder.net if isinstance(m, torch.nn.Conv2d)]
    subsampling = [m for m in encoder_convs if m.stride == (2, 2)]
    assert [m.out_channels for m in subsampling] == [n * (i + 2) for i in range(scales - 1)]  # n, 2n, 3n, ...
    assert len(encoder_convs) == 1 + 2 * scales + (scales - 1)
    upsampling = [m for m in generator.net if isinstance(m, torch.nn.Upsample)]
    assert len(upsampling) == scales - 1 and all(m.mode == "nearest" for m in upsampling)
    for net in (discriminator, generator):
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
        activations = [m for m in net.modules() if type(m).__module__ == "torch.nn.modules.activation"]
        assert activations and all(isinstance(m, torch.nn.ELU) for m in activations)
    assert isinstance(generator.net[-1], torch.nn.Conv2d)  # no output nonlinearity, as in the paper


@pytest.mark.parametrize("k_start, lambda_k", [(0.3, 0.001), (0.3, 100.0), (0.0, 0.001)])
def test_one_step_follows_the_papers_equations(k_start, lambda_k, tmp_path):
    seed_everything(0)
    model = tiny_began(gamma=0.7, lambda_k=lambda_k)
    model.k.fill_(k_start)
    trainer = fit(model, tmp_path)
    logged = {name.removeprefix("train/"): value.item() for name, value in trainer.callback_metrics.items()}
    loss_real, loss_fake_d, loss_fake_g = logged["d_real"], logged["d_fake"], logged["g_loss"]

    assert logged["d_loss"] == pytest.approx(loss_real - k_start * loss_fake_d, rel=1e-6)
    balance = 0.7 * loss_real - loss_fake_g
    assert model.k.item() == pytest.approx(min(max(k_start + lambda_k * balance, 0.0), 1.0), rel=1e-5, abs=1e-9)
    assert 0.0 <= model.k.item() <= 1.0
    assert logged["m_global"] == pytest.approx(loss_real + abs(balance), rel=1e-6)
    assert logged["k"] == model.k.item()


def test_k_is_part_of_the_checkpoint():
    model = tiny_began()
    model.k.fill_(0.25)
    restored = tiny_began()
    restored.load_state_dict(model.state_dict())
    assert restored.k.item() == 0.25


class RecordMGlobal(Callback):
    def __init__(self) -> None:
        self.values: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        self.values.append(trainer.callback_metrics["train/m_global"].item())


def test_plateau_scheduler_watches_the_epochs_mean_m_global_and_halves_the_learning_rate(tmp_path):
    # An improvement must be by 10 or more: no epoch after the first is one.
    plateau = {**PLATEAU, "init_args": {**PLATEAU["init_args"], "threshold": 10.0, "threshold_mode": "abs"}}
    model = tiny_began(scheduler_g=plateau, scheduler_d=plateau)
    record = RecordMGlobal()
    fit(model, tmp_path, epochs=3, batches=2, callbacks=[record])
    for scheduler, optimizer in zip(model.lr_schedulers(), model.optimizers(), strict=True):
        assert scheduler.best == pytest.approx(sum(record.values[:2]) / 2, rel=1e-6)  # epoch 1's mean M_global
        assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 / 4)  # halved after epochs 2 and 3


def test_a_plateau_scheduler_needs_a_variant_with_a_convergence_measure(tmp_path):
    model = DCGAN(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)
    model.scheduler_factories["d"] = PLATEAU
    with pytest.raises(ValueError, match="ReduceLROnPlateau needs a quantity to watch and DCGAN has none"):
        fit(model, tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": 1.5}, "gamma"),
        ({"lambda_k": 0.0}, "lambda_k"),
        ({"image_size": 12}, "image_size=12 is not supported.*power of two >= 8"),
        ({"image_size": 4}, "image_size=4 is not supported"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_began(**kwargs)


def test_a_config_gets_the_models_and_the_datamodules_own_defaults():
    cli = cli_main(["--config", str(CONFIGS / "began_celeba64.yaml"), "--data.init_args.download=false"], run=False)
    assert (cli.model.hparams.latent_dim, cli.model.hparams.latent_distribution) == (64, "uniform")
    assert cli.datamodule.image_size == 64
