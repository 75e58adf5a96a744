"""Does ConditionalGAN draw the digit it is asked for? A short CPU run on real MNIST, scored by the digit classifier.

Trains narrow ConditionalGAN networks on MNIST (32x32) for a few minutes of CPU, then asks for
``--samples-per-class`` images of every digit and reports the share that the shipped digit classifier
(``lightning_gans.metrics.pretrained_digit_classifier``) labels as the requested digit, overall and per
digit, beside the classifier's accuracy on real MNIST test digits (the ceiling). The issue's target is
>= 90%. The final class grid (one row per digit, one fixed z per column) is saved under benchmarks/results/.

    OMP_NUM_THREADS=1 python -m benchmarks.cgan_mnist --root ../shared/data
"""

from __future__ import annotations

import argparse

import torch
from lightning.pytorch import seed_everything
from torchvision.utils import save_image

from benchmarks.results import RESULTS_DIR, save_result
from benchmarks.training import fit_quietly, mnist_tensors
from datamodules import MNISTDataModule
from lightning_gans.callbacks import ClassGrid
from lightning_gans.metrics import pretrained_digit_classifier
from lightning_gans.models import ConditionalGAN

IMAGE_SIZE = 32


def requested_class_accuracy(model: ConditionalGAN, samples_per_class: int, seed: int) -> tuple[float, list[float]]:
    """The share of samples that the digit classifier labels as the class they were asked for, and per class."""
    labels = torch.arange(model.num_classes).repeat_interleave(samples_per_class)
    samples = model.sample(len(labels), generator=torch.Generator().manual_seed(seed), labels=labels)
    hits = (pretrained_digit_classifier().predict(samples) == labels).float()
    return hits.mean().item(), hits.view(model.num_classes, samples_per_class).mean(1).tolist()


def real_test_accuracy(root: str, n: int) -> float:
    """The classifier's accuracy on the first n real MNIST test digits, resized as the training data is."""
    images, labels = mnist_tensors(root, train=False, indices=range(n))
    predicted = pretrained_digit_classifier().predict(images)
    return (predicted == labels).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder that contains MNIST/raw")
    parser.add_argument("--generator-steps", type=int, default=2000)
    parser.add_argument("--features", type=int, default=16, help="width of G's last and D's first layer")
    parser.add_argument("--embedding-dim", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4, help="Adam's learning rate for G and D (beta1 0.5)")
    parser.add_argument("--ema-decay", type=float, default=0.999, help="EMA of G's weights for sampling")
    parser.add_argument("--samples-per-class", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)

    data = MNISTDataModule(
        root=args.root, download=False, image_size=IMAGE_SIZE, batch_size=args.batch_size, num_workers=0
    )
    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": args.lr, "betas": [0.5, 0.999]}}
    model = ConditionalGAN(
        image_size=IMAGE_SIZE,
        channels=1,
        embedding_dim=args.embedding_dim,
        generator_features=args.features,
        discriminator_features=args.features,
        ema_decay=args.ema_decay,
        optimizer_g=adam,
        optimizer_d=adam,
    )
    train_seconds = fit_quietly(model, data, args.generator_steps)

    accuracy, per_class = requested_class_accuracy(model, args.samples_per_class, args.seed)
    ceiling = real_test_accuracy(args.root, 1000)
    grid_path = RESULTS_DIR / "cgan_mnist_class_grid.png"
    grid_path.parent.mkdir(parents=True, exist_ok=True)
    save_image(ClassGrid(samples_per_class=10, seed=args.seed).grid(model), grid_path)

    samples = args.samples_per_class * model.num_classes
    print(f"generator steps {model.g_steps}, batch {args.batch_size}, features {args.features}, threads {args.threads}")
    print(f"training wall time {train_seconds:.0f} s")
    print(f"classified as the requested digit: {accuracy:.1%} of {samples} samples (target >= 90%)")
    print("per digit: " + "  ".join(f"{digit}: {share:.0%}" for digit, share in enumerate(per_class)))
    print(f"classifier accuracy on 1000 real MNIST test digits: {ceiling:.1%}")
    print(f"class grid: {grid_path}")

    markdown = "\n".join(
        [
            "### Conditional GAN on MNIST: samples of the requested digit",
            "",
            f"ConditionalGAN (DCGAN nets of width {args.features}, label embedding of {args.embedding_dim}, batch "
            f"{args.batch_size}, Adam lr {args.lr:g}, EMA decay {args.ema_decay}) trained for {model.g_steps} "
            "generator steps on real MNIST at 32x32 "
            f"({train_seconds:.0f} s on {args.threads} CPU thread(s)). Of {samples} samples asked for by digit "
            f"({args.samples_per_class} each), the shipped digit classifier labels **{accuracy:.1%}** as the "
            f"requested digit (target >= 90%; the classifier scores {ceiling:.1%} on real test digits).",
            "",
            "| digit | " + " | ".join(str(digit) for digit in range(len(per_class))) + " |",
            "|---|" + "---|" * len(per_class),
            "| share | " + " | ".join(f"{share:.0%}" for share in per_class) + " |",
            "",
            f"![class grid](benchmarks/results/{grid_path.name})",
        ]
    )
    figures = {
        "requested_class_accuracy": accuracy,
        "per_class_accuracy": per_class,
        "classifier_real_test_accuracy": ceiling,
        "generator_steps": model.g_steps,
        "train_seconds": train_seconds,
        "features": args.features,
        "embedding_dim": args.embedding_dim,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "ema_decay": args.ema_decay,
        "threads": args.threads,
        "samples": samples,
    }
    save_result("cgan_mnist", markdown, figures)


if __name__ == "__main__":
    main()
