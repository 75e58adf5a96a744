"""Sample quality of every image variant on real MNIST, each trained through its own config (configs/*_mnist.yaml).

    OMP_NUM_THREADS=1 python -m benchmarks.quality --root ../shared/data --g_steps 500 2000

Each variant trains as a user would start it: ``lightning-gans fit --config configs/<variant>_mnist.yaml`` with
the config's networks and optimizers, on real MNIST, for exactly the budget's generator updates
(``--max_generator_steps``), at batch 64 unless the variant's config sets the paper's batch size (BEGAN: 16, the
paper's). WGAN and WGAN-GP make 5 critic updates per generator update, so they see 5 times the batches of the
others; their budgets above ``--g_steps``' first are halved (``--critic_g_steps`` sets them apart). The run's
``last.ckpt`` is then loaded with ``lightning_gans.models.load_model`` and 2,000 samples (``model.sample``: the EMA
generator when the model keeps one) are compared with 2,000 MNIST test images by FID and KID in the feature space
of the shipped digit classifier (``lightning_gans.metrics.pretrained_digit_classifier``: 128 features, offline).
Two fixed points frame the figures: 2,000 MNIST training images (real vs real, the floor) and 2,000 images of
uniform noise in [-1, 1] (the ceiling). The digit classes column counts the classes that the classifier assigns to
at least 2% of the samples (10 for real digits); fewer means mode collapse. cGAN is also scored on the share of
its samples that the classifier labels as the digit asked for (``benchmarks.cgan_mnist``), InfoGAN on the
agreement of its categorical code with the classifier's labels (``benchmarks.infogan_mnist``). One 8x8 grid of
samples per variant and budget goes to ``benchmarks/results/quality/<variant>_<steps>.png``, and the section of
BENCHMARKS.md to ``benchmarks/results/quality.json``.

Variants missing from ``lightning_gans.models``, or whose config is missing, are listed as not run.
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor
from torchvision.datasets import MNIST
from torchvision.utils import save_image

from benchmarks.cgan_mnist import requested_class_accuracy
from benchmarks.infogan_mnist import majority_agreement, one_to_one_agreement, samples_by_code
from benchmarks.results import RESULTS_DIR, save_result
from benchmarks.training import MNIST_SIZES, mnist_tensors
from lightning_gans import cli, models
from lightning_gans.metrics import (
    DigitClassifier,
    build_feature_extractor,
    extract,
    frechet_distance,
    kernel_inception_distance,
    mean_and_covariance,
    pretrained_digit_classifier,
)
from lightning_gans.models import CodeSource, ConditionalSource, GANModule, load_model

IMAGE_SIZE = 32
REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs"
GRID_DIR = RESULTS_DIR / "quality"
#: The batch size every variant trains with, unless its config sets the paper's (``Variant.paper_batch``).
BATCH_SIZE = 64
#: FID at most this share of uniform noise's counts as beating noise by a wide margin.
WIDE_MARGIN = 0.1
#: A digit class counts as covered when the classifier assigns it to at least this share of the samples.
CLASS_SHARE = 0.02
#: Sample grids side by side in BENCHMARKS.md.
GRIDS_PER_ROW = 4
#: The issue's targets at the longer budget.
TARGET_FID, TARGET_CLASSES, TARGET_REQUESTED, TARGET_AGREEMENT = 20.0, 9, 0.97, 0.80


@dataclass(frozen=True)
class Variant:
    """A model class of ``lightning_gans.models`` and the MNIST config it trains through."""

    class_name: str
    config: str
    #: Keep the config's batch size (the paper's) instead of ``BATCH_SIZE``.
    paper_batch: bool = False
    #: Critic updates per generator update in the config (the longer budgets are halved for these).
    n_critic: int = 1
    note: str = ""


VARIANTS: dict[str, Variant] = {
    "GAN": Variant("GAN", "gan_mnist.yaml"),
    "DCGAN": Variant("DCGAN", "dcgan_mnist.yaml"),
    "ImprovedGAN": Variant("ImprovedGAN", "improved_gan_mnist.yaml"),
    "WGAN": Variant("WGAN", "wgan_mnist.yaml", n_critic=5),
    "WGANGP": Variant("WGANGP", "wgan_gp_mnist.yaml", n_critic=5),
    "BEGAN": Variant("BEGAN", "began_mnist.yaml", paper_batch=True, note="batch 16, the paper's (set in its config)"),
    "ProGAN": Variant("ProGAN", "progan_mnist.yaml"),
    "cGAN": Variant("ConditionalGAN", "cgan_mnist.yaml"),
    "InfoGAN": Variant("InfoGAN", "infogan_mnist.yaml"),
}


def config_path(name: str) -> Path:
    return CONFIG_DIR / VARIANTS[name].config


def config_batch_size(name: str) -> int:
    config = yaml.safe_load(config_path(name).read_text())
    return int(((config.get("data") or {}).get("init_args") or {}).get("batch_size", BATCH_SIZE))


def batch_size(name: str) -> int:
    """The batch this benchmark trains ``name`` with: 64, or the config's where it sets the paper's."""
    return config_batch_size(name) if VARIANTS[name].paper_batch else BATCH_SIZE


def budget(name: str, g_steps: int, critic_g_steps: int) -> int:
    return critic_g_steps if VARIANTS[name].n_critic > 1 else g_steps


def fit_args(name: str, root: str, g_steps: int, batch: int, folder: str, seed: int = 0) -> list[str]:
    """The ``lightning-gans fit`` command line of one run: the variant's config, real MNIST, the budget."""
    return [
        "fit",
        "--config",
        str(config_path(name)),
        "--data.init_args.root",
        root,
        "--data.init_args.download",
        "false",
        "--data.init_args.num_workers",
        "0",
        "--data.init_args.batch_size",
        str(batch),
        "--max_generator_steps",
        str(g_steps),
        "--generative_metrics.metrics",
        "[]",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "1",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
        "--trainer.default_root_dir",
        folder,
        "--seed_everything",
        str(seed),
    ]


def train(
    name: str, root: str, g_steps: int, batch: int, folder: str, seed: int = 0, overrides: list[str] = ()
) -> tuple[GANModule, float, dict]:
    """Train one variant through the CLI; returns the model loaded from its last.ckpt, the training wall time and
    the last logged value of each training metric."""
    start = time.perf_counter()
    run = cli.cli_main([*fit_args(name, root, g_steps, batch, folder, seed), *overrides])
    seconds = time.perf_counter() - start
    logged = {key: float(value) for key, value in run.trainer.callback_metrics.items() if value.numel() == 1}
    checkpoint = Path(run.trainer.log_dir or folder) / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        checkpoint = max(Path(folder).rglob("last.ckpt"), key=lambda path: path.stat().st_mtime)
    model = load_model(checkpoint)
    model.eval()
    return model, seconds, logged


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
        subset = min(1000, len(images), len(self.real_features))
        kid_mean, kid_std = kernel_inception_distance(features, self.real_features, subset_size=subset)
        shares = torch.bincount(logits.argmax(dim=1), minlength=10).float() / len(images)
        return {
            "fid": frechet_distance(self.real_mean, self.real_covariance, *mean_and_covariance(features)),
            "kid_mean": kid_mean,
            "kid_std": kid_std,
            "digit_classes": int((shares >= CLASS_SHARE).sum()),
        }


def mnist_images(root: str, train: bool, n: int, seed: int) -> Tensor:
    """``n`` MNIST images at 32x32 in [-1, 1], a seeded random choice of the training or the test split."""
    size = min(MNIST_SIZES[train], len(MNIST(root, train=train)))
    keep = torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n]
    return mnist_tensors(root, train, indices=keep.tolist())[0]


@torch.no_grad()
def samples(model: GANModule, n: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([model.sample(min(500, n - start), generator) for start in range(0, n, 500)]).float().cpu()


@torch.no_grad()
def control_scores(model: GANModule, n: int, seed: int) -> dict[str, float]:
    """cGAN: the share of samples labelled as the digit asked for; InfoGAN: its first categorical code's agreement
    with the classifier's labels (each value mapped to its majority label, and one-to-one)."""
    if isinstance(model, ConditionalSource):
        share, per_class = requested_class_accuracy(model, max(n // model.num_classes, 1), seed)
        return {"requested_digit": share, "requested_digit_per_class": per_class}
    if isinstance(model, CodeSource) and model.categorical_codes:
        values = model.categorical_codes[0]
        images, codes, _ = samples_by_code(model, max(n // values, 1), seed)
        labels = pretrained_digit_classifier().predict(images)
        agreement, mapping = majority_agreement(codes, labels, values)
        return {
            "code_agreement": agreement,
            "code_agreement_one_to_one": one_to_one_agreement(codes, labels, values),
            "code_to_digit": mapping,
        }
    return {}


def evaluate(model: GANModule, space: FeatureSpace, n: int, seed: int, ceiling_fid: float, grid: Path) -> dict:
    images = samples(model, n, seed)
    grid.parent.mkdir(parents=True, exist_ok=True)
    save_image(images[:64], grid, nrow=8, normalize=True, value_range=(-1, 1))
    scores = space.scores(images)
    return {
        **scores,
        "beats_noise": ceiling_fid / scores["fid"],
        "wide_margin": scores["fid"] <= WIDE_MARGIN * ceiling_fid,
        **control_scores(model, n, seed),
    }


def fmt_kid(row: dict[str, float]) -> str:
    return f"{row['kid_mean']:.3f} ± {row['kid_std']:.3f}"


def fmt_control(row: dict[str, Any]) -> str:
    if "requested_digit" in row:
        return f"requested digit {row['requested_digit']:.1%}"
    if "code_agreement" in row:
        return f"code agreement {row['code_agreement']:.1%} (1:1 {row['code_agreement_one_to_one']:.1%})"
    return "-"


def meets_targets(row: dict[str, Any]) -> bool:
    if "requested_digit" in row:
        return row["requested_digit"] >= TARGET_REQUESTED
    if "code_agreement" in row:
        return row["code_agreement"] >= TARGET_AGREEMENT
    return row["fid"] <= TARGET_FID and row["digit_classes"] >= TARGET_CLASSES


def markdown(
    rows: list[dict[str, Any]], floor: dict, ceiling: dict, args: argparse.Namespace, not_run: list[str]
) -> str:
    lines = [
        "## Sample quality on MNIST",
        "",
        "Each image variant trained on real MNIST through its own config (`lightning-gans fit --config "
        "configs/<variant>_mnist.yaml --max_generator_steps N`: the config's networks and optimizers) at batch "
        f"{BATCH_SIZE} unless the config sets the paper's batch, on {args.threads} CPU thread(s), then sampled from "
        "its last.ckpt (the EMA generator where it keeps one). FID and KID "
        f"between {args.samples:,} samples and {args.samples:,} MNIST test images in the "
        f"{DigitClassifier.feature_dim}-dimensional feature space of the shipped digit classifier (not Inception: "
        "these figures do not compare with published FIDs). "
        f"Beats noise: noise's FID divided by the variant's; a wide margin is at least {1 / WIDE_MARGIN:.0f}x. "
        f"Digit classes: classes the classifier assigns to at least {CLASS_SHARE:.0%} of the samples. Control: cGAN's "
        "share of samples labelled as the digit asked for, InfoGAN's categorical code's agreement with the "
        "classifier's labels (each code value mapped to its majority digit; 1:1 allows each digit one value). "
        f"Targets at the longer budget: FID <= {TARGET_FID:.0f} and >= {TARGET_CLASSES} classes, cGAN >= "
        f"{TARGET_REQUESTED:.0%} requested digit, InfoGAN >= {TARGET_AGREEMENT:.0%} agreement.",
        "",
        "| variant | config | batch | G steps | train s | FID | KID | beats noise | digit classes | control |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| real vs real (floor) | - | - | - | - | {floor['fid']:.2f} | {fmt_kid(floor)} | "
        f"{ceiling['fid'] / floor['fid']:.0f}x | {floor['digit_classes']} | - |",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | `{row['config']}` | {row['batch_size']} | {row['g_steps']} | "
            f"{row['train_seconds']:.0f} | {row['fid']:.2f} | {fmt_kid(row)} | {row['beats_noise']:.1f}x | "
            f"{row['digit_classes']} | {fmt_control(row)} |"
        )
    lines.append(
        f"| uniform noise (ceiling) | - | - | - | - | {ceiling['fid']:.2f} | {fmt_kid(ceiling)} | 1x | "
        f"{ceiling['digit_classes']} | - |"
    )
    short = [f"{row['variant']} ({row['g_steps']})" for row in rows if not row["wide_margin"]]
    lines += ["", f"Short of a wide margin: {', '.join(short) if short else 'none'}."]
    longest = max((row["budget"] for row in rows), default=None)
    if longest is not None and longest > min(row["budget"] for row in rows):
        at_long = [row for row in rows if row["budget"] == longest]
        missed = [row["variant"] for row in at_long if not meets_targets(row)]
        lines.append(
            f"At the longer budget, short of the targets: {', '.join(missed) if missed else 'none'} "
            f"(of {', '.join(row['variant'] for row in at_long)})."
        )
    if not_run:
        lines.append("Not run: " + "; ".join(not_run) + ".")
    notes = sorted(
        {f"{row['variant']}: {VARIANTS[row['variant']].note}" for row in rows if VARIANTS[row["variant"]].note}
    )
    if notes or args.notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes + list(args.notes)]
    for start in range(0, len(rows), GRIDS_PER_ROW):
        chunk = rows[start : start + GRIDS_PER_ROW]
        lines += [
            "",
            "| " + " | ".join(f"{r['variant']} ({r['g_steps']})" for r in chunk) + " |",
            "|" + " --- |" * len(chunk),
        ]
        lines.append("| " + " | ".join(f"![{row['variant']}]({row['grid']})" for row in chunk) + " |")
    return "\n".join(lines)


def run_variant(
    name: str, args: argparse.Namespace, g_steps: int, space: FeatureSpace, ceiling: dict, budget_index: int
) -> dict[str, Any]:
    batch = batch_size(name)
    with tempfile.TemporaryDirectory(prefix=f"quality_{name}_") as folder:
        model, seconds, logged = train(name, args.root, g_steps, batch, folder, args.seed, args.overrides)
    grid = args.results_dir / "quality" / f"{name}_{g_steps}.png"
    scores = evaluate(model, space, args.samples, args.seed, ceiling["fid"], grid)
    return {
        "variant": name,
        "config": f"configs/{VARIANTS[name].config}",
        "batch_size": batch,
        "budget": budget_index,
        "g_steps": model.g_steps,
        "d_steps": model.d_steps,
        "train_seconds": seconds,
        **scores,
        "logged_at_end": {key: value for key, value in logged.items() if key.startswith("train/")},
        "grid": str(grid.relative_to(REPO)) if grid.is_relative_to(REPO) else str(grid),
        **({"overrides": list(args.overrides)} if args.overrides else {}),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder that holds MNIST/raw")
    parser.add_argument("--g_steps", type=int, nargs="+", default=[500], help="generator updates per budget")
    parser.add_argument(
        "--critic_g_steps",
        type=int,
        nargs="+",
        default=None,
        help="budgets of the variants with 5 critic updates per G update (default: --g_steps, halved above the first)",
    )
    parser.add_argument(
        "--long_variants",
        nargs="*",
        default=None,
        metavar="NAME",
        help="variants trained at the budgets after the first (default: all of --variants)",
    )
    parser.add_argument("--samples", type=int, default=2000, help="generated and real images per FID/KID")
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=sorted(VARIANTS),
        default=list(VARIANTS),
        metavar="NAME",
        help=f"a subset of {', '.join(VARIANTS)} (the saved section then shows only these)",
    )
    parser.add_argument("--not_run", nargs="*", default=[], help="NAME: reason, listed as not run in the table")
    parser.add_argument("--notes", nargs="*", default=[], help="notes to print under the table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the CPU is shared)")
    parser.add_argument(
        "--overrides",
        type=shlex.split,
        default=[],
        help='extra lightning-gans fit arguments for every run, one string (trials): --overrides="--model.X 1"',
    )
    parser.add_argument("--results_dir", type=Path, default=RESULTS_DIR, help="where quality.json and the grids go")
    args = parser.parse_args(argv)
    critic = args.critic_g_steps or [
        steps if index == 0 else max(steps // 2, 1) for index, steps in enumerate(args.g_steps)
    ]
    if len(critic) != len(args.g_steps):
        parser.error("--critic_g_steps needs one value per --g_steps value")
    torch.set_num_threads(args.threads)
    space = FeatureSpace(mnist_images(args.root, train=False, n=args.samples, seed=args.seed))
    floor = space.scores(mnist_images(args.root, train=True, n=args.samples, seed=args.seed))
    noise = torch.rand(args.samples, 1, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(args.seed))
    ceiling = space.scores(noise * 2 - 1)
    print(f"real vs real (floor): FID {floor['fid']:.2f}, KID {fmt_kid(floor)}, {floor['digit_classes']} classes")
    print(f"uniform noise (ceiling): FID {ceiling['fid']:.2f}, KID {fmt_kid(ceiling)}", flush=True)

    not_run = list(args.not_run)
    runnable = []
    for name in args.variants:
        if not hasattr(models, VARIANTS[name].class_name):
            not_run.append(f"{name} (not in this version of lightning_gans.models)")
        elif not config_path(name).is_file():
            not_run.append(f"{name} (no configs/{VARIANTS[name].config})")
        else:
            runnable.append(name)
    long_variants = runnable if args.long_variants is None else [n for n in runnable if n in args.long_variants]
    budgets = list(enumerate(zip(args.g_steps, critic, strict=True)))
    long_skipped = [name for name in runnable if name not in long_variants] if len(budgets) > 1 else []
    if long_skipped:
        not_run.append(f"{', '.join(long_skipped)} at the longer budget (CPU time)")
    settings = {**vars(args), "results_dir": str(args.results_dir), "critic_g_steps": critic}
    rows: list[dict[str, Any]] = []
    # Variant by variant, each budget in turn; the results file is rewritten after every run, so that a run cut
    # short keeps what it measured.
    for name in runnable:
        for index, (g_steps, critic_steps) in budgets:
            if index > 0 and name not in long_variants:
                continue
            row = run_variant(name, args, budget(name, g_steps, critic_steps), space, ceiling, index)
            rows.append(row)
            loss_text = ", ".join(f"{key} {value:.3f}" for key, value in row["logged_at_end"].items())
            print(
                f"{name:<12} batch {row['batch_size']:>3} G steps {row['g_steps']:>5} {row['train_seconds']:6.0f} s "
                f"FID {row['fid']:8.2f} KID {fmt_kid(row)} classes {row['digit_classes']:>2} {fmt_control(row)}   "
                f"(last batch: {loss_text})",
                flush=True,
            )
            table = sorted(rows, key=lambda row: row["budget"])
            figures = {"settings": settings, "floor": floor, "ceiling": ceiling, "variants": table, "not_run": not_run}
            path = save_result("quality", markdown(table, floor, ceiling, args, not_run), figures, args.results_dir)
    if not rows:
        figures = {"settings": settings, "floor": floor, "ceiling": ceiling, "variants": [], "not_run": not_run}
        path = save_result("quality", markdown([], floor, ceiling, args, not_run), figures, args.results_dir)
    print(f"grids in {args.results_dir / 'quality'}, results in {path}")


if __name__ == "__main__":
    main()
