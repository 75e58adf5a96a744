"""Training throughput of the GPU recipe: images/s for DCGAN-64 and WGAN-GP-64 in four settings.

    python -m benchmarks.throughput                       # on the GPU if there is one, else a short CPU run
    python -m benchmarks.throughput --device cpu --steps 4 --batch_size 8
    python -m benchmarks.throughput --settings "fp32 eager" "bf16-mixed + channels_last"

Settings, each adding to the one before: fp32 eager (``precision="32-true"``), bf16-mixed, bf16-mixed +
``channels_last=True``, and + ``torch_compile=True`` (inductor). Models at their papers' sizes: 64x64 RGB, 64
features in G and D; DCGAN at batch 128 (the paper's), WGAN-GP at batch 64 (the paper's) with its 5 critic steps per
G step. ``--batch_size`` sets both.

images/s counts generated images through full training: batch size / the time of one G step with all the D steps
that precede it (DCGAN: one D and one G step per batch; WGAN-GP: five batches, each a critic step, the fifth also a
G step). Measured under Lightning's Trainer, as ``lightning-gans fit`` trains, on one random batch held in memory, so
that no data loading bounds it. The first ``--warmup`` G steps are not timed; their time is reported apart as the
warm-up (for torch.compile: the compilation).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from lightning.pytorch import Callback, Trainer
from torch.utils.data import DataLoader

from benchmarks.results import save_result
from lightning_gans.models import DCGAN, WGANGP, GANModule

#: Setting name -> (Trainer precision, model options).
SETTINGS: dict[str, tuple[str, dict[str, bool]]] = {
    "fp32 eager": ("32-true", {}),
    "bf16-mixed": ("bf16-mixed", {}),
    "bf16-mixed + channels_last": ("bf16-mixed", {"channels_last": True}),
    "bf16-mixed + channels_last + compile": ("bf16-mixed", {"channels_last": True, "torch_compile": True}),
}
#: Model name -> (class, the paper's batch size).
MODELS: dict[str, tuple[type[GANModule], int]] = {"DCGAN-64": (DCGAN, 128), "WGAN-GP-64": (WGANGP, 64)}
TARGET_SPEEDUP = 2.0  # bf16-mixed + channels_last against fp32 eager, on DCGAN-64 (issue #9)


class GStepClock(Callback):
    """The time at the end of every batch that made a G step (after the device has finished it)."""

    def __init__(self) -> None:
        self.start = 0.0
        self.g_step_ends: list[float] = []

    def on_train_start(self, trainer: Trainer, pl_module: GANModule) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: Trainer, pl_module: GANModule, *args: Any) -> None:
        if len(self.g_step_ends) < pl_module.g_steps:
            if pl_module.device.type == "cuda":
                torch.cuda.synchronize()
            self.g_step_ends.append(time.perf_counter())


def measure(model_name: str, setting: str, device: str, batch_size: int, steps: int, warmup: int) -> dict[str, float]:
    """Train ``warmup`` + ``steps`` G steps; images/s over the last ``steps``, and the warm-up's seconds."""
    model_class, _ = MODELS[model_name]
    precision, options = SETTINGS[setting]
    torch.manual_seed(0)
    model = model_class(image_size=64, channels=3, generator_features=64, discriminator_features=64, **options)
    batch = torch.rand(batch_size, 3, 64, 64) * 2 - 1
    batches_per_g_step = model.hparams.n_critic
    loader = DataLoader([batch] * (batches_per_g_step * (warmup + steps)), batch_size=None)
    clock = GStepClock()
    Trainer(
        accelerator=device,
        devices=1,
        precision=precision,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    ).fit(model, loader)
    ends = clock.g_step_ends
    step_seconds = (ends[-1] - ends[warmup - 1]) / steps
    return {
        "images_per_s": batch_size / step_seconds,
        "ms_per_g_step": 1000 * step_seconds,
        "warmup_s": ends[warmup - 1] - clock.start,
    }


def markdown(results: dict[str, dict[str, dict[str, float]]], device: str, args: argparse.Namespace) -> str:
    on_gpu = device == "cuda"
    where = torch.cuda.get_device_name() if on_gpu else "CPU (no GPU in this session)"
    lines = [
        "## Training throughput: the GPU recipe",
        "",
        f"`python -m benchmarks.throughput` on {where}: images/s = batch size / time of one G step with its D steps "
        f"(WGAN-GP: 5 critic steps), mean over {args.steps} G steps after {args.warmup} untimed (warm-up: compilation "
        f"for torch.compile). Batch size: {', '.join(f'{m} {b}' for m, b in batch_sizes(args).items())}.",
        "",
        "| model | setting | images/s | ms per G step | warm-up (s) |",
        "|---|---|---|---|---|",
    ]
    for model_name, by_setting in results.items():
        for setting, figures in by_setting.items():
            lines.append(
                f"| {model_name} | {setting} | {figures['images_per_s']:.1f} | {figures['ms_per_g_step']:.1f} "
                f"| {figures['warmup_s']:.1f} |"
            )
    lines.append("")
    if on_gpu:
        dcgan = results.get("DCGAN-64", {})
        if "fp32 eager" in dcgan and "bf16-mixed + channels_last" in dcgan:
            speedup = dcgan["bf16-mixed + channels_last"]["images_per_s"] / dcgan["fp32 eager"]["images_per_s"]
            verdict = "meets" if speedup >= TARGET_SPEEDUP else "misses"
            lines.append(
                f"DCGAN-64, bf16-mixed + channels_last against fp32 eager: {speedup:.2f}x ({verdict} the "
                f"{TARGET_SPEEDUP:.0f}x target)."
            )
    else:
        lines += [
            "These are CPU figures (small batches, few steps, a shared machine): they show that every setting runs, "
            "not what it gains on a GPU.",
            "",
            "| model | setting | images/s on GPU |",
            "|---|---|---|",
            *(f"| {m} | {s} | not measured (no GPU in this session) |" for m in MODELS for s in SETTINGS),
            "",
            f"Target, not yet checked: DCGAN-64 bf16-mixed + channels_last at least {TARGET_SPEEDUP:.0f}x fp32 eager.",
        ]
    return "\n".join(lines) + "\n"


def batch_sizes(args: argparse.Namespace) -> dict[str, int]:
    return {name: args.batch_size or (paper if args.device == "cuda" else 8) for name, (_, paper) in MODELS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=None, help="timed G steps (default: 50 on GPU, 3 on CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed G steps first (default: 10 on GPU, 1 on CPU)")
    parser.add_argument("--batch_size", type=int, default=None, help="default: the papers' (128, 64) on GPU, 8 on CPU")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here; use --device cpu")
    on_gpu = args.device == "cuda"
    args.steps = args.steps or (50 if on_gpu else 3)
    args.warmup = args.warmup or (10 if on_gpu else 1)
    if on_gpu:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    sizes = batch_sizes(args)

    results: dict[str, dict[str, dict[str, float]]] = {}
    for model_name in args.models:
        for setting in args.settings:
            figures = measure(model_name, setting, args.device, sizes[model_name], args.steps, args.warmup)
            results.setdefault(model_name, {})[setting] = figures
            print(
                f"{model_name:11s} {setting:38s} {figures['images_per_s']:9.1f} images/s  "
                f"{figures['ms_per_g_step']:9.1f} ms/G step  warm-up {figures['warmup_s']:6.1f} s",
                flush=True,
            )
    text = markdown(results, args.device, args)
    print(text)
    save_result("throughput", text, {"device": args.device, "batch_sizes": sizes, "results": results})


if __name__ == "__main__":
    main()
