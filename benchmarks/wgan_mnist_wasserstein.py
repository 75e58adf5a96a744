"""Does WGAN's critic estimate fall as the samples improve? A short run on real MNIST, printed as a table.

For windows of generator steps it prints the mean of ``critic/wasserstein`` (the critic's estimate
E[f(x)] - E[f(G(z))]) next to a sample-quality proxy: the Fréchet distance between 2,000 real and
2,000 generated images in the space of the real images' 50 leading principal components (no
Inception network is needed, so it runs offline). Both should fall together. Sample grids are saved
beside the table.

    python benchmarks/wgan_mnist_wasserstein.py --root ../shared/data --generator-steps 300
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from scipy import linalg
from torchvision.utils import save_image

from datamodules import MNISTDataModule
from lightning_gans.models import WGAN


class PixelFrechetDistance:
    """Fréchet distance between Gaussians fitted to images projected on the real data's principal components."""

    def __init__(self, real: torch.Tensor, components: int = 50) -> None:
        flat = real.flatten(1).double()
        self.centre = flat.mean(0)
        _, _, v = torch.pca_lowrank(flat - self.centre, q=components, center=False)
        self.basis = v
        self.real_mean, self.real_cov = self.moments(real)

    def moments(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        projected = ((images.flatten(1).double() - self.centre) @ self.basis).numpy()
        return projected.mean(0), np.cov(projected, rowvar=False)

    def __call__(self, images: torch.Tensor) -> float:
        mean, cov = self.moments(images)
        covmean = linalg.sqrtm(self.real_cov @ cov).real
        return float(((mean - self.real_mean) ** 2).sum() + np.trace(self.real_cov + cov - 2 * covmean))


class Probe(Callback):
    """Collects the critic's estimate over each window of ``every`` generator steps; at the end of a
    window prints it with the proxy on 2,000 samples and saves a grid; stops after ``last`` generator steps."""

    def __init__(self, metric: PixelFrechetDistance, every: int, last: int, out: Path) -> None:
        self.metric, self.every, self.last, self.out = metric, every, last, out
        self.estimates: list[float] = []
        self.probed: set[int] = set()

    def on_train_batch_end(self, trainer: Trainer, pl_module: WGAN, *args: object) -> None:
        step = pl_module.g_steps
        self.estimates.append(trainer.callback_metrics["critic/wasserstein"].item())
        if step % self.every or step in self.probed:
            return
        self.probed.add(step)
        samples = torch.cat([pl_module.sample(500, torch.Generator().manual_seed(i)) for i in range(4)]).cpu()
        save_image(samples[:64], self.out / f"samples_g{step:05d}.png", normalize=True, value_range=(-1, 1))
        window = f"{max(step - self.every, 0):>5}-{step:<6}"
        print(f"{window} {np.mean(self.estimates):>26.4f} {self.metric(samples):>34.2f}", flush=True)
        self.estimates = []
        if step >= self.last:
            trainer.should_stop = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder that contains MNIST/raw")
    parser.add_argument("--generator-steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=50, help="generator steps per row of the table")
    parser.add_argument("--burn-in", action="store_true", help="WGAN(critic_burn_in=True): the authors' schedule")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads for torch")
    parser.add_argument("--features", type=int, default=64, help="width of G and the critic (64 is the paper's)")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "wgan_mnist"), help="folder for grids")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    seed_everything(0)

    data = MNISTDataModule(root=args.root, download=False, image_size=32, batch_size=64, num_workers=0)
    data.setup("fit")
    real = torch.stack([data.train_set[i][0] for i in torch.randperm(len(data.train_set))[:2000].tolist()])
    probe = Probe(PixelFrechetDistance(real), args.every, args.generator_steps, out)
    print(f"{'G steps':>12} {'critic/wasserstein (mean)':>26} {'pixel-PCA Frechet distance at end':>34}")
    width = {"generator_features": args.features, "discriminator_features": args.features}
    model = WGAN(image_size=32, channels=1, critic_burn_in=args.burn_in, **width)
    Trainer(
        accelerator="cpu",
        max_epochs=-1,
        logger=False,
        callbacks=[probe],
        log_every_n_steps=1,  # the probe reads the critic's estimate after every batch
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).fit(model, datamodule=data)
    print(f"grids in {out}")


if __name__ == "__main__":
    main()
