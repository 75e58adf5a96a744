"""Every model class the way users train it: ``lightning-gans fit --model NAME --data NAME`` with its own defaults
(tiny sizes by flags only, see ``CLI_VARIANTS`` in tests/registry.py) and the command line's default callbacks,
then resumed from its epoch-end checkpoint with ``--ckpt_path``, which must continue bitwise exactly."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_gans import models
from lightning_gans.cli import main
from lightning_gans.models import GANModule, load_model
from tests.registry import CLI_VARIANTS, VARIANTS

# A user's resumable run, two epochs of three batches: WGAN's 5 critic updates per generator update span the
# epoch boundary, so the resume point falls mid-cycle. GenerativeMetrics evaluates before the last checkpoint
# (at the last epoch's end) on 100 samples instead of one per real image, which would triple the test's time.
RESUMABLE_RUN = [
    "--trainer.max_epochs=2",
    "--trainer.limit_train_batches=3",
    "--trainer.callbacks+=ModelCheckpoint",
    "--trainer.callbacks.every_n_epochs=1",
    "--trainer.callbacks.save_top_k=-1",
    "--seed_everything=7",
    "--trainer.deterministic=true",
    "--trainer.enable_progress_bar=false",
    "--generative_metrics.num_samples=100",
    "--generative_metrics.kid_subset_size=50",
]


def fit(args: list[str], root: Path, *extra: str) -> list[Path]:
    """Run ``lightning-gans fit`` in ``root``; its checkpoints, oldest epoch first."""
    main(["fit", *args, *RESUMABLE_RUN, f"--trainer.default_root_dir={root}", *extra])
    return sorted(root.rglob("epoch=*.ckpt"), key=lambda path: int(re.search(r"epoch=(\d+)", path.name)[1]))


def leaves(tree: Any, run_dir: Path, at: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of a checkpoint by its path in it, with the run's folder (in ModelCheckpoint's paths) as <run>."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, run_dir, f"{at}/{key}".replace(str(run_dir), "<run>"))
    elif isinstance(tree, (list, tuple)):
        for index, value in enumerate(tree):
            yield from leaves(value, run_dir, f"{at}/{index}")
    else:
        yield at, tree.replace(str(run_dir), "<run>") if isinstance(tree, str) else tree


def same(a: Any, b: Any) -> bool:
    """Whether two checkpoint values are equal bit for bit; NaN equals NaN (a statistic undefined in both runs)."""
    if isinstance(a, torch.Tensor):
        if not (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape):
            return False
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def test_every_model_class_trains_from_the_command_line():
    exported = {getattr(models, name) for name in models.__all__}
    classes = {c.__name__ for c in exported if isinstance(c, type) and issubclass(c, GANModule) and c is not GANModule}
    registered = {type(variant.make_model()).__name__ for variant in VARIANTS.values()}
    assert classes | registered <= {run.model for run in CLI_VARIANTS.values()}


@pytest.mark.parametrize("name", sorted(CLI_VARIANTS))
def test_fits_from_the_command_line_and_resumes_from_an_epoch_end_checkpoint_exactly(name, tmp_path):
    args = CLI_VARIANTS[name].args(tmp_path / "data")
    first_epoch, last_epoch = fit(args, tmp_path / "uninterrupted")
    assert load_model(last_epoch).g_steps >= 1

    (resumed,) = fit(args, tmp_path / "resumed", f"--ckpt_path={first_epoch}")
    expected = dict(leaves(torch.load(last_epoch, weights_only=True), tmp_path / "uninterrupted"))
    actual = dict(leaves(torch.load(resumed, weights_only=True), tmp_path / "resumed"))
    assert actual.keys() == expected.keys()
    differ = [key for key, value in expected.items() if not same(value, actual[key])]
    assert not differ, f"{len(differ)} of {len(expected)} checkpoint entries differ after resuming: {differ[:10]}"
