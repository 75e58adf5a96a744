"""benchmarks/quality.py trains every variant through its MNIST config on the CLI's path and scores the checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import quality
from lightning_gans import cli, models
from tests.test_datamodules import write_mnist_idx

LISTED = [name for name, v in quality.VARIANTS.items() if hasattr(models, v.class_name)]


@pytest.mark.parametrize("name", LISTED)
def test_every_listed_variant_has_an_mnist_config_that_builds_at_the_benchmark_batch(name, tmp_path):
    assert quality.config_path(name).is_file()
    batch = quality.batch_size(name)
    assert batch == (16 if name == "BEGAN" else quality.BATCH_SIZE)  # BEGAN keeps the paper's batch of 16
    args = quality.fit_args(name, str(tmp_path), 500, batch, str(tmp_path))
    assert args[0] == "fit" and "--max_generator_steps" in args
    run = cli.cli_main(args[1:], run=False)  # the same arguments, parsed and built without training
    assert run.datamodule.batch_size == batch
    images = run.model.sample(4, torch.Generator().manual_seed(0))
    assert images.shape[:2] == (4, 1) and images.shape[-1] in (28, 32)
    assert images.min() >= -1 and images.max() <= 1


def test_critic_variants_get_the_halved_longer_budget():
    assert quality.budget("WGAN", 2000, 1000) == 1000
    assert quality.budget("DCGAN", 2000, 1000) == 2000


def test_the_script_trains_through_the_cli_and_writes_one_table(tmp_path):
    root = tmp_path / "data"
    write_mnist_idx(root, n_train=1000, n_test=1000)
    out = tmp_path / "results"
    quality.main(
        ["--root", str(root), "--samples", "1000", "--g_steps", "2", "3", "--variants", "GAN", "cGAN", "InfoGAN"]
        + ["--long_variants", "GAN", "--results_dir", str(out), "--not_run", "WGAN: a stated reason"]
    )
    record = json.loads((out / "quality.json").read_text())
    rows = record["figures"]["variants"]
    assert [(row["variant"], row["g_steps"]) for row in rows] == [("GAN", 2), ("cGAN", 2), ("InfoGAN", 2), ("GAN", 3)]
    assert all(row["config"].startswith("configs/") and row["batch_size"] == quality.BATCH_SIZE for row in rows)
    assert 0 <= rows[1]["requested_digit"] <= 1 and 0 <= rows[2]["code_agreement"] <= 1
    markdown = record["markdown"]
    assert "real vs real (floor)" in markdown and "uniform noise (ceiling)" in markdown
    assert "WGAN: a stated reason" in markdown and "cGAN, InfoGAN at the longer budget" in markdown
    assert all((out / "quality" / f"{row['variant']}_{row['g_steps']}.png").is_file() for row in rows)
