"""One step count: the generator's, in --max_generator_steps, checkpoint and grid names and the logged metrics."""

from __future__ import annotations

import csv
import logging

import pytest

from lightning_gans.callbacks import GeneratorStepLimit
from lightning_gans.cli import main
from lightning_gans.models import load_model

TINY_WGAN = [
    "--model=WGAN",  # five critic updates per generator update: optimizer steps and generator steps differ
    "--model.init_args.generator_features=4",
    "--model.init_args.discriminator_features=4",
    "--data.init_args.image_size=16",
    "--generative_metrics.num_samples=100",
    "--generative_metrics.kid_subset_size=50",
    "--trainer.enable_progress_bar=false",
    "--trainer.logger=CSVLogger",
    "--trainer.logger.save_dir=.",
]


def test_a_run_counts_generator_steps_everywhere(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO)
    main(["fit", *TINY_WGAN, "--max_generator_steps=3", "--trainer.log_every_n_steps=5"])
    log_dir = tmp_path / "lightning_logs" / "version_0"
    assert load_model(log_dir / "checkpoints" / "last.ckpt").g_steps == 3
    named = sorted(path.name for path in (log_dir / "checkpoints").glob("epoch=*.ckpt"))
    assert named == ["epoch=1-step=3.ckpt"]  # 3 generator updates: 15 critic updates and 18 optimizer steps
    assert (log_dir / "samples" / "step_0000003.png").is_file()
    with open(log_dir / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["step"] for row in rows if row.get("val/fid")] == ["3"]
    # The losses of batches 5, 10 and 15 (five critic updates per generator update) at generator steps 1, 2, 3.
    assert [row["step"] for row in rows if row.get("train/g_loss")] == ["1", "2", "3"]
    assert "GenerativeMetrics at generator step 3: fid" in caplog.text  # the end-of-run summary


def test_the_limit_must_be_positive(capsys):
    with pytest.raises(ValueError, match="max_generator_steps must be an integer >= 1"):
        GeneratorStepLimit(0)
    with pytest.raises(SystemExit):
        main(["fit", "--max_generator_steps=0"])
    assert "--max_generator_steps: expected an integer >= 1" in capsys.readouterr().err
