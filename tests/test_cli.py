"""The command line: quick start, every config, re-running a saved config, generate, W&B offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import wandb
from lightning.pytorch.loggers import WandbLogger
from PIL import Image

from datamodules import DigitsDataModule
from lightning_gans.callbacks import SampleGrid
from lightning_gans.cli import QUICK_START_EPOCHS, cli_main, main, process_count
from lightning_gans.models import DCGAN, load_model
from tests.test_datamodules import (
    accept_fake_checksums,
    write_celeba_layout,
    write_cifar10_batches,
    write_lsun_lmdb,
    write_mnist_idx,
    write_solid_image,
)
from tests.translation_data import write_config_data

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MODEL_CONFIGS = sorted(p.name for p in CONFIGS.glob("*.yaml") if not p.name.startswith("wandb"))
# Narrow networks so that a CLI run takes seconds; everything else comes from the config under test.
TINY_DCGAN = ["--model.init_args.generator_features=4", "--model.init_args.discriminator_features=4"]
TINY = {
    "lightning_gans.models.DCGAN": TINY_DCGAN,
    "lightning_gans.models.GAN": [
        "--model.init_args.generator_hidden=[16]",
        "--model.init_args.discriminator_hidden=[8]",
    ],
    "lightning_gans.models.ImprovedGAN": TINY_DCGAN,
    # One critic update per generator update, so that fast_dev_run's single batch includes a G update.
    "lightning_gans.models.WGAN": [*TINY_DCGAN, "--model.init_args.n_critic=1"],
    "lightning_gans.models.WGANGP": [*TINY_DCGAN, "--model.init_args.n_critic=1"],
    "lightning_gans.models.BEGAN": ["--model.init_args.filters=4", "--model.init_args.embedding_dim=8"],
    # batch_sizes=null keeps the test's batch of 4 instead of the paper's 16 and 14.
    "lightning_gans.models.ProGAN": [
        "--model.init_args.feature_base=64",
        "--model.init_args.feature_max=8",
        "--model.init_args.batch_sizes=null",
    ],
    "lightning_gans.models.CycleGAN": [*TINY_DCGAN, "--model.init_args.residual_blocks=1"],
    "lightning_gans.models.Pix2Pix": TINY_DCGAN,
    "lightning_gans.models.ConditionalGAN": TINY_DCGAN,
    "lightning_gans.models.InfoGAN": [*TINY_DCGAN, "--model.init_args.q_hidden=8"],
}


def run_fit(tmp_path: Path, *args: str) -> Path:
    """A two-batch `lightning-gans fit`; returns the run's log folder."""
    cli = cli_main(
        [
            "fit",
            *args,
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.enable_progress_bar=false",
        ]
    )
    return Path(cli.trainer.log_dir)


def test_quick_start_defaults_are_dcgan_on_32px_digits():
    cli = cli_main([], run=False)
    assert isinstance(cli.model, DCGAN) and isinstance(cli.datamodule, DigitsDataModule)
    assert (cli.model.hparams.image_size, cli.model.hparams.channels) == (32, 1)  # linked from the data
    assert cli.trainer.max_epochs == QUICK_START_EPOCHS
    assert any(isinstance(c, SampleGrid) for c in cli.trainer.callbacks)


def test_quick_start_run_writes_config_grids_and_a_checkpoint_that_reproduces(tmp_path):
    log_dir = run_fit(tmp_path / "first", *TINY_DCGAN)
    assert (log_dir / "config.yaml").is_file()
    grids = sorted((log_dir / "samples").glob("step_*.png"))
    assert grids and Image.open(grids[-1]).size[0] > 32
    assert list(log_dir.glob("checkpoints/*.ckpt"))

    again = run_fit(tmp_path / "again", "--config", str(log_dir / "config.yaml"))
    first, second = (load_model(next(d.glob("checkpoints/*.ckpt"))) for d in (log_dir, again))
    assert first.hparams == second.hparams


def test_the_data_decides_the_model_geometry(tmp_path):
    cli = cli_main(["--data=DigitsDataModule", "--data.init_args.image_size=16", *TINY_DCGAN], run=False)
    assert (cli.model.hparams.image_size, cli.model.hparams.channels) == (16, 1)


@pytest.mark.parametrize("config", MODEL_CONFIGS)
def test_every_config_parses_and_runs_on_small_data_in_the_real_format(config, tmp_path, monkeypatch):
    accept_fake_checksums(monkeypatch)
    data_args = [f"--data.init_args.root={tmp_path}", "--data.init_args.download=false"]
    if write_config_data(CONFIGS / config, tmp_path):  # the image-to-image datamodules' folder layouts
        pass
    elif "mnist" in config:
        write_mnist_idx(tmp_path, n_train=16, n_test=4)
    elif "cifar10" in config:
        write_cifar10_batches(tmp_path, n=16)
    elif "celebahq" in config:  # CelebA-HQ as a folder of image files
        for index in range(16):
            write_solid_image(tmp_path / "celeba_hq" / f"{index:05d}.png", (64, 64))
        data_args = [f"--data.init_args.root={tmp_path / 'celeba_hq'}"]  # ImageFolderDataModule downloads nothing
    elif "celeba" in config:
        write_celeba_layout(tmp_path, n=16)
    elif "lsun" in config:
        write_lsun_lmdb(tmp_path, config.removesuffix(".yaml").split("lsun_")[-1], n=16)
        monkeypatch.chdir(tmp_path)  # torchvision's LSUN writes its key cache into the working directory
    else:
        pytest.fail(f"no small data for {config}: teach this test to build it")
    model_class = next(
        line.split()[-1]
        for line in (CONFIGS / config).read_text().splitlines()
        if "class_path: lightning_gans.models" in line
    )
    cli = cli_main(
        [
            "fit",
            f"--config={CONFIGS / config}",
            *data_args,
            "--data.init_args.batch_size=4",
            "--data.init_args.num_workers=0",
            "--trainer.fast_dev_run=1",
            f"--trainer.default_root_dir={tmp_path}",
            *TINY[model_class],
        ]
    )
    assert cli.model.g_steps == 1  # fast_dev_run's one step is one batch: a D and a G update


def test_generate_writes_a_grid_and_individual_pngs_from_the_ema_weights(tmp_path):
    log_dir = run_fit(tmp_path, *TINY_DCGAN, "--model.init_args.ema_decay=0.5")
    ckpt = next(log_dir.glob("checkpoints/*.ckpt"))
    # Move the EMA weights well away from the live ones so the two generators' images differ visibly.
    checkpoint = torch.load(ckpt, weights_only=True)
    for key, value in checkpoint["state_dict"].items():
        if key.startswith("generator_ema.module.") and key.endswith("bias"):
            value += 0.5
    torch.save(checkpoint, ckpt)

    out = tmp_path / "generated"
    main(["generate", f"--ckpt_path={ckpt}", "--num_samples=5", f"--output_dir={out}", "--seed=3"])
    pngs = sorted(out.glob("sample_*.png"))
    assert len(pngs) == 5 and (out / "grid.png").is_file()

    model = load_model(ckpt)
    z = model.sample_latent(5, generator=torch.Generator().manual_seed(3))
    written = torch.tensor(np.array(Image.open(pngs[0]).convert("L")), dtype=torch.float32) / 255
    with torch.no_grad():
        from_ema = (model.generator_ema.eval()(z)[0, 0] + 1) / 2
        from_live = (model.generator.eval()(z)[0, 0] + 1) / 2
    assert (written - from_ema).abs().max() <= 1 / 255 + 1e-6
    assert (written - from_live).abs().max() > 0.1


def test_generate_rejects_a_foreign_checkpoint(tmp_path, capsys):
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", f"--ckpt_path={path}"])
    assert exit_info.value.code == 1 and "not written by a lightning-gans model" in capsys.readouterr().err


@pytest.mark.parametrize("subcommand", ["fit", "generate", "translate"])
def test_python_dash_m_entry_point(subcommand):
    result = subprocess.run(
        [sys.executable, "-m", "lightning_gans", subcommand, "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert ("--model" if subcommand == "fit" else "--ckpt_path") in result.stdout


def test_wandb_offline_runs_keep_their_files_in_their_own_folders(tmp_path, offline_wandb):
    args = [
        "--config",
        str(CONFIGS / "wandb_offline.yaml"),
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        *TINY_DCGAN,
    ]
    for _ in range(2):  # two runs in the same save_dir: neither overwrites the other's config, grids or checkpoints
        run_fit(tmp_path, *args)
        wandb.finish()  # as the process's end does: a W&B run still open would be taken over by the next
    runs = sorted((tmp_path / "lightning-gans").iterdir())  # <save_dir>/<project>/<run id>
    assert len(runs) == 2
    for run in runs:
        assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
        assert list((run / "samples").glob("step_*.png"))
    assert not (tmp_path / "config.yaml").exists() and not (tmp_path / "samples").exists()
    images = list(tmp_path.glob("wandb/offline-run-*/files/media/images/samples_*.png"))
    assert len(images) >= 2
    # The W&B run's config is the whole resolved config, not only the model's hyperparameters.
    records = [path.read_bytes() for path in tmp_path.glob("wandb/offline-run-*/run-*.wandb")]
    assert len(records) == 2 and all(b"DigitsDataModule" in r and b"generative_metrics" in r for r in records)


def test_wandb_online_config_uploads_checkpoints_as_artifacts():
    cli = cli_main(["--config", str(CONFIGS / "wandb.yaml")], run=False)
    logger = cli.trainer.logger
    assert isinstance(logger, WandbLogger) and logger._log_model == "all"


@pytest.mark.parametrize(
    "accelerator, devices, num_nodes, expected",
    [
        ("cpu", 1, 1, 1),
        ("cpu", 2, 1, 2),
        ("cpu", "3", 2, 6),
        ("gpu", [0, 1], 1, 2),
        ("gpu", "0,1,2", 1, 3),
        ("cpu", "auto", 1, 1),
        ("cpu", -1, 4, 4),
    ],
)
def test_process_count(accelerator, devices, num_nodes, expected):
    assert process_count(accelerator, devices, num_nodes) == expected


def test_several_devices_get_the_ddp_strategy_that_gans_need():
    cli = cli_main(["--trainer.accelerator=cpu", "--trainer.devices=2"], run=False)
    assert cli.config.trainer.strategy == "ddp_find_unused_parameters_true"
    assert cli.trainer.world_size == 2
    chosen = cli_main(["--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp_spawn"], run=False)
    assert chosen.config.trainer.strategy == "ddp_spawn"  # an explicit choice is left alone
    single = cli_main([], run=False)
    assert single.config.trainer.strategy == "auto"


def test_bf16_mixed_precision_through_the_cli(tmp_path):
    cli = cli_main(
        [
            "fit",
            *TINY_DCGAN,
            "--trainer.precision=bf16-mixed",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=3",
            "--trainer.enable_progress_bar=false",
        ]
    )
    assert cli.model.g_steps == 3
    assert all(torch.isfinite(v) for v in cli.trainer.logged_metrics.values())


@pytest.mark.parametrize(
    "model, listed, left_out",
    [
        ("DCGAN", {"sample_grid", "generative_metrics"}, {"class_grid", "code_traversal", "translation_grid"}),
        ("ConditionalGAN", {"sample_grid", "class_grid"}, {"code_traversal", "translation_grid"}),
        ("InfoGAN", {"sample_grid", "code_traversal"}, {"class_grid", "translation_grid"}),
        ("CycleGAN", {"translation_grid"}, {"sample_grid", "generative_metrics", "class_grid", "code_traversal"}),
    ],
)
def test_print_config_lists_only_the_callbacks_that_apply(model, listed, left_out, capsys):
    with pytest.raises(SystemExit):
        main(["fit", f"--model={model}", "--print_config"])
    sections = {line.split(":")[0] for line in capsys.readouterr().out.splitlines() if not line.startswith(" ")}
    assert listed <= sections and not left_out & sections
