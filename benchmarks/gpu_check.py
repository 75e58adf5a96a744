"""The GPU checks in one command: precisions for every variant, the GPU recipe's speed, fp16 edge cases, SyncBatchNorm.

    bash benchmarks/gpu_check.sh                                # on a machine with one GPU: at most 8 minutes
    python -m benchmarks.gpu_check --device cpu --quick         # the same code paths at tiny sizes, under a minute
    python -m benchmarks.gpu_check --sections dcgan64 progan --out /tmp/rerun   # some sections only

Writes ``<--out>/gpu_check.json`` (``benchmarks/results/`` by default, see ``benchmarks.results``) after every
check, so whatever was measured before a timeout or a crash is kept; a run rewrites it whole. Each check records
its figure and whether it passed, and why not; the run exits 0 whatever the checks found (the JSON and the printed
tables say). Sections (in the order they run):

- ``dcgan64``: DCGAN-64 images/s (64x64 RGB, the paper's widths, batch 128) in ``benchmarks.throughput``'s four
  settings: fp32 eager, bf16-mixed, + channels_last, + torch_compile; target: bf16-mixed + channels_last at least
  2x fp32 eager.
- ``wgan_gp_penalty``: WGAN-GP under 16-mixed: no skipped steps after warm-up, and the penalty of the trained critic
  taken under fp16 autocast at the loss scale the scaler settled on agrees with the fp32 one (same draws).
- ``progan``: ProGAN under 16-mixed while it grows from 4x4 to 64x64, every fade-in and stabilisation lasting as
  long as the warm-up (its 4x4 phase): no skipped steps after warm-up, the last resolution reached.
- ``sync_batchnorm``: ``lightning-gans fit ... --trainer.sync_batchnorm true --trainer.devices 1`` through the
  command line in-process (``lightning_gans.cli.cli_main``), DCGAN with an EMA generator on the digits, with the
  default strategy (single device: Lightning leaves batch norms as they are) and with ``--trainer.strategy ddp``
  (one process; the batch norms become SyncBatchNorm, which torch runs only on CUDA).
- ``step_times``: every registered variant (``tests/registry.py``) in fp32, bf16-mixed and 16-mixed: median ms per
  generator update (with the D updates before it) after warm-up; passes with finite logged values and weights
  and, under 16-mixed, no skipped optimizer steps after warm-up. On the GPU each variant keeps its registered
  settings (switches, n_critic, schedules) but takes its class's default widths (the papers'), 64x64 RGB
  (the CIFAR-10 ResNet: 32x32) and batch 64; ``--quick`` keeps the registry's tiny models.

Every run trains under Lightning's Trainer on one batch held in memory (data loading bounds nothing), as
``benchmarks.throughput`` does; on the GPU the batch is random images in [-1, 1] shaped like the variant's data.

Skipped optimizer steps (16-mixed) are detected through the GradScaler's scale: it halves at every step it skips
(non-finite gradients) and grows only after 2000 steps in a row without one, so over these short runs the halvings
between the end of warm-up and the end count the skipped steps exactly. The first steps of a run are expected to
skip while the scale comes down from 65536; those fall in the warm-up and are reported apart.

``--device cpu --quick``: 16-mixed runs through ``MixedPrecision("16-mixed", "cpu")`` (fp16 autocast and a
GradScaler), because ``Trainer(precision="16-mixed")`` on a CPU silently trains in bf16 instead. CPU autocast keeps
pow, rsqrt and sums in fp16 where CUDA's runs them in fp32, so a 16-mixed failure on a CPU need not show on a GPU.
The GradScaler starts at 2**8 (``CPU_FP16_INIT_SCALE``) instead of 2**16, which it would need more than --quick's
one warm-up step to come down from. torch_compile uses the ``aot_eager`` backend, as tests/test_gpu_recipe.py does,
since inductor's CPU build takes minutes. torch runs on one thread. The figures show that every path runs, not what
it gains on a GPU.

Time budget: a check starts only while the time left (``--budget-s``, 450 s by default, counted from the start of
the checks) exceeds the longest check so far (and the compile check's own reserve); the others are recorded as
skipped. gpu_check.sh stops the whole run at 480 s.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.plugins import MixedPrecision
from torch import Tensor, nn
from torch.utils.data import DataLoader

from benchmarks.results import RESULTS_DIR, save_result
from benchmarks.throughput import MODELS, SETTINGS, TARGET_SPEEDUP, GStepClock
from lightning_gans.cli import cli_main
from lightning_gans.losses import gradient_penalty
from lightning_gans.models import DCGAN, GANModule
from lightning_gans.models.wgan_gp import loss_scale
from lightning_gans.nn.progan import resolution
from tests.registry import VARIANTS

NAME = "gpu_check"
PRECISIONS = {"fp32": "32-true", "bf16-mixed": "bf16-mixed", "16-mixed": "16-mixed"}
DCGAN_COLUMNS = ("images_per_s", "ms_per_g_step", "warmup_s")
SECTIONS = ("dcgan64", "wgan_gp_penalty", "progan", "sync_batchnorm", "step_times")
#: Settings that only size a variant's networks: on the GPU they take their class's defaults (the papers' widths).
WIDTHS = (
    "latent_dim",
    "noise_dim",
    "generator_features",
    "discriminator_features",
    "generator_hidden",
    "discriminator_hidden",
    "maxout_pieces",
    "embedding_dim",
    "filters",
    "q_hidden",
    "feature_base",
    "feature_max",
    "residual_blocks",
    "discriminator_layers",
)
GPU_IMAGE_SIZE = 64
GPU_IMAGE_SIZES = {"wgan_gp_resnet": 32}  # the CIFAR-10 ResNet is built for 32x32 only
#: Where the CPU's GradScaler starts (the GPU's: Lightning's 2**16). From 2**16 it comes down over more steps than
#: --quick's warm-up, so its 16-mixed checks would fail for want of a longer warm-up, not of a working fp16 path.
CPU_FP16_INIT_SCALE = 2.0**8
#: The fp16 penalty must match the fp32 one this closely; a scale left in the gradients would be off by thousands.
PENALTY_TOLERANCE = {"rel_tol": 0.05, "abs_tol": 0.01}


@dataclass(frozen=True)
class Scale:
    """The sizes of one mode: the GPU's realistic ones or ``--quick``'s tiny ones."""

    quick: bool
    warmup: int  # untimed G steps first (and the fp16 scaler's calibration)
    steps: int  # timed G steps
    batch_size: int  # on the GPU; --quick keeps the registry's batches
    dcgan_features: int
    dcgan_batch_size: int
    progan_batch_size: int
    cli_batches: int
    compile_backend: str | None  # None: the models' own nn.Module.compile() (inductor)
    compile_reserve_s: float  # the compile check starts only with this much time left


GPU = Scale(
    quick=False,
    warmup=10,
    steps=20,
    batch_size=64,
    dcgan_features=64,
    dcgan_batch_size=MODELS["DCGAN-64"][1],
    progan_batch_size=16,  # the paper's up to 128x128
    cli_batches=10,  # of the digits' 14 batches of 128
    compile_backend=None,
    compile_reserve_s=150.0,
)
QUICK = Scale(
    quick=True,
    warmup=1,
    steps=2,
    batch_size=8,
    dcgan_features=8,
    dcgan_batch_size=8,
    progan_batch_size=8,
    cli_batches=4,
    compile_backend="aot_eager",
    compile_reserve_s=10.0,
)


# ----------------------------------------------------------------------------------------------- training runs
def precision_options(precision: str, device: str) -> dict[str, Any]:
    # Trainer(precision="16-mixed") on a CPU trains in bf16 instead (with a warning); the plugin keeps fp16 autocast
    # and a GradScaler, so --quick runs the fp16 code paths too.
    if precision == "16-mixed" and device == "cpu":
        scaler = torch.amp.GradScaler("cpu", init_scale=CPU_FP16_INIT_SCALE)
        return {"plugins": [MixedPrecision("16-mixed", "cpu", scaler=scaler)]}
    return {"precision": precision}


class Probe(GStepClock):
    """``GStepClock`` that also notes the fp16 loss scale when training starts and when the warm-up ends."""

    def __init__(self, warmup: int) -> None:
        super().__init__()
        self.warmup = warmup
        self.start_scale = self.warmup_scale = 1.0

    def on_train_start(self, trainer: Trainer, pl_module: GANModule) -> None:
        super().on_train_start(trainer, pl_module)
        self.start_scale = loss_scale(trainer)

    def on_train_batch_end(self, trainer: Trainer, pl_module: GANModule, *args: Any) -> None:
        steps_before = len(self.g_step_ends)
        super().on_train_batch_end(trainer, pl_module, *args)
        if steps_before < self.warmup == len(self.g_step_ends):
            self.warmup_scale = loss_scale(trainer)


def halvings(before: float, after: float) -> int:
    """Skipped steps between two GradScaler scales (see the module's docstring)."""
    return max(0, round(math.log2(before / after)))


def train(
    model: GANModule, batch: Any, device: str, precision: str, scale: Scale, **trainer_options: Any
) -> tuple[dict[str, Any], Trainer]:
    """Train ``scale.warmup`` + ``scale.steps`` G steps on ``batch``; the step time and the checks, and the Trainer."""
    probe = Probe(scale.warmup)
    g_steps = scale.warmup + scale.steps
    trainer = Trainer(
        accelerator=device,
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[probe],
        **precision_options(precision, device),
        **trainer_options,
    )
    loader = DataLoader([batch] * (model.hparams.n_critic * g_steps), batch_size=None)
    trainer.fit(model, loader)

    problems = []
    if model.g_steps != g_steps:
        problems.append(f"{model.g_steps} G steps instead of {g_steps}")
    logged = {key: float(value) for key, value in trainer.callback_metrics.items()}
    not_finite = [key for key, value in logged.items() if not math.isfinite(value)]
    weights = {key: t for key, t in model.state_dict().items() if isinstance(t, Tensor) and t.is_floating_point()}
    not_finite += [key for key, t in weights.items() if not t.isfinite().all()]
    if not_finite:
        problems.append(f"not finite: {', '.join(not_finite)}")
    has_scaler = getattr(trainer.precision_plugin, "scaler", None) is not None
    final_scale = loss_scale(trainer)
    skipped = halvings(probe.warmup_scale, final_scale) if has_scaler else None
    if skipped:
        problems.append(f"{skipped} skipped optimizer steps after warm-up")
    ends = probe.g_step_ends[scale.warmup - 1 :]
    result = {
        "ms_per_g_step": 1000 * statistics.median(b - a for a, b in pairwise(ends)),
        "warmup_s": ends[0] - probe.start,
        "g_steps": model.g_steps,
        "skipped_steps_in_warmup": halvings(probe.start_scale, probe.warmup_scale) if has_scaler else None,
        "skipped_steps_after_warmup": skipped,
        "loss_scale": final_scale if has_scaler else None,
        "logged": logged,
        "problems": problems,
        "passed": not problems,
    }
    return result, trainer


def model_for(name: str, scale: Scale, **overrides: Any) -> GANModule:
    """The registry's variant ``name`` built again through its class's ``__init__``: as registered (``--quick``) or,
    on the GPU, at the GPU geometry with its class's default widths; then ``overrides``."""
    template = VARIANTS[name].make_model()
    parameters = inspect.signature(type(template).__init__).parameters
    factories = {
        f"{kind}_{player}": getattr(template, f"{kind}_factories")[player]
        for kind in ("optimizer", "scheduler")
        for player in ("g", "d")
    }
    recorded = {**template.hparams, **factories}
    settings = {key: value for key, value in recorded.items() if key in parameters}
    if not scale.quick:
        settings = {key: value for key, value in settings.items() if key not in WIDTHS}
        settings.update(image_size=GPU_IMAGE_SIZES.get(name, GPU_IMAGE_SIZE), channels=3)
    if "batch_sizes" in parameters:
        # ProGAN sets its batch sizes through a datamodule; these runs hold one batch in memory.
        settings["batch_sizes"] = None
    torch.manual_seed(0)
    return type(template)(**{**settings, **overrides})


def batch_for(name: str, model: GANModule, scale: Scale, batch_size: int | None = None) -> Any:
    """A training batch for the registry's variant ``name``: the first of its datamodule (``--quick``), or on the
    GPU random images in [-1, 1] of the model's geometry, ``batch_size`` of them (default ``scale.batch_size``),
    with the datamodule's other tensors (labels) repeated to match."""
    datamodule = VARIANTS[name].make_data()
    datamodule.setup("fit")
    example = next(iter(datamodule.train_dataloader()))
    if scale.quick:
        return example
    shape = (batch_size or scale.batch_size, model.hparams.channels, model.hparams.image_size, model.hparams.image_size)
    return resized(example, shape)


def resized(example: Any, shape: tuple[int, int, int, int]) -> Any:
    if isinstance(example, (list, tuple)):
        return type(example)(resized(part, shape) for part in example)
    if example.dim() == 4:
        return torch.rand(shape) * 2 - 1
    return example[torch.arange(shape[0]) % len(example)]


# ----------------------------------------------------------------------------------------------------- checks
def check_dcgan64(setting: str, device: str, scale: Scale) -> dict[str, Any]:
    precision, options = SETTINGS[setting]
    torch.manual_seed(0)
    width = scale.dcgan_features
    model = DCGAN(image_size=64, channels=3, generator_features=width, discriminator_features=width, **options)
    if options.get("torch_compile") and scale.compile_backend is not None:
        # Compiled here with the cheap backend, configure_model finds the networks compiled and keeps them.
        for network in model.networks_to_compile():
            network.compile(backend=scale.compile_backend)
    batch = torch.rand(scale.dcgan_batch_size, 3, 64, 64) * 2 - 1
    result, _ = train(model, batch, device, precision, scale)
    result["images_per_s"] = scale.dcgan_batch_size / (result["ms_per_g_step"] / 1000)
    return result


def dcgan64_target(results: dict[str, Any]) -> dict[str, Any] | None:
    """bf16-mixed + channels_last against fp32 eager, when both were measured."""
    fast, base = results.get("bf16-mixed + channels_last", {}), results.get("fp32 eager", {})
    if "images_per_s" not in fast or "images_per_s" not in base:
        return None
    speedup = fast["images_per_s"] / base["images_per_s"]
    return {"speedup": speedup, "target": TARGET_SPEEDUP, "met": speedup >= TARGET_SPEEDUP}


def check_wgan_gp_penalty(device: str, scale: Scale) -> dict[str, Any]:
    model = model_for("wgan_gp", scale)
    batch = batch_for("wgan_gp", model, scale)
    # Diagnostics such as the penalty are logged on the loggers' batches only: log every batch to see the last one.
    result, trainer = train(model, batch, device, "16-mixed", scale, log_every_n_steps=1)
    model.to(trainer.strategy.root_device)
    real = model.real_images(batch).to(model.device)
    with torch.no_grad():
        fake = model.generator(model.sample_latent(real.size(0)))

    def penalty(fp16: bool) -> float:
        draws = torch.Generator(model.device).manual_seed(0)  # the same interpolates in both precisions
        grad_scale = result["loss_scale"] if fp16 else 1.0
        with torch.autocast(model.device.type, dtype=torch.float16, enabled=fp16):
            return gradient_penalty(model.discriminator, real, fake, grad_scale=grad_scale, generator=draws).item()

    penalties = {"float32": penalty(fp16=False), "float16": penalty(fp16=True)}
    result["penalty_on_trained_critic"] = penalties
    if not math.isclose(penalties["float16"], penalties["float32"], **PENALTY_TOLERANCE):
        result["problems"].append(f"fp16 penalty {penalties['float16']:.4g} vs fp32 {penalties['float32']:.4g}")
    result["passed"] = not result["problems"]
    return result


def check_progan(device: str, scale: Scale) -> dict[str, Any]:
    phase_images = scale.warmup * scale.progan_batch_size
    model = model_for("progan_growing", scale, fade_images=phase_images, stabilize_images=phase_images)
    # The 4x4 phase is the warm-up; each level then fades in and stabilises for as long, and the last trains one more.
    growing = replace(scale, steps=(2 * model.last_level + 1) * scale.warmup)
    batch = batch_for("progan_growing", model, scale, scale.progan_batch_size)
    result, _ = train(model, batch, device, "16-mixed", growing)
    level, alpha = model.growth
    result["final_resolution"], result["final_alpha"] = resolution(level), alpha
    if (level, alpha) != (model.last_level, 1.0):
        result["problems"].append(f"stopped at {resolution(level)}x{resolution(level)}, alpha {alpha:.2f}")
    result["passed"] = not result["problems"]
    return result


@contextmanager
def leaves_no_trace() -> Iterator[None]:
    """Undo what a DDP run leaves in the process: its process group, and its environment variables, of which
    LOCAL_RANK would tell every later Trainer that a launcher had started it."""
    environment = dict(os.environ)
    try:
        yield
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        os.environ.clear()
        os.environ.update(environment)


def check_sync_batchnorm(device: str, scale: Scale, strategy: str) -> dict[str, Any]:
    widths = [f"--model.init_args.{net}_features={scale.dcgan_features}" for net in ("generator", "discriminator")]
    with tempfile.TemporaryDirectory() as root, leaves_no_trace():
        cli = cli_main(
            [
                "fit",
                "--model=DCGAN",
                "--data=DigitsDataModule",
                f"--data.init_args.image_size={16 if scale.quick else GPU_IMAGE_SIZE}",
                *widths,
                "--model.init_args.ema_decay=0.999",  # the EMA's standing batch-norm statistics go through it too
                "--trainer.sync_batchnorm=true",
                "--trainer.devices=1",
                f"--trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
                f"--trainer.strategy={strategy}",
                "--trainer.max_epochs=1",
                f"--trainer.limit_train_batches={scale.cli_batches}",
                "--trainer.logger=false",
                "--trainer.enable_progress_bar=false",
                f"--trainer.default_root_dir={root}",
                # The end-of-training FID/KID on 100 samples, not one per real image.
                "--generative_metrics.num_samples=100",
                "--generative_metrics.kid_subset_size=50",
            ]
        )
    model = cli.model
    sync_layers = sum(isinstance(module, nn.SyncBatchNorm) for module in model.modules())
    problems = []
    if model.g_steps != scale.cli_batches:
        problems.append(f"{model.g_steps} G steps instead of {scale.cli_batches}")
    if not all(p.isfinite().all() for p in model.parameters()):
        problems.append("weights not finite")
    if strategy == "ddp" and not sync_layers:
        problems.append("no SyncBatchNorm layers under DDP")
    return {
        "strategy": type(cli.trainer.strategy).__name__,
        "sync_batchnorm_layers": sync_layers,
        "g_steps": model.g_steps,
        "problems": problems,
        "passed": not problems,
    }


# -------------------------------------------------------------------------------------------- budget and output
@dataclass
class Checks:
    """The checks' results, saved after every check, and the time budget they share."""

    args: argparse.Namespace
    scale: Scale
    start: float = field(default_factory=time.monotonic)
    longest_s: float = 0.0
    results: dict[str, Any] = field(default_factory=lambda: {section: {} for section in SECTIONS})
    skipped: list[str] = field(default_factory=list)

    def run(self, path: tuple[str, ...], measure: Callable[[], dict[str, Any]], reserve_s: float = 0.0) -> None:
        """Run ``measure`` and keep its result under ``path`` (section, ...), or record it as skipped when the time
        left is less than the longest check so far or ``reserve_s``."""
        slot = self.results
        for key in path[:-1]:
            slot = slot.setdefault(key, {})
        reason = self.unavailable(path) or self.out_of_time(reserve_s)
        if reason:
            slot[path[-1]] = {"skipped": reason}
            self.skipped.append("/".join(path))
        else:
            began = time.monotonic()
            try:
                result = measure()
            except Exception as error:  # a failing check is a result; the others still run
                traceback.print_exc()
                result = {"problems": [f"raised {type(error).__name__}: {error}"], "passed": False}
            result["started_s"], result["seconds"] = began - self.start, time.monotonic() - began
            self.longest_s = max(self.longest_s, result["seconds"])
            slot[path[-1]] = result
            print(f"{'/'.join(path)}: {'passed' if result['passed'] else 'FAILED'} in {result['seconds']:.1f} s")
        self.save()

    def unavailable(self, path: tuple[str, ...]) -> str | None:
        if self.args.device == "cpu" and path == ("sync_batchnorm", "ddp"):
            return "needs CUDA: torch's SyncBatchNorm under DDP runs on GPU modules only"
        return None

    def out_of_time(self, reserve_s: float) -> str | None:
        left = self.args.budget_s - (time.monotonic() - self.start)
        if left < max(self.longest_s, reserve_s):
            return f"time budget: {max(left, 0):.0f} s of {self.args.budget_s:.0f} s left"
        return None

    def figures(self) -> dict[str, Any]:
        checks = walk(self.results)
        failed = ["/".join(path) for path, result in checks if result.get("passed") is False]
        return {
            "device": self.args.device,
            "quick": self.scale.quick,
            "scale": vars(self.scale),
            "budget_s": self.args.budget_s,
            "elapsed_s": time.monotonic() - self.start,
            "tf32": {"cudnn": torch.backends.cudnn.allow_tf32, "matmul": torch.get_float32_matmul_precision()},
            "sections": self.results,
            "dcgan64_target": dcgan64_target(self.results["dcgan64"]),
            "skipped": self.skipped,
            "failed": failed,
            "passed": not failed and any("passed" in result for _, result in checks),
        }

    def save(self) -> Path:
        figures = self.figures()
        return save_result(NAME, markdown(figures), figures, self.args.out)


def walk(tree: dict[str, Any], at: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """(path, result) of every check in the results' tree: the dicts that are a result or a skip."""
    found = []
    for key, value in tree.items():
        if isinstance(value, dict) and ("passed" in value or "skipped" in value):
            found.append(((*at, key), value))
        elif isinstance(value, dict):
            found += walk(value, (*at, key))
    return found


def verdict(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return f"skipped ({result['skipped']})"
    return "passed" if result["passed"] else f"FAIL ({'; '.join(result['problems'])})"


def cell(result: dict[str, Any] | None, key: str) -> str:
    """A result's figure for a table, followed by why it failed or, in place of it, why it was skipped."""
    if result is None:
        return "-"
    if "skipped" in result:
        return verdict(result)
    figure = f"{result[key]:.1f}" if key in result else ""
    return figure if result["passed"] else f"{figure} {verdict(result)}".strip()


def fp16_line(title: str, result: dict[str, Any], details: str) -> str:
    if "g_steps" not in result:
        return f"- {title}: {verdict(result)}"
    return (
        f"- {title}: {verdict(result)}. {details}; {result['skipped_steps_in_warmup']} optimizer steps skipped in "
        f"warm-up, {result['skipped_steps_after_warmup']} after (final loss scale {result['loss_scale']:g}); "
        f"{result['ms_per_g_step']:.1f} ms per G step."
    )


def markdown(figures: dict[str, Any]) -> str:
    sections, scale = figures["sections"], Scale(**figures["scale"])
    on_gpu = figures["device"] == "cuda"
    lines = [
        "## GPU check: precisions, the GPU recipe, fp16 and sync_batchnorm",
        "",
        f"On {torch.cuda.get_device_name() if on_gpu else 'a CPU'}{' (--quick)' if scale.quick else ''}: "
        f"{figures['elapsed_s']:.0f} s of a {figures['budget_s']:.0f} s "
        f"budget. Step times are medians over {scale.steps} G steps after {scale.warmup} untimed. A check fails on a "
        "non-finite logged value or weight, or under 16-mixed on an optimizer step skipped after the warm-up (seen "
        f"as the GradScaler's scale halving). TF32: cuDNN {figures['tf32']['cudnn']}, float32 matmul precision "
        f"{figures['tf32']['matmul']!r}.",
    ]
    if scale.quick:
        lines += [
            "",
            "--quick: tiny models and batches, so these figures show that every path runs, not what it gains on a "
            "GPU. 16-mixed is the CPU's fp16 autocast (which, unlike CUDA's, keeps pow, rsqrt and sums in fp16) with "
            f"the GradScaler starting at {CPU_FP16_INIT_SCALE:g}; torch_compile uses the {scale.compile_backend} "
            "backend.",
        ]
    if sections["step_times"]:
        sizes = (
            "the registry's tiny models and batches"
            if scale.quick
            else (
                f"batch {scale.batch_size}, {GPU_IMAGE_SIZE}x{GPU_IMAGE_SIZE} RGB (the CIFAR-10 ResNet 32x32), the "
                "classes' default widths"
            )
        )
        lines += [
            "",
            f"### Step time per variant (ms per G step; {sizes})",
            "",
            f"| variant | {' | '.join(PRECISIONS)} |",
            f"|---|{'---|' * len(PRECISIONS)}",
        ]
        for name, by_precision in sections["step_times"].items():
            lines.append(f"| {name} | {' | '.join(cell(by_precision.get(p), 'ms_per_g_step') for p in PRECISIONS)} |")
    if sections["dcgan64"]:
        dcgan = sections["dcgan64"]
        lines += [
            "",
            f"### DCGAN-64 (64x64 RGB, {scale.dcgan_features} features, batch {scale.dcgan_batch_size})",
            "",
            "| setting | images/s | ms per G step | warm-up (s) | check |",
            "|---|---|---|---|---|",
        ]
        for setting in SETTINGS:
            result = dcgan.get(setting, {"skipped": "not run"})
            figures_of = [f"{result[key]:.1f}" if key in result else "-" for key in DCGAN_COLUMNS]
            lines.append(f"| {setting} | {' | '.join(figures_of)} | {verdict(result)} |")
        target = figures["dcgan64_target"]
        lines.append("")
        if target is None:
            lines.append(f"Target, bf16-mixed + channels_last at least {TARGET_SPEEDUP:.0f}x fp32 eager: not measured.")
        else:
            met = ("meets" if target["met"] else "misses") if on_gpu else "not checked on a CPU"
            lines.append(
                f"bf16-mixed + channels_last against fp32 eager: {target['speedup']:.2f}x (target "
                f"{TARGET_SPEEDUP:.0f}x: {met})."
            )
    penalty, progan = sections["wgan_gp_penalty"].get("16-mixed"), sections["progan"].get("16-mixed")
    if penalty or progan:
        lines += ["", "### fp16 edge cases (16-mixed)", ""]
    if penalty:
        p = penalty.get("penalty_on_trained_critic", {})
        lines.append(
            fp16_line(
                "WGAN-GP's gradient penalty",
                penalty,
                f"The trained critic's penalty under fp16 autocast {p.get('float16', math.nan):.4g}, in fp32 "
                f"{p.get('float32', math.nan):.4g}",
            )
        )
    if progan:
        size = progan.get("final_resolution")
        lines.append(
            fp16_line(
                "ProGAN growing from 4x4",
                progan,
                f"Reached {size}x{size} at alpha {progan.get('final_alpha', math.nan):.2f}",
            )
        )
    if sections["sync_batchnorm"]:
        lines += ["", "### `--trainer.sync_batchnorm true --trainer.devices 1` through the command line", ""]
        for strategy, result in sections["sync_batchnorm"].items():
            done = (
                f"{result['strategy']}, {result['sync_batchnorm_layers']} SyncBatchNorm layers, {result['g_steps']} "
                f"G steps in {result['seconds']:.1f} s: "
                if "strategy" in result
                else ""
            )
            lines.append(f"- `--trainer.strategy {strategy}`: {done}{verdict(result)}")
    if figures["skipped"]:
        lines += ["", f"Skipped: {', '.join(figures['skipped'])}."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------- main
def run_sections(checks: Checks, sections: list[str]) -> None:
    device, scale = checks.args.device, checks.scale
    if "dcgan64" in sections:
        for setting, (_, options) in SETTINGS.items():
            reserve = scale.compile_reserve_s if options.get("torch_compile") else 0.0
            checks.run(("dcgan64", setting), partial(check_dcgan64, setting, device, scale), reserve)
    if "wgan_gp_penalty" in sections:
        checks.run(("wgan_gp_penalty", "16-mixed"), partial(check_wgan_gp_penalty, device, scale))
    if "progan" in sections:
        checks.run(("progan", "16-mixed"), partial(check_progan, device, scale))
    if "sync_batchnorm" in sections:
        for strategy in ("auto", "ddp"):
            checks.run(("sync_batchnorm", strategy), partial(check_sync_batchnorm, device, scale, strategy))
    if "step_times" in sections:
        for name in VARIANTS:
            for label, precision in PRECISIONS.items():
                checks.run(("step_times", name, label), partial(check_step_time, name, precision, device, scale))


def check_step_time(name: str, precision: str, device: str, scale: Scale) -> dict[str, Any]:
    # ProGAN: one batch per fade-in and stabilisation, so that it times its last resolution after the warm-up.
    growth = {"fade_images": scale.batch_size, "stabilize_images": scale.batch_size} if "progan" in name else {}
    model = model_for(name, scale, **growth)
    result, _ = train(model, batch_for(name, model, scale), device, precision, scale)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps (for --device cpu)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help=f"folder for {NAME}.json")
    parser.add_argument("--budget-s", type=float, default=450.0, help="start no check past this many seconds")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here; use --device cpu --quick")
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    else:
        # Tiny ops gain nothing from more threads, and on a shared machine they spin against other work (here a
        # tenfold slowdown).
        torch.set_num_threads(1)
    checks = Checks(args, QUICK if args.quick else GPU)
    run_sections(checks, args.sections)
    path = checks.save()
    figures = checks.figures()
    print(markdown(figures))
    failed = figures["failed"]
    print(f"wrote {path}; {'all checks passed' if not failed else 'FAILED: ' + ', '.join(failed)}")


if __name__ == "__main__":
    main()
