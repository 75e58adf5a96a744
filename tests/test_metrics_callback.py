"""GenerativeMetrics in training: logging, checkpointing on FID, fixed noise, precision, the CLI's quick start."""

from __future__ import annotations

import csv
import logging
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from datamodules import CIFAR10DataModule, DigitsDataModule, MNISTDataModule
from lightning_gans.callbacks import GenerativeMetrics
from lightning_gans.cli import cli_main
from lightning_gans.metrics import DigitClassifier
from lightning_gans.models import DCGAN
from tests.registry import tiny_digits

KEYS = ("val/fid", "val/kid_mean", "val/kid_std", "val/is_mean", "val/is_std")
TINY_DCGAN = ["--model.init_args.generator_features=4", "--model.init_args.discriminator_features=4"]


def tiny_dcgan() -> DCGAN:
    return DCGAN(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)


def small_metrics(cache_dir: Path, **overrides: object) -> GenerativeMetrics:
    settings = {"num_samples": 120, "batch_size": 50, "kid_subsets": 5, "kid_subset_size": 60, "is_splits": 3}
    return GenerativeMetrics(cache_dir=str(cache_dir), **{**settings, **overrides})


def fit(root: Path, callbacks: list, max_epochs: int, **trainer_args: object) -> tuple[Trainer, DCGAN]:
    seed_everything(0)
    model = tiny_dcgan()
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=max_epochs,
        limit_train_batches=2,
        logger=CSVLogger(root),
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        **trainer_args,
    )
    trainer.fit(model, datamodule=tiny_digits())
    return trainer, model


def test_metrics_are_logged_on_schedule_and_model_checkpoint_keeps_the_best_fid(tmp_path):
    metrics = small_metrics(tmp_path / "cache", every_n_epochs=2)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "checkpoints", monitor="val/fid", mode="min")
    trainer, _ = fit(tmp_path, [metrics, checkpoint], max_epochs=3)

    with open(Path(trainer.logger.log_dir) / "metrics.csv") as file:
        rows = [row for row in csv.DictReader(file) if row.get("val/fid")]
    # After the second epoch (every_n_epochs=2) and after the last: 2 batches per epoch.
    assert [int(row["step"]) for row in rows] == [4, 6]
    for row in rows:
        assert all(math.isfinite(float(row[key])) for key in KEYS)
        assert 1 <= float(row["val/is_mean"]) <= 10  # ten digit classes
    fids = [float(row["val/fid"]) for row in rows]
    assert checkpoint.best_model_score.item() == pytest.approx(min(fids), rel=1e-6)
    assert f"epoch={fids.index(min(fids)) + 1}-" in Path(checkpoint.best_model_path).name


def test_evaluation_uses_fixed_noise_and_leaves_the_training_random_state_alone(tmp_path):
    metrics = small_metrics(tmp_path / "cache", every_n_epochs=None)
    trainer, model = fit(tmp_path, [metrics], max_epochs=1)
    logged = {key: trainer.callback_metrics[key].item() for key in KEYS}  # the last epoch's evaluation

    state = torch.get_rng_state()
    again = metrics.measure(model)
    assert torch.equal(torch.get_rng_state(), state)
    assert again == pytest.approx({key.removeprefix("val/"): value for key, value in logged.items()}, rel=1e-5)
    # Each process draws a contiguous block of the same batches, so the samples do not depend on the world size.
    single = metrics.batches(rank=0, world_size=1)
    assert [batch for rank in range(3) for batch in metrics.batches(rank, world_size=3)] == single
    assert sum(size for size, _ in single) == metrics.num_samples and len({seed for _, seed in single}) == len(single)


def test_every_n_steps_counts_generator_steps(tmp_path):
    metrics = small_metrics(
        tmp_path / "cache", every_n_epochs=None, every_n_steps=3, num_samples=60, kid_subset_size=30
    )
    trainer, _ = fit(tmp_path, [metrics], max_epochs=3)  # 6 generator steps: after the 3rd and the 6th only
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as file:
        steps = [int(row["step"]) for row in csv.DictReader(file) if row.get("val/fid")]
    assert steps == [3, 6]  # the generator updates done when measured, as the grids and checkpoint names count


def test_bf16_mixed_training_measures_in_float32(tmp_path):
    metrics = small_metrics(tmp_path / "cache", every_n_epochs=1)
    trainer, model = fit(tmp_path, [metrics], max_epochs=1, precision="bf16-mixed")
    logged = trainer.callback_metrics["val/fid"].item()
    assert math.isfinite(logged)
    assert metrics.measure(model)["fid"] == pytest.approx(logged, rel=1e-5)  # as in a float32 process


def test_auto_picks_the_digit_classifier_for_digit_data_only(tmp_path):
    callback = GenerativeMetrics()
    assert callback.resolve_extractor(DigitsDataModule()) == "digits"
    assert callback.resolve_extractor(MNISTDataModule(root=str(tmp_path), download=False)) == "digits"
    cifar = CIFAR10DataModule(root=str(tmp_path), download=False)
    assert callback.resolve_extractor(cifar) == "inception"
    with pytest.raises(ValueError, match="3-channel images.*feature_extractor='inception'"):
        GenerativeMetrics(feature_extractor="digits").resolve_extractor(cifar)


def test_the_real_images_are_the_validation_split_when_there_is_one():
    held_out = DigitsDataModule(val_fraction=0.2)
    held_out.setup()
    trainer = SimpleNamespace(datamodule=held_out)
    dataset, split, _ = GenerativeMetrics().reference_dataset(trainer)
    assert (split, len(dataset)) == ("val", 359)
    dataset, split, _ = GenerativeMetrics(reference="train").reference_dataset(trainer)
    assert (split, len(dataset)) == ("train", 1438)
    whole = DigitsDataModule()
    whole.setup()
    with pytest.raises(ValueError, match="no validation split.*val_fraction"):
        GenerativeMetrics(reference="val").reference_dataset(SimpleNamespace(datamodule=whole))


def test_a_features_only_extractor_with_is_requested_stops_before_training(tmp_path):
    flatten = torch.nn.Flatten()
    with pytest.raises(ValueError, match="IS needs class logits"):
        fit(tmp_path, [small_metrics(tmp_path / "cache", feature_extractor=flatten)], max_epochs=1)
    metrics = small_metrics(tmp_path / "cache", feature_extractor=flatten, metrics=["fid", "kid"])
    trainer, _ = fit(tmp_path, [metrics], max_epochs=1)
    assert {"val/fid", "val/kid_mean"} <= set(
        trainer.callback_metrics
    ) and "val/is_mean" not in trainer.callback_metrics


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"kid_subset_size": 2000, "num_samples": 1000}, "kid_subset_size=2000"),
        ({"every_n_epochs": 0}, "every_n_epochs"),
        ({"reference": "test"}, "reference"),
        ({"feature_extractor": "vgg"}, "feature_extractor"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(arguments, message):
    with pytest.raises(ValueError, match=message):
        GenerativeMetrics(**arguments)


def test_the_quick_start_reports_fid_and_kid_with_the_digit_classifier_and_checkpoints_on_fid(tmp_path):
    cli = cli_main(
        [
            "fit",
            *TINY_DCGAN,
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.max_epochs=2",
            "--trainer.limit_train_batches=2",
            "--trainer.enable_progress_bar=false",
            f"--generative_metrics.cache_dir={tmp_path / 'cache'}",
            "--trainer.callbacks+=ModelCheckpoint",
            "--trainer.callbacks.monitor=val/fid",
            "--trainer.callbacks.mode=min",
        ]
    )
    callback = next(c for c in cli.trainer.callbacks if isinstance(c, GenerativeMetrics))
    assert isinstance(callback.extractor, DigitClassifier) and callback.sample_count == 1797  # all the digits
    assert set(KEYS) <= set(cli.trainer.callback_metrics)
    checkpoint = cli.trainer.checkpoint_callback
    assert checkpoint.monitor == "val/fid" and Path(checkpoint.best_model_path).is_file()
    assert checkpoint.best_model_score == cli.trainer.callback_metrics["val/fid"]


def test_the_cli_evaluates_every_ten_epochs_as_many_images_as_the_data_has():
    callback = next(c for c in cli_main([], run=False).trainer.callbacks if isinstance(c, GenerativeMetrics))
    assert (callback.feature_extractor, callback.every_n_epochs, callback.num_samples) == ("auto", 10, None)


def test_long_work_is_announced_with_where_the_statistics_go(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    fit(tmp_path, [small_metrics(tmp_path / "cache", num_samples=60, kid_subset_size=30)], max_epochs=1)
    assert re.search(
        r"computing the statistics of the \d+ real images \(train\) once; they are cached in .*cache", caplog.text
    )
    assert "evaluating 60 samples at generator step" in caplog.text
    assert re.search(r"GenerativeMetrics at generator step \d+: fid [\d.]+, kid_mean", caplog.text)
    caplog.clear()
    fit(tmp_path, [small_metrics(tmp_path / "cache", num_samples=60, kid_subset_size=30)], max_epochs=1)
    assert "computing the statistics" not in caplog.text  # cached: nothing to announce


def test_real_statistics_read_an_array_backed_dataset_in_batches(tmp_path, monkeypatch):
    # The digits keep their images in one tensor: no DataLoader picture by picture (issue: 42 s first MNIST runs).
    def one_by_one(*args, **kwargs):
        raise AssertionError("the real images were read one by one through a DataLoader")

    monkeypatch.setattr("lightning_gans.metrics.reference.DataLoader", one_by_one)
    metrics = small_metrics(tmp_path / "cache", num_samples=60, kid_subset_size=30)
    trainer, _ = fit(tmp_path, [metrics], max_epochs=1)
    assert "val/fid" in trainer.callback_metrics
