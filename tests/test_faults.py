"""Bad input through the command line: each gets a clear error before any training step.

Lower-level cases (corrupt image files, channel mismatches in Python, NaN losses, damaged checkpoints) are
tested beside their code: test_datamodules.py, test_models.py, test_health.py, test_conformance_resume.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_gans.cli import cli_main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = ["--model.init_args.generator_features=4", "--model.init_args.discriminator_features=4"]


def run(tmp_path: Path, *args: str):
    return cli_main(
        [
            "fit",
            *args,
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.max_epochs=1",
            "--trainer.enable_progress_bar=false",
        ]
    )


@pytest.mark.parametrize(
    "args, names",
    [
        (["--model=NoSuchGAN"], "NoSuchGAN"),
        (["--data=NoSuchDataModule"], "NoSuchDataModule"),
        (["--model.init_args.generatr_features=4"], "generatr_features"),
    ],
)
def test_unknown_classes_and_misspelt_keys_are_named(args, names, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(tmp_path, *args)
    assert exit_info.value.code != 0
    assert names in capsys.readouterr().err


def test_unknown_class_in_a_config_file_is_named(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  class_path: lightning_gans.models.DCGANN\n")
    with pytest.raises(SystemExit):
        run(tmp_path, f"--config={config}")
    assert "DCGANN" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, error, message",
    [
        (["--data.init_args.image_size=24", *TINY], ValueError, "image_size=24 is not supported.*power of two"),
        (
            ["--data=ImageFolderDataModule", "--data.init_args.root={empty}", *TINY],
            FileNotFoundError,
            "No image files in .*empty",
        ),
        (
            [
                "--config",
                str(CONFIGS / "dcgan_mnist.yaml"),
                "--data.init_args.root={empty}",
                "--data.init_args.download=false",
                *TINY,
            ],
            FileNotFoundError,
            "MNIST not found.*download",
        ),
    ],
)
def test_bad_settings_and_missing_data_fail_before_training(args, error, message, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(error, match=message):
        run(tmp_path, *(arg.format(empty=empty) for arg in args))
    assert not list(tmp_path.rglob("*.ckpt"))
