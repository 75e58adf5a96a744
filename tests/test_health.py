"""TrainingHealth: each check fires on a constructed failure and stays quiet on a healthy run."""

from __future__ import annotations

import warnings

import pytest
import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint

from datamodules import DigitsDataModule
from lightning_gans.callbacks.health import TrainingHealth, TrainingHealthError, diversity
from lightning_gans.models import DCGAN, load_model

FROZEN = {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.0}}


def tiny_dcgan(**kwargs) -> DCGAN:
    settings = dict(image_size=16, channels=1, latent_dim=8, generator_features=8, discriminator_features=8)
    return DCGAN(**{**settings, **kwargs})


def fit(model, health: TrainingHealth, tmp_path, epochs: int = 1, callbacks=()) -> list[str]:
    """Train on digits; returns the TrainingHealth warnings."""
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=bool(callbacks),
        callbacks=[health, *callbacks],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, datamodule=DigitsDataModule(image_size=16, batch_size=64))
    return [str(w.message) for w in caught if "TrainingHealth" in str(w.message)]


def test_an_overpowering_discriminator_is_reported(tmp_path):
    seed_everything(0)
    # G frozen at its initial, near-constant output; a fast D learns to tell it from digits almost at once.
    model = tiny_dcgan(optimizer_g=FROZEN, optimizer_d={"class_path": "torch.optim.Adam", "init_args": {"lr": 0.01}})
    health = TrainingHealth(d_loss_tolerance=0.05, d_win_patience=5, on_discriminator_win="stop")
    with pytest.raises(TrainingHealthError, match="discriminator's loss has stayed.*G gets almost no gradient"):
        fit(model, health, tmp_path, epochs=5)
    assert health.d_win_streak >= 5


def test_exploding_gradients_are_reported_with_the_network(tmp_path):
    seed_everything(0)
    model = tiny_dcgan()
    with torch.no_grad():
        model.discriminator.head.weight.mul_(1e4)  # a D whose gradients blow up
    found = fit(model, TrainingHealth(max_grad_norm=100.0), tmp_path)
    assert len(found) == 1 and "exploding" in found[0]
    assert "train/g_grad_norm" in found[0] or "train/d_grad_norm" in found[0]


class InjectNaN(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 3:
            with torch.no_grad():
                next(pl_module.generator.parameters()).fill_(float("nan"))


def test_nan_stops_training_names_the_network_and_keeps_the_last_good_checkpoint(tmp_path):
    seed_everything(0)
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=2, save_top_k=-1)
    with pytest.raises(TrainingHealthError, match=r"train/.*became nan: the generator diverged"):
        fit(tiny_dcgan(), TrainingHealth(), tmp_path, callbacks=[InjectNaN(), checkpoints])
    saved = sorted((tmp_path / "ckpt").glob("*.ckpt"))
    assert saved
    for path in saved:
        model = load_model(path)
        assert all(torch.isfinite(p).all() for p in model.parameters()), f"{path.name} holds the diverged state"


def test_collapsed_samples_are_reported(tmp_path):
    seed_everything(0)
    model = tiny_dcgan(optimizer_g=FROZEN)
    with torch.no_grad():
        model.generator.net[-2].weight.zero_()  # every z gives the same image
    health = TrainingHealth(check_every_n_steps=5, warmup_steps=5, on_collapse="stop")
    with pytest.raises(TrainingHealthError, match="collapsed.*0% as diverse"):
        fit(model, health, tmp_path)


def test_a_healthy_run_raises_no_alarm(tmp_path):
    seed_everything(0)
    # A small G needs ~60 steps to pass 20% of the real diversity (the default warmup is 500 steps).
    health = TrainingHealth(check_every_n_steps=10, warmup_steps=100, d_win_patience=20)
    assert fit(tiny_dcgan(), health, tmp_path, epochs=4) == []  # 112 steps, collapse checked at 100 and 110
    assert health.real_diversity is not None


def test_diversity_is_the_mean_pairwise_distance():
    images = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]]).view(3, 1, 1, 2)
    assert diversity(images) == pytest.approx((5 + 0 + 5) / 3)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="on_collapse must be 'warn' or 'stop'"):
        TrainingHealth(on_collapse="ignore")
    with pytest.raises(ValueError, match="num_samples must be an integer >= 2"):
        TrainingHealth(num_samples=1)
