"""``lightning-gans evaluate``: the training callback's FID/KID/IS of a checkpoint, from its run's data."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans.cli import main
from tests.registry import CLI_VARIANTS, VARIANTS

SAMPLES = 200
KEYS = ("fid", "kid_mean", "kid_std", "is_mean", "is_std")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The log folder of a 2-generator-step DCGAN run on the digits (with an EMA generator), measured at its end by
    GenerativeMetrics on 200 samples, logged to metrics.csv."""
    root = tmp_path_factory.mktemp("run")
    main(
        [
            "fit",
            *CLI_VARIANTS["dcgan"].args(root),
            "--model.init_args.ema_decay=0.9",
            "--data.init_args.batch_size=8",
            "--trainer.max_steps=4",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--trainer.logger=CSVLogger",
            f"--trainer.logger.init_args.save_dir={root}",
            f"--generative_metrics.num_samples={SAMPLES}",
            f"--generative_metrics.kid_subset_size={SAMPLES}",  # what evaluate picks for 200 samples
            f"--generative_metrics.cache_dir={root / 'cache'}",
        ]
    )
    return root / "lightning_logs" / "version_0"


def evaluate(*args: str) -> None:
    main(["evaluate", "--num_samples", str(SAMPLES), *args])


def last_logged_metrics(log_dir: Path) -> dict[str, float]:
    with open(log_dir / "metrics.csv") as file:
        rows = [row for row in csv.DictReader(file) if row.get("val/fid")]
    return {key: float(rows[-1][f"val/{key}"]) for key in KEYS}


def test_evaluate_gives_the_training_callbacks_last_numbers_prints_them_and_writes_json(run, capsys):
    ckpt = run / "checkpoints" / "last.ckpt"
    (cached,) = (run.parents[1] / "cache").iterdir()  # the statistics the training computed
    capsys.readouterr()

    evaluate("--ckpt_path", str(ckpt), "--cache_dir", str(cached.parent))

    report = json.loads((run / "checkpoints" / "last.evaluation.json").read_text())
    assert report["metrics"] == last_logged_metrics(run)  # exactly: the same samples, features and statistics
    assert report["ckpt_path"] == str(ckpt.resolve()) and report["g_steps"] == 2
    assert (report["num_samples"], report["feature_extractor"], report["real_statistics"]) == (
        SAMPLES,
        "digits",
        str(cached),
    )
    printed = capsys.readouterr().out.splitlines()
    metrics = report["metrics"]
    assert printed == [
        f"real statistics: 1797 images of DigitsDataModule (train) in {cached}",  # read from the cache
        f"fid {metrics['fid']:.2f}",
        f"kid {metrics['kid_mean']:.4f} ± {metrics['kid_std']:.4f}",
        f"is {metrics['is_mean']:.2f} ± {metrics['is_std']:.2f}",
        f"wrote {run / 'checkpoints' / 'last.evaluation.json'}",
    ]


def test_evaluate_computes_and_caches_missing_statistics_and_writes_where_asked(run, tmp_path, capsys):
    out = tmp_path / "reports" / "fid.json"
    evaluate(
        "--ckpt_path",
        str(run / "checkpoints" / "last.ckpt"),
        "--metrics",
        "[fid]",
        "--cache_dir",
        str(tmp_path / "cache"),
        "--output",
        str(out),
    )

    (cached,) = (tmp_path / "cache").iterdir()
    assert f"computing the statistics of 1797 real images (train) under 'digits', cached in {cached}" in (
        capsys.readouterr().out
    )
    assert list(json.loads(out.read_text())["metrics"]) == ["fid"]


def expect_error(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", *args])
    assert exit_info.value.code == 1
    message = capsys.readouterr().err
    assert "Traceback" not in message
    return message


def test_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    message = expect_error(capsys, "--ckpt_path", str(tmp_path / "missing.ckpt"))
    assert "missing.ckpt does not exist" in message and len(message.splitlines()) == 2  # and the --debug hint


def test_a_translation_model_is_refused(tmp_path, capsys):
    pairs = TensorDataset(torch.rand(4, 1, 8, 8) * 2 - 1, torch.rand(4, 1, 8, 8) * 2 - 1)
    trainer = Trainer(
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(VARIANTS["pix2pix"].make_model(), DataLoader(pairs, batch_size=4))
    trainer.save_checkpoint(tmp_path / "pix2pix.ckpt")

    message = expect_error(capsys, "--ckpt_path", str(tmp_path / "pix2pix.ckpt"))
    assert "holds a Pix2Pix, which translates images; evaluate measures samples drawn from noise" in message


def test_a_checkpoint_away_from_its_runs_config_says_what_is_missing(run, tmp_path, capsys):
    moved = shutil.copy(run / "checkpoints" / "last.ckpt", tmp_path / "last.ckpt")
    message = expect_error(capsys, "--ckpt_path", str(moved))
    assert "does not record its data and there is no config.yaml of its run" in message


def test_a_diverged_generator_is_refused(run, tmp_path, capsys):
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    for name, value in checkpoint["state_dict"].items():
        if name.startswith("generator") and value.is_floating_point():
            value.fill_(float("nan"))
    (tmp_path / "checkpoints").mkdir()
    torch.save(checkpoint, tmp_path / "checkpoints" / "nan.ckpt")
    shutil.copy(run / "config.yaml", tmp_path / "config.yaml")

    message = expect_error(
        capsys, "--ckpt_path", str(tmp_path / "checkpoints" / "nan.ckpt"), "--cache_dir", str(run.parents[1] / "cache")
    )
    assert "NaN or infinite values: its generator diverged" in message


def test_a_data_root_for_data_without_a_folder_is_refused(run, capsys):
    message = expect_error(capsys, "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), "--data_root", "elsewhere")
    assert "--data_root: DigitsDataModule reads no data folder" in message


def test_no_metrics_is_refused_before_anything_is_loaded(tmp_path, capsys):
    message = expect_error(capsys, "--ckpt_path", str(tmp_path / "missing.ckpt"), "--metrics", "[]")
    assert "--metrics is empty" in message
