"""Resume and checkpoint guarantees for every registered variant (see tests/registry.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, Trainer, seed_everything

from lightning_gans.cli import cli_main
from lightning_gans.models import load_model
from tests.registry import VARIANTS
from tests.test_conformance import assert_same_state

REPO = Path(__file__).resolve().parents[1]
BATCHES_PER_EPOCH = 5


class SaveAt(Callback):
    """Saves a checkpoint after one given batch, as ModelCheckpoint(every_n_train_steps=...) would."""

    def __init__(self, path: Path, epoch: int, batch_idx: int) -> None:
        self.path, self.epoch, self.batch_idx = path, epoch, batch_idx

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch_idx):
            trainer.save_checkpoint(self.path)


def fit(variant, root: Path, ckpt_path: Path | None = None, callbacks=(), max_epochs: int = 2):
    model = variant.make_model()
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=max_epochs,
        limit_train_batches=BATCHES_PER_EPOCH,
        logger=False,
        enable_checkpointing=False,
        callbacks=list(callbacks),
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=root,
    )
    trainer.fit(model, datamodule=variant.make_data(), ckpt_path=ckpt_path)
    return model


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_resume_from_a_mid_epoch_checkpoint_continues_exactly(name, tmp_path):
    variant = VARIANTS[name]
    seed_everything(0)
    uninterrupted = fit(variant, tmp_path / "a")

    seed_everything(0)
    ckpt = tmp_path / "mid.ckpt"
    fit(variant, tmp_path / "b", callbacks=[SaveAt(ckpt, epoch=0, batch_idx=2)], max_epochs=1)

    seed_everything(99)  # everything random must come from the checkpoint and the datamodule's seed
    resumed = fit(variant, tmp_path / "c", ckpt_path=ckpt)
    assert resumed.steps == uninterrupted.steps
    assert_same_state(resumed, uninterrupted)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    paths = {}
    for name, variant in sorted(VARIANTS.items()):
        seed_everything(0)
        model = fit(variant, root / name, max_epochs=1)
        paths[name] = root / f"{name}.ckpt"
        model.trainer.save_checkpoint(paths[name])
        torch.save(model.state_dict(), root / f"{name}.expected.pt")
    return paths


FRESH_PROCESS = """
import sys, torch
from lightning_gans.models import load_model
for path in sys.argv[1:]:
    torch.load(path, weights_only=True)  # no pickled classes anywhere in the file
    torch.save(load_model(path).state_dict(), path + ".loaded.pt")
"""


def test_checkpoints_load_weights_only_in_a_fresh_process(checkpoints):
    paths = [str(p) for p in checkpoints.values()]
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS, *paths], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, path in checkpoints.items():
        loaded = torch.load(f"{path}.loaded.pt", weights_only=True)
        expected = torch.load(path.with_name(f"{name}.expected.pt"), weights_only=True)
        assert loaded.keys() == expected.keys(), name
        for key, value in expected.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(loaded[key], value), f"{name}: {key}"
            else:
                assert loaded[key] == value, f"{name}: {key}"


def test_truncated_or_corrupt_checkpoints_are_refused_clearly(checkpoints, tmp_path):
    good = next(iter(checkpoints.values())).read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt.*earlier checkpoint"):
        load_model(truncated)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        cli_main(["fit", f"--ckpt_path={truncated}", f"--trainer.default_root_dir={tmp_path}"])

    flipped = bytearray(good)
    middle = len(flipped) // 2
    flipped[middle : middle + 64] = bytes(b ^ 0xFF for b in flipped[middle : middle + 64])
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupt"):
        load_model(corrupt)


KILLED_RUN = """
import sys
from lightning_gans.cli import main
main(sys.argv[1:])
"""


def test_sigkill_loses_only_the_work_since_the_last_checkpoint(tmp_path):
    # A real CLI run that checkpoints every step, killed at unplanned moments (including mid-save).
    args = [
        "fit",
        "--model.init_args.generator_features=4",
        "--model.init_args.discriminator_features=4",
        "--data.init_args.batch_size=16",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.max_epochs=1000",
        "--trainer.enable_progress_bar=false",
        "--trainer.logger=false",
        "--trainer.callbacks=ModelCheckpoint",
        f"--trainer.callbacks.dirpath={tmp_path / 'ckpt'}",
        "--trainer.callbacks.every_n_train_steps=2",
        "--trainer.callbacks.save_top_k=-1",
    ]
    for attempt in range(3):
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_RUN, *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while len(list((tmp_path / "ckpt").glob("*.ckpt"))) < 3 * (attempt + 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1 * attempt)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        saved = sorted((tmp_path / "ckpt").glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
        assert saved, "no checkpoint was written before the kill"
        for path in saved:
            load_model(path)  # every file on disk is complete
        last = saved[-1]
        steps = torch.load(last, weights_only=True)["global_step"]
        resumed = cli_main(
            [
                *args[:-3],
                "--trainer.max_epochs=1000",
                f"--trainer.max_steps={steps + 2}",
                f"--ckpt_path={last}",
                "--trainer.callbacks=ModelCheckpoint",
                f"--trainer.callbacks.dirpath={tmp_path / 'ckpt'}",
                "--trainer.callbacks.save_top_k=-1",
            ]
        )
        assert resumed.trainer.global_step == steps + 2
