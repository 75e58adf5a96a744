"""A user's first run: how long ``lightning-gans fit --config configs/dcgan_mnist.yaml`` takes for two steps with
every default callback, with no cached real statistics and with them, and where the seconds go.

    python -m benchmarks.first_run --root ../shared/data

The whole command runs in a subprocess (imports included, as a user sees it), first with an empty statistics cache,
then again with the cache it left. The parts are then timed one by one in this process: reading the 60,000 real
images for the cache key, their features in the digit classifier, drawing the 10,000 samples of one evaluation, and
their features plus FID/KID/IS.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.results import save_result
from datamodules import MNISTDataModule
from lightning_gans.callbacks import GenerativeMetrics
from lightning_gans.metrics import FidelityMetrics, build_feature_extractor, extract
from lightning_gans.metrics.reference import ReferenceStatistics, data_fingerprint, reference_batches
from lightning_gans.models import DCGAN

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "dcgan_mnist.yaml"


def timed_command(root: str, cache_dir: Path, workdir: Path) -> float:
    command = [
        *[sys.executable, "-m", "lightning_gans", "fit", "--config", str(CONFIG)],
        *["--data.init_args.root", root, "--trainer.max_steps", "2", "--trainer.enable_progress_bar", "false"],
        *["--generative_metrics.cache_dir", str(cache_dir)],
    ]
    start = time.perf_counter()
    subprocess.run(command, cwd=workdir, check=True, capture_output=True)
    return time.perf_counter() - start


@torch.no_grad()
def parts(root: str) -> dict[str, float]:
    data = MNISTDataModule(root=root, download=False, image_size=32)
    data.setup("fit")
    extractor = build_feature_extractor("digits", None)
    metrics = GenerativeMetrics()
    seconds = {}
    start = time.perf_counter()
    batches = reference_batches(data.train_dataloader().dataset, metrics.batch_size, 0, None)
    data_fingerprint(batches)
    seconds["real images read for the cache key"] = time.perf_counter() - start
    start = time.perf_counter()
    features = torch.cat([extract(extractor, batch)[0] for batch in batches])
    seconds["real features (60,000 images)"] = time.perf_counter() - start
    model, metrics.sample_count = DCGAN(image_size=32, channels=1), 10_000
    start = time.perf_counter()
    samples = [model.sample(size, torch.Generator().manual_seed(seed)) for size, seed in metrics.batches(0, 1)]
    seconds["drawing 10,000 samples"] = time.perf_counter() - start
    start = time.perf_counter()
    fidelity = FidelityMetrics(ReferenceStatistics.from_features(features), metrics.metrics)
    for images in samples:
        fidelity.update(*extract(extractor, images))
    fidelity.compute()
    seconds["their features and FID/KID/IS"] = time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/data", help="folder holding MNIST/raw")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cache, workdir = Path(folder) / "cache", Path(folder) / "run"
        workdir.mkdir()
        runs = {
            "no cache": timed_command(args.root, cache, workdir),
            "cached": timed_command(args.root, cache, workdir),
        }
    split = parts(args.root)
    rows = [f"| whole command, {name} | {seconds:.1f} |" for name, seconds in runs.items()]
    rows += [f"| {name} | {seconds:.1f} |" for name, seconds in split.items()]
    markdown = "\n".join(
        [
            "## First run",
            "",
            "`lightning-gans fit --config configs/dcgan_mnist.yaml --data.init_args.root ../shared/data "
            "--trainer.max_steps 2` with every default callback (FID/KID/IS of 10,000 samples against the 60,000 "
            "training images' statistics, in the digit classifier's space), wall seconds; then its parts alone.",
            "",
            "| what | seconds |",
            "|---|---:|",
            *rows,
        ]
    )
    print(markdown)
    save_result("first_run", markdown, {"runs": runs, "parts": split})


if __name__ == "__main__":
    main()
