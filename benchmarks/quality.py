"""Sample quality of every unconditional image variant on real MNIST, for one fixed budget of generator steps.

    python -m benchmarks.quality --root ../shared/data --g_steps 600

Each variant trains with narrow networks (sized for a 2-core CPU, one thread) on MNIST at 32x32, batches of
32, until its generator has made ``--g_steps`` updates: WGAN and WGAN-GP make 5 critic updates per generator
update, so they see 5 times the batches of the others. Then 2,000 samples are compared with 2,000 MNIST test
images by FID and KID in the feature space of the shipped digit classifier
(``lightning_gans.metrics.pretrained_digit_classifier``: 128 features, offline). Two fixed points frame the
figures: 2,000 MNIST training images (real vs real, the floor) and 2,000 images of uniform noise in [-1, 1]
(the ceiling). A variant beats noise by a wide margin when its FID is at most a tenth of noise's. The digit
classes column counts the classes that the classifier assigns to at least 2% of the samples (10 for real
digits); fewer means mode collapse. One 8x8 grid of samples per variant goes to
``benchmarks/results/quality/<variant>.png``, and the section of BENCHMARKS.md to
``benchmarks/results/quality.json``.

Variants missing from ``lightning_gans.models`` (InfoGAN, in versions without it) are listed as not run.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from torch import Tensor
from torchvision.utils import save_image

from benchmarks.results import RESULTS_DIR, save_result
from benchmarks.training import MNIST_SIZES, mnist_tensors
from datamodules import MNISTDataModule
from lightning_gans import models
from lightning_gans.metrics import (
    DigitClassifier,
    build_feature_extractor,
    extract,
    frechet_distance,
    kernel_inception_distance,
    mean_and_covariance,
)
from lightning_gans.models import GANModule
from lightning_gans.models.base import adam

IMAGE_SIZE = 32
GRID_DIR = RESULTS_DIR / "quality"
#: FID at most this share of uniform noise's counts as beating noise by a wide margin.
WIDE_MARGIN = 0.1
#: A digit class counts as covered when the classifier assigns it to at least this share of the samples.
CLASS_SHARE = 0.02
#: Sample grids side by side in BENCHMARKS.md.
GRIDS_PER_ROW = 4


def progan_phases(g_steps: int, batch_size: int) -> dict[str, int]:
    """Fade-in and stabilisation lengths of a tenth of the budget's images each.

    4x4 stabilises, 8x8 and 16x16 fade in and stabilise, 32x32 fades in: full size at alpha 1 from 60% of the
    budget on, so the last 40% trains at full resolution.
    """
    phase = max(g_steps * batch_size // 10, 1)
    return {"fade_images": phase, "stabilize_images": phase}


@dataclass(frozen=True)
class Variant:
    """A model class of ``lightning_gans.models`` and the settings it trains with here."""

    class_name: str
    settings: dict[str, Any]
    #: Settings that depend on the budget: (g_steps, batch_size) -> settings.
    budget_settings: Callable[[int, int], dict[str, Any]] | None = None
    #: Where the settings leave the paper's defaults, besides the narrow networks.
    note: str = ""


NARROW_DCGAN = {"generator_features": 16, "discriminator_features": 16}

VARIANTS: dict[str, Variant] = {
    # The paper's MLP widths (cheap on a CPU). At lr 2e-4 and dropout 0.5 G is still speckled grey blobs
    # after 600 steps (FID 446 with narrow nets, 336 at lr 5e-4); lr 1e-3 and dropout 0.2 give digits.
    "GAN": Variant(
        "GAN",
        {"optimizer_g": adam(1e-3, (0.5, 0.999)), "optimizer_d": adam(1e-3, (0.5, 0.999)), "dropout": 0.2},
        note="the paper's full widths (an MLP is cheap); Adam lr 1e-3 for G and D (our default 2e-4 is too slow "
        "for 600 steps); dropout 0.2 in D (the paper's 0.5)",
    ),
    "DCGAN": Variant("DCGAN", NARROW_DCGAN),
    "ImprovedGAN": Variant(
        "ImprovedGAN",
        {**NARROW_DCGAN, "minibatch_kernels": 32, "minibatch_kernel_dim": 5, "real_label_range": (0.9, 0.9)},
        note="minibatch discrimination (32 kernels of 5) and one-sided label smoothing (0.9) on",
    ),
    "WGAN": Variant("WGAN", NARROW_DCGAN),
    "WGANGP": Variant("WGANGP", NARROW_DCGAN),
    # With lambda_k 0.001, k_t stays near 0 for 600 steps, so D never pushes back and G settles on near-black
    # images (FID 111); lambda_k 0.1 lets the controller engage within the budget (k_t ~0.3 at the end).
    "BEGAN": Variant(
        "BEGAN",
        {"latent_dim": 32, "embedding_dim": 32, "filters": 16, "gamma": 0.7, "lambda_k": 0.1},
        note="lambda_k 0.1 (the paper's 0.001 leaves k_t near 0 within 600 steps); gamma 0.7, the top of the "
        "paper's range 0.3-0.7 (the most diverse samples)",
    ),
    "ProGAN": Variant(
        "ProGAN",
        {"latent_dim": 64, "feature_base": 256, "feature_max": 32, "batch_sizes": None, "ema_decay": 0.99},
        budget_settings=progan_phases,
        note="phases of a tenth of the budget each; EMA decay 0.99 (0.999 would still hold half of the initial "
        "weights after 600 steps); the common batch size at every resolution",
    ),
    "InfoGAN": Variant("InfoGAN", NARROW_DCGAN),
}


class StopAfterGeneratorSteps(Callback):
    """Stops training once G has made ``g_steps`` updates; keeps every value logged at every batch."""

    def __init__(self, g_steps: int) -> None:
        self.g_steps = g_steps
        self.logged: dict[str, list[float]] = defaultdict(list)

    def on_train_batch_end(self, trainer: Trainer, pl_module: GANModule, *args: object) -> None:
        for name, value in trainer.callback_metrics.items():
            self.logged[name].append(value.item())
        if pl_module.g_steps >= self.g_steps:
            trainer.should_stop = True


class FeatureSpace:
    """The digit classifier's features, and FID/KID against fixed real features."""

    def __init__(self, real: Tensor, batch_size: int = 500) -> None:
        self.extractor = build_feature_extractor("digits")
        self.batch_size = batch_size
        self.real_features, _ = self.features(real)
        self.real_mean, self.real_covariance = mean_and_covariance(self.real_features)

    @torch.no_grad()
    def features(self, images: Tensor) -> tuple[Tensor, Tensor]:
        pairs = [extract(self.extractor, chunk) for chunk in images.split(self.batch_size)]
        return torch.cat([features for features, _ in pairs]), torch.cat([logits for _, logits in pairs])

    def scores(self, images: Tensor) -> dict[str, float]:
        features, logits = self.features(images)
        kid_mean, kid_std = kernel_inception_distance(features, self.real_features)
        shares = torch.bincount(logits.argmax(dim=1), minlength=10).float() / len(images)
        return {
            "fid": frechet_distance(self.real_mean, self.real_covariance, *mean_and_covariance(features)),
            "kid_mean": kid_mean,
            "kid_std": kid_std,
            "digit_classes": int((shares >= CLASS_SHARE).sum()),
        }


def mnist_images(root: str, train: bool, n: int, seed: int) -> Tensor:
    """``n`` MNIST images at 32x32 in [-1, 1], a seeded random choice of the training or the test split."""
    keep = torch.randperm(MNIST_SIZES[train], generator=torch.Generator().manual_seed(seed))[:n]
    return mnist_tensors(root, train, indices=keep.tolist())[0]


def build(name: str, g_steps: int, batch_size: int) -> GANModule:
    variant = VARIANTS[name]
    settings = dict(variant.settings)
    if variant.budget_settings is not None:
        settings |= variant.budget_settings(g_steps, batch_size)
    return getattr(models, variant.class_name)(image_size=IMAGE_SIZE, channels=1, **settings)


def train(name: str, args: argparse.Namespace) -> tuple[GANModule, float, dict[str, float]]:
    """Train one variant for the budget; returns it, the training wall time and the mean of each logged
    value (losses, BEGAN's k_t, ProGAN's resolution, ...) over the last 50 batches."""
    seed_everything(args.seed)
    model = build(name, args.g_steps, args.batch_size)
    stop = StopAfterGeneratorSteps(args.g_steps)
    data = MNISTDataModule(
        root=args.root, download=False, image_size=IMAGE_SIZE, batch_size=args.batch_size, num_workers=0
    )
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=-1,
        logger=False,
        callbacks=[stop],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=data)
    seconds = time.perf_counter() - start
    return model, seconds, {key: float(np.mean(values[-50:])) for key, values in stop.logged.items()}


def samples(model: GANModule, n: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([model.sample(min(500, n - start), generator) for start in range(0, n, 500)]).cpu()


def fmt_kid(row: dict[str, float]) -> str:
    return f"{row['kid_mean']:.3f} ± {row['kid_std']:.3f}"


def markdown(
    rows: list[dict[str, Any]], floor: dict, ceiling: dict, args: argparse.Namespace, skipped: list[str]
) -> str:
    lines = [
        "## Sample quality on MNIST",
        "",
        f"Each unconditional image variant trained on MNIST (32x32, batch {args.batch_size}) for "
        f"{args.g_steps} generator steps with narrow networks on {args.threads} CPU thread(s); FID and KID "
        f"between {args.samples:,} samples and {args.samples:,} MNIST test images in the "
        f"{DigitClassifier.feature_dim}-dimensional feature space of the shipped digit classifier (not Inception: "
        "these figures do not compare with published FIDs). "
        f"Beats noise: noise's FID divided by the variant's; a wide margin is at least {1 / WIDE_MARGIN:.0f}x. "
        f"Digit classes: classes the classifier assigns to at least {CLASS_SHARE:.0%} of the samples.",
        "",
        "| variant | G steps | train s | FID | KID | beats noise | digit classes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| real vs real (floor) | - | - | {floor['fid']:.2f} | {fmt_kid(floor)} | "
        f"{ceiling['fid'] / floor['fid']:.0f}x | {floor['digit_classes']} |",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | {row['g_steps']} | {row['train_seconds']:.0f} | {row['fid']:.2f} | {fmt_kid(row)} | "
            f"{row['beats_noise']:.1f}x | {row['digit_classes']} |"
        )
    lines.append(
        f"| uniform noise (ceiling) | - | - | {ceiling['fid']:.2f} | {fmt_kid(ceiling)} | 1x | "
        f"{ceiling['digit_classes']} |"
    )
    short = [row["variant"] for row in rows if not row["wide_margin"]]
    lines += ["", f"Short of a wide margin: {', '.join(short) if short else 'none'}."]
    if skipped:
        lines.append(f"Not run (not in this version of lightning_gans.models): {', '.join(skipped)}.")
    notes = [f"{name}: {VARIANTS[name].note}" for name in (row["variant"] for row in rows) if VARIANTS[name].note]
    if notes:
        lines += ["", "Settings off the papers' defaults besides the widths:", ""] + [f"- {note}" for note in notes]
    for start in range(0, len(rows), GRIDS_PER_ROW):
        chunk = rows[start : start + GRIDS_PER_ROW]
        lines += ["", "| " + " | ".join(row["variant"] for row in chunk) + " |", "|" + " --- |" * len(chunk)]
        lines.append("| " + " | ".join(f"![{row['variant']}]({row['grid']})" for row in chunk) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder that holds MNIST/raw")
    parser.add_argument("--g_steps", type=int, default=600, help="generator updates per variant")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=2000, help="generated and real images per FID/KID")
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=sorted(VARIANTS),
        default=list(VARIANTS),
        metavar="NAME",
        help=f"a subset of {', '.join(VARIANTS)} (the saved section then shows only these)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the CPU is shared)")
    args = parser.parse_args()
    if args.samples < 1000:
        parser.error(f"--samples must be at least 1000 (KID's subset size), got {args.samples}")
    torch.set_num_threads(args.threads)
    GRID_DIR.mkdir(parents=True, exist_ok=True)

    space = FeatureSpace(mnist_images(args.root, train=False, n=args.samples, seed=args.seed))
    floor = space.scores(mnist_images(args.root, train=True, n=args.samples, seed=args.seed))
    noise = torch.rand(args.samples, 1, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(args.seed))
    ceiling = space.scores(noise * 2 - 1)
    header = f"{'variant':<24} {'G steps':>7} {'train s':>8} {'FID':>9} {'KID':>16} {'beats noise':>11} {'classes':>7}"
    print(header)
    print(f"{'real vs real (floor)':<24} {'-':>7} {'-':>8} {floor['fid']:9.2f} {fmt_kid(floor):>16}")
    print(f"{'uniform noise (ceiling)':<24} {'-':>7} {'-':>8} {ceiling['fid']:9.2f} {fmt_kid(ceiling):>16}", flush=True)

    skipped = [name for name in args.variants if not hasattr(models, VARIANTS[name].class_name)]
    rows = []
    for name in (name for name in args.variants if name not in skipped):
        model, seconds, logged = train(name, args)
        images = samples(model, args.samples, args.seed)
        grid = GRID_DIR / f"{name}.png"
        save_image(images[:64], grid, nrow=8, normalize=True, value_range=(-1, 1))
        scores = space.scores(images)
        row = {
            "variant": name,
            "g_steps": model.g_steps,
            "d_steps": model.d_steps,
            "train_seconds": seconds,
            **scores,
            "beats_noise": ceiling["fid"] / scores["fid"],
            "wide_margin": scores["fid"] <= WIDE_MARGIN * ceiling["fid"],
            "logged_at_end": logged,
            "grid": str(grid.relative_to(RESULTS_DIR.parent.parent)),
        }
        rows.append(row)
        loss_text = ", ".join(f"{key} {logged[key]:.3f}" for key in ("train/d_loss", "train/g_loss") if key in logged)
        print(
            f"{name:<24} {model.g_steps:>7} {seconds:8.0f} {scores['fid']:9.2f} {fmt_kid(scores):>16} "
            f"{row['beats_noise']:10.1f}x {scores['digit_classes']:>7}   (last 50 batches: {loss_text})",
            flush=True,
        )
    for name in skipped:
        print(f"{name}: not in this version of lightning_gans.models, not run")

    figures = {"settings": vars(args), "floor": floor, "ceiling": ceiling, "variants": rows, "skipped": skipped}
    path = save_result("quality", markdown(rows, floor, ceiling, args, skipped), figures)
    print(f"grids in {GRID_DIR}, results in {path}")


if __name__ == "__main__":
    main()
