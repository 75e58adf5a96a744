"""The CIFAR-10 reproduction configs on this machine's CPU: how fast, how far, and what a short run changes.

For each config (configs/dcgan_cifar10.yaml, configs/wgan_gp_resnet_cifar10.yaml) the model is built from the
config's own model section at full published width and trained on the real CIFAR-10 training images (the JPEG copy
in ../shared/data) with the config's batch size, on one CPU thread, for ``--seconds`` of wall time. It reports
seconds per generator iteration (a full iteration: n_critic critic updates and one generator update), the
projected wall time of the config's whole protocol on this CPU, and a quality proxy that needs no downloaded
weights: ProGAN's sliced Wasserstein distance (``lightning_gans.metrics.SlicedWassersteinDistance``, x1000, mean
over the 32x32 and 16x16 Laplacian levels) between ``--swd-images`` real and generated images, before and after
the run, next to the distance between two disjoint sets of real images (what a perfect generator would score).
FID and IS need torch-fidelity's Inception weights, which cannot be downloaded here: none is reported.

    python -m benchmarks.cifar10_repro --seconds 240
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import tarfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import yaml
from lightning.pytorch import Callback, Trainer, seed_everything
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from benchmarks.results import save_result
from lightning_gans.metrics import SlicedWassersteinDistance
from lightning_gans.models import GANModule

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
CONFIGS = ("dcgan_cifar10.yaml", "wgan_gp_resnet_cifar10.yaml")
#: The literature figure each config names in its header, for the report.
LITERATURE = {
    "dcgan_cifar10.yaml": "FID 37.7 (Heusel et al. 2017, TTUR, Table 1: DCGAN 'orig', lr 1e-4, 100k updates); "
    "IS 6.16 / 6.64 (other groups' DCGAN runs quoted in Gulrajani et al. 2017 Table 3 / Miyato et al. 2018 Table 2)",
    "wgan_gp_resnet_cifar10.yaml": "IS 7.86 +- .07 (Gulrajani et al. 2017, Table 3); FID not reported for this "
    "protocol (closest: 29.3, Heusel et al. 2017 Table 1, WGAN-GP gan_64x64.py ResNet at lr 1e-4)",
}


def load_cifar10_train(archive: Path) -> Tensor:
    """CIFAR-10's 50,000 training images from the JPEG archive, (n, 3, 32, 32) uint8, in the archive's order."""
    images = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile() and member.name.lstrip("./").startswith("train/") and member.name.endswith(".jpg"):
                with Image.open(io.BytesIO(tar.extractfile(member).read())) as image:
                    images.append(np.asarray(image.convert("RGB")))
    if not images:
        raise FileNotFoundError(f"{archive} holds no train/<class>/*.jpg images")
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


class InMemoryImages(Dataset[Tensor]):
    """uint8 images served as float tensors in [-1, 1], as the datamodules yield them."""

    def __init__(self, images: Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tensor:
        return to_unit_range(self.images[index])


def to_unit_range(images: Tensor) -> Tensor:
    return images.float().div(127.5).sub(1)


def model_from_config(path: Path) -> tuple[GANModule, int, int]:
    """(the config's model at 32x32 RGB, its batch size, its max_steps)."""
    config = yaml.safe_load(path.read_text())
    module, _, name = config["model"]["class_path"].rpartition(".")
    model = getattr(importlib.import_module(module), name)(
        image_size=32, channels=3, **config["model"].get("init_args", {})
    )
    data_module, _, data_name = config["data"]["class_path"].rpartition(".")
    data_class = getattr(importlib.import_module(data_module), data_name)
    default_batch = inspect.signature(data_class).parameters["batch_size"].default
    batch_size = config["data"].get("init_args", {}).get("batch_size", default_batch)
    return model, batch_size, config["trainer"]["max_steps"]


@torch.no_grad()
def swd(model: GANModule, real: Tensor, seed: int = 0) -> float:
    """Mean SWD (x1000) between ``real`` (uint8) and as many samples from fixed noise."""
    metric = SlicedWassersteinDistance(image_size=32, seed=seed)
    metric.update(to_unit_range(real), real=True)
    noise = torch.Generator().manual_seed(seed)
    for start in range(0, len(real), 256):
        metric.update(model.sample(min(256, len(real) - start), generator=noise), real=False)
    return metric.compute()["swd_mean"].item()


@torch.no_grad()
def real_swd(a: Tensor, b: Tensor) -> float:
    metric = SlicedWassersteinDistance(image_size=32)
    metric.update(to_unit_range(a), real=True)
    metric.update(to_unit_range(b), real=False)
    return metric.compute()["swd_mean"].item()


class IterationClock(Callback):
    """Wall time from the start of training to the end of each generator iteration."""

    def __init__(self) -> None:
        self.start = 0.0
        self.last: tuple[float, int] = (0.0, 0)

    def on_train_start(self, trainer: Trainer, pl_module: GANModule) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: Trainer, pl_module: GANModule, *args: object) -> None:
        if pl_module.g_steps > self.last[1]:
            self.last = (time.perf_counter() - self.start, pl_module.g_steps)


def run(config: str, images: Tensor, seconds: float, swd_images: int) -> dict:
    seed_everything(0)
    model, batch_size, max_steps = model_from_config(ROOT / "configs" / config)
    n_critic = model.hparams.n_critic
    protocol_iterations = max_steps // (n_critic + 1)  # max_steps counts both players' optimizer steps
    reference = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(1))[:swd_images]]
    before = swd(model, reference)
    loader = DataLoader(InMemoryImages(images), batch_size=batch_size, shuffle=True, drop_last=True)
    clock = IterationClock()
    trainer = Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        max_epochs=-1,
        max_time=timedelta(seconds=seconds),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    trainer.fit(model, loader)
    elapsed, iterations = clock.last
    if iterations == 0:
        raise RuntimeError(f"{config}: no generator iteration finished in {seconds} s; raise --seconds")
    per_iteration = elapsed / iterations
    return {
        "config": config,
        "batch_size": batch_size,
        "n_critic": n_critic,
        "generator_parameters": sum(p.numel() for p in model.generator.parameters()),
        "critic_parameters": sum(p.numel() for p in model.discriminator.parameters()),
        "generator_iterations": iterations,
        "train_seconds": elapsed,
        "seconds_per_generator_iteration": per_iteration,
        "protocol_generator_iterations": protocol_iterations,
        "projected_protocol_days": per_iteration * protocol_iterations / 86400,
        "swd_before": before,
        "swd_after": swd(model, reference),
    }


def markdown(results: list[dict], floor: float, swd_images: int) -> str:
    lines = [
        "## CIFAR-10 reproduction configs on a CPU",
        "",
        "Each config's model at full published width, trained on the real CIFAR-10 training images (JPEG copy) "
        "on one CPU thread for a few minutes. No FID or IS was measured: they need Inception weights that cannot "
        "be downloaded here. The GPU command is in each config's header.",
        "",
        "| config | literature (source) | G / D parameters | s per G iteration (this CPU) | G iterations run | "
        f"projected full protocol | SWD x1e3 before -> after ({swd_images} images) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| configs/{r['config']} | {LITERATURE[r['config']]} | {r['generator_parameters']:,} / "
            f"{r['critic_parameters']:,} | {r['seconds_per_generator_iteration']:.2f} | {r['generator_iterations']} | "
            f"{r['protocol_generator_iterations']:,} G iterations = {r['projected_protocol_days']:.1f} days | "
            f"{r['swd_before']:.1f} -> {r['swd_after']:.1f} |"
        )
    lines += [
        "",
        f"SWD between two disjoint sets of {swd_images} real training images (the floor): {floor:.1f}. "
        "Reproduce on a GPU with: `lightning-gans fit --config configs/<config> --trainer.accelerator gpu "
        "--trainer.devices 1` (CIFAR-10 and torch-fidelity's Inception weights download on first use).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=ARCHIVE, help="CIFAR-10 as JPEG, a .tar.gz")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--seconds", type=float, default=240.0, help="training wall time per config")
    parser.add_argument("--swd-images", type=int, default=1024, help="real and generated images per SWD")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = load_cifar10_train(args.archive)
    print(f"loaded {len(images)} CIFAR-10 training images from {args.archive}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(2))
    floor = real_swd(images[order[: args.swd_images]], images[order[args.swd_images : 2 * args.swd_images]])
    results = []
    for config in args.configs:
        result = run(config, images, args.seconds, args.swd_images)
        print(
            f"{config}: {result['seconds_per_generator_iteration']:.2f} s per generator iteration "
            f"({result['generator_iterations']} in {result['train_seconds']:.0f} s); full protocol "
            f"({result['protocol_generator_iterations']:,} iterations) ~{result['projected_protocol_days']:.1f} days "
            f"on this CPU; SWD x1e3 {result['swd_before']:.1f} -> {result['swd_after']:.1f} (real-vs-real {floor:.1f})"
        )
        results.append(result)
    text = markdown(results, floor, args.swd_images)
    print(text)
    figures = {"swd_real_vs_real": floor, "swd_images": args.swd_images, "results": results}
    print(f"saved {save_result('cifar10_repro', text, figures)}")


if __name__ == "__main__":
    main()
