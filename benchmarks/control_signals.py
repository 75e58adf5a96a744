"""Do BEGAN's and ProGAN's control signals behave as their papers describe? Short CPU runs on real MNIST.

    python benchmarks/control_signals.py --root ../shared/data

BEGAN (arXiv 1703.10717) at 32x32 with narrow networks and the paper's settings otherwise (gamma 0.5,
lambda_k 0.001, Adam lr 1e-4, batch 16): prints k_t's range, which must stay in [0, 1], and the mean of
the convergence measure M_global over successive windows of steps, which should fall.

ProGAN (arXiv 1710.10196) grows 4x4 -> 32x32 with short phases and narrow networks, the paper's settings
otherwise (WGAN-GP with drift, Adam lr 1e-3 betas (0, 0.99), EMA). At every phase switch (a fade-in
starting or ending) it compares the critic loss in the steps after the switch with the steps before:
``spike`` is the largest |d_loss| after the switch divided by the mean |d_loss| before it. The same run with
an instant switch (``--no-fade``: each new level appears in a single batch) shows what the fade prevents.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything

from datamodules import MNISTDataModule
from lightning_gans.models import BEGAN, ProGAN

BATCH = 16


class Record(Callback):
    """Every logged training value, per batch."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: object) -> None:
        self.rows.append({name: value.item() for name, value in trainer.callback_metrics.items()})

    def series(self, name: str) -> np.ndarray:
        # Lightning's callback_metrics lack the values logged before the first batch's last optimizer step.
        return np.array([row.get(name, np.nan) for row in self.rows])


def train(model: LightningModule, root: str, steps: int) -> Record:
    record = Record()
    trainer = Trainer(
        accelerator="cpu",
        max_steps=2 * steps,  # global_step counts the D and the G step of each batch
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[record],
    )
    data = MNISTDataModule(root=root, download=False, image_size=32, batch_size=BATCH, num_workers=0)
    trainer.fit(model, datamodule=data)
    return record


def began(root: str, steps: int, windows: int) -> None:
    seed_everything(0)
    model = BEGAN(image_size=32, channels=1, latent_dim=32, embedding_dim=32, filters=16)
    start = time.perf_counter()
    record = train(model, root, steps)
    k, m_global = record.series("train/k"), record.series("train/m_global")
    print(f"BEGAN, MNIST 32x32, {len(k)} steps of batch {BATCH} in {time.perf_counter() - start:.0f} s")
    print(f"  k_t: min {k.min():.5f}, max {k.max():.5f}, final {k[-1]:.5f} (must stay in [0, 1])")
    print("  steps          mean M_global   mean k_t")
    for chunk in np.array_split(np.arange(len(k)), windows):
        print(f"  {chunk[0]:5d}-{chunk[-1]:5d}    {m_global[chunk].mean():.4f}          {k[chunk].mean():.5f}")


def progan(root: str, phase_images: int, fade: bool, window: int) -> None:
    seed_everything(0)
    fade_images = phase_images if fade else BATCH  # no fade: the new level is fully in after one batch
    model = ProGAN(
        image_size=32,
        channels=1,
        latent_dim=64,
        feature_base=512,
        feature_max=64,
        fade_images=fade_images,
        stabilize_images=phase_images,
        batch_sizes=None,
    )
    steps = (phase_images + 3 * (fade_images + phase_images)) // BATCH + window
    start = time.perf_counter()
    record = train(model, root, steps)
    d_loss, resolution, alpha = (record.series(f"train/{name}") for name in ("d_loss", "resolution", "alpha"))
    print(
        f"ProGAN, MNIST 4x4 -> 32x32, {'fade' if fade else 'no fade'}: {len(d_loss)} steps of batch {BATCH} in "
        f"{time.perf_counter() - start:.0f} s; final resolution {resolution[-1]:.0f}, alpha {alpha[-1]:.2f}, "
        f"{model.images_seen} images"
    )
    phase = list(zip(resolution, alpha >= 1.0, strict=True))
    switches = [step for step in range(1, len(phase)) if phase[step] != phase[step - 1]]
    # The same statistic at every step at least a window away from a switch: how large it gets by noise alone.
    quiet = [s for s in range(window, len(d_loss) - window) if all(abs(s - switch) > window for switch in switches)]
    noise = np.array([spike(d_loss, s, window) for s in quiet])
    print(f"  switch at step  to            mean |d_loss| {window} before   max |d_loss| {window} after   spike")
    for step in switches:
        size, stable = phase[step]
        what = f"{size:.0f}x{size:.0f} {'stable' if stable else 'fade'}"
        before, after = window_means(d_loss, step, window)
        print(f"  {step:14d}  {what:12s}  {before:27.3f}   {after:24.3f}   {after / before:.2f}")
    print(
        f"  largest spike at a switch: {max(spike(d_loss, step, window) for step in switches):.2f}; the same "
        f"statistic away from switches ({len(noise)} steps): median {np.median(noise):.2f}, 95th percentile "
        f"{np.percentile(noise, 95):.2f}, max {noise.max():.2f}"
    )


def window_means(values: np.ndarray, step: int, window: int) -> tuple[float, float]:
    """Mean |value| in the ``window`` steps before ``step`` and max |value| in the ``window`` steps from it."""
    return np.nanmean(np.abs(values[max(0, step - window) : step])), np.nanmax(np.abs(values[step : step + window]))


def spike(values: np.ndarray, step: int, window: int) -> float:
    before, after = window_means(values, step, window)
    return after / before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder that holds MNIST/raw")
    parser.add_argument("--began-steps", type=int, default=1000)
    parser.add_argument("--progan-phase-images", type=int, default=1600, help="images per fade and per stabilisation")
    parser.add_argument("--window", type=int, default=20, help="steps compared before and after a phase switch")
    parser.add_argument("--no-fade", action="store_true", help="also run ProGAN with instant level switches")
    parser.add_argument("--only", choices=["began", "progan"], help="run one of the two models")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the CPU is shared; more threads only spin
    if args.only != "progan":
        began(args.root, args.began_steps, windows=6)
    if args.only != "began":
        progan(args.root, args.progan_phase_images, fade=True, window=args.window)
        if args.no_fade:
            progan(args.root, args.progan_phase_images, fade=False, window=args.window)


if __name__ == "__main__":
    main()
