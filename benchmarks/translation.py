"""Short CPU runs of pix2pix and CycleGAN on the two 32x32 tasks of benchmarks/translation_tasks.py.

- pix2pix, MNIST edges -> digits: the test set's mean L1 error |G(x) - y| (pixels in [-1, 1]) before and after
  training, against the identity baseline |x - y| (the edges as the answer). Passes if the trained error is
  below ``--l1_fraction`` of the baseline.
- CycleGAN, CIFAR-10 horses <-> deer: the test set's cycle-consistency error, the mean of
  |G_BA(G_AB(a)) - a| and |G_AB(G_BA(b)) - b|, before and after training. Passes if the trained error is below
  ``--cycle_fraction`` of the untrained one.

One CPU thread by default (``--threads``): on a shared machine more threads only wait for each other.

    python -m benchmarks.translation --cifar_archive ../shared/data/cifar10-jpeg.tar.gz --mnist_root ../shared/data
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from lightning.pytorch import seed_everything
from torch.utils.data import DataLoader

from benchmarks.training import fit_quietly
from benchmarks.translation_tasks import write_cifar_horse2deer, write_mnist_edges2digits
from datamodules import PairedImageDataModule, UnpairedImageDataModule
from lightning_gans.models import CycleGAN, Pix2Pix


def test_pairs(data: PairedImageDataModule | UnpairedImageDataModule) -> DataLoader:
    return DataLoader(data.test_dataset(), batch_size=250)


def pix2pix_test_l1(model: Pix2Pix, loader: DataLoader) -> tuple[float, float]:
    """(mean |G(x) - y|, mean |x - y|) over the test pairs."""
    torch.manual_seed(0)  # dropout noise
    errors, baseline = [], []
    for x, y in loader:
        errors.append((model.translate(x) - y).abs().flatten(1).mean(1))
        baseline.append((x - y).abs().flatten(1).mean(1))
    return torch.cat(errors).mean().item(), torch.cat(baseline).mean().item()


def cyclegan_test_cycle_l1(model: CycleGAN, loader: DataLoader) -> float:
    """Mean of |G_BA(G_AB(a)) - a| and |G_AB(G_BA(b)) - b| over the test images."""
    errors = []
    for a, b in loader:
        for images, there, back in ((a, "AtoB", "BtoA"), (b, "BtoA", "AtoB")):
            cycled = model.translate(model.translate(images, there), back)
            errors.append((cycled - images).abs().flatten(1).mean(1))
    return torch.cat(errors).mean().item()


def run_pix2pix(root: Path, steps: int, l1_fraction: float) -> None:
    seed_everything(0)
    data = PairedImageDataModule(
        root=str(root),
        dataset="mnist_edges2digits",
        download=False,
        channels=1,
        image_size=32,
        batch_size=32,
        num_workers=0,
    )
    model = Pix2Pix(image_size=32, channels=1, generator_features=32, discriminator_features=32, discriminator_layers=2)
    data.setup("fit")
    untrained, baseline = pix2pix_test_l1(model, test_pairs(data))
    seconds = fit_quietly(model, data, steps)
    trained, _ = pix2pix_test_l1(model, test_pairs(data))
    passed = trained < l1_fraction * baseline
    print(
        f"pix2pix MNIST edges->digits 32px: {steps} steps of 32 in {seconds:.0f} s; test L1 "
        f"untrained {untrained:.4f}, trained {trained:.4f}, identity baseline {baseline:.4f} "
        f"(trained/baseline {trained / baseline:.3f}, must be < {l1_fraction}): "
        f"{'PASS' if passed else 'FAIL'}"
    )


def run_cyclegan(root: Path, steps: int, cycle_fraction: float) -> None:
    seed_everything(0)
    data = UnpairedImageDataModule(
        root=str(root), dataset="cifar_horse2deer", download=False, image_size=32, batch_size=8, num_workers=0
    )
    model = CycleGAN(image_size=32, generator_features=16, discriminator_features=16, residual_blocks=3)
    data.setup("fit")
    untrained = cyclegan_test_cycle_l1(model, test_pairs(data))
    seconds = fit_quietly(model, data, steps)
    trained = cyclegan_test_cycle_l1(model, test_pairs(data))
    passed = trained < cycle_fraction * untrained
    print(
        f"CycleGAN CIFAR-10 horse<->deer 32px: {steps} steps of 8 in {seconds:.0f} s; test cycle L1 untrained "
        f"{untrained:.4f}, trained {trained:.4f} (trained/untrained {trained / untrained:.3f}, must be < "
        f"{cycle_fraction}): {'PASS' if passed else 'FAIL'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar_archive", type=Path, required=True)
    parser.add_argument("--mnist_root", type=Path, required=True)
    parser.add_argument("--pix2pix_steps", type=int, default=200)
    parser.add_argument("--cyclegan_steps", type=int, default=400)
    parser.add_argument("--l1_fraction", type=float, default=0.5)
    parser.add_argument("--cycle_fraction", type=float, default=0.5)
    parser.add_argument("--only", choices=["pix2pix", "cyclegan"], help="run one of the two")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (a shared machine: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as root:
        if args.only != "cyclegan":
            write_mnist_edges2digits(args.mnist_root, Path(root), n_train=5_000, n_test=500)
            run_pix2pix(Path(root), args.pix2pix_steps, args.l1_fraction)
        if args.only != "pix2pix":
            write_cifar_horse2deer(args.cifar_archive, Path(root), train_per_domain=1_000, test_per_domain=200)
            run_cyclegan(Path(root), args.cyclegan_steps, args.cycle_fraction)


if __name__ == "__main__":
    main()
