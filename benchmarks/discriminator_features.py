"""The discriminator as a feature extractor (Radford et al. 2015, arXiv 1511.06434, section 5.1), on real MNIST.

Trains a narrow DCGAN briefly on MNIST's 60,000 training images (no labels), then fits a linear classifier on
D's pooled features (every convolutional block max-pooled to 4x4, concatenated: ``DCGANDiscriminator.
pooled_features``) of 1,000 labelled training images and measures its accuracy on MNIST's 10,000 test images.
The same is done with the same network at its random initialisation (before training) and with raw pixels,
each for several random draws of the 1,000 labelled images. The classifier is logistic regression on
standardised features, its L2 penalty chosen by 5-fold cross-validation on the 1,000 images (the paper used an
L2-SVM; both are linear).

    OMP_NUM_THREADS=1 python -m benchmarks.discriminator_features --root ../shared/data
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from lightning.pytorch import seed_everything
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from benchmarks.results import save_result
from benchmarks.training import MNIST_SIZES, fit_quietly, mnist_tensors
from datamodules import MNISTDataModule
from lightning_gans.models import DCGAN
from lightning_gans.nn import DCGANDiscriminator


def mnist_dcgan(features: int) -> DCGAN:
    """A DCGAN for 32x32 MNIST with G and D ``features`` wide (64 in the paper)."""
    return DCGAN(image_size=32, channels=1, generator_features=features, discriminator_features=features)


def train(model: DCGAN, root: str, generator_steps: int, batch_size: int = 64) -> DCGAN:
    """Train ``model`` on MNIST's training images for ``generator_steps`` G updates (and as many D updates)."""
    fit_quietly(
        model,
        MNISTDataModule(root=root, download=False, image_size=32, batch_size=batch_size, num_workers=0),
        generator_steps,
    )
    return model


@torch.no_grad()
def pooled_features(discriminator: DCGANDiscriminator, images: Tensor, batch_size: int = 500) -> np.ndarray:
    discriminator.eval()
    return torch.cat([discriminator.pooled_features(batch) for batch in images.split(batch_size)]).numpy()


def linear_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray) -> float:
    classifier = make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(
            Cs=np.logspace(-4, 1, 6).tolist(),
            cv=5,
            max_iter=2000,
            scoring="accuracy",
            l1_ratios=(0.0,),
            use_legacy_attributes=False,
        ),
    )
    return float(classifier.fit(train, train_labels).score(test, test_labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder that contains MNIST/raw")
    parser.add_argument("--generator-steps", type=int, default=1500, help="G updates of the DCGAN's training")
    parser.add_argument("--features", type=int, default=32, help="width of G's last and D's first hidden layer")
    parser.add_argument("--labelled", type=int, default=1000, help="labelled training images for the classifier")
    parser.add_argument("--draws", type=int, default=3, help="random draws of the labelled images")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    seed_everything(0)
    model = mnist_dcgan(args.features)
    initial_discriminator = copy.deepcopy(model.discriminator)
    train(model, args.root, args.generator_steps)
    minutes = (time.perf_counter() - started) / 60
    print(f"trained {args.generator_steps} G steps in {minutes:.1f} min")

    test_images, test_labels = mnist_tensors(args.root, train=False)
    test_labels = test_labels.numpy()
    extractors = {
        "D features, trained": lambda images: pooled_features(model.discriminator, images),
        "D features, random init": lambda images: pooled_features(initial_discriminator, images),
        "raw pixels (32x32)": lambda images: images.flatten(1).numpy(),
    }
    test_features = {name: extract(test_images) for name, extract in extractors.items()}
    accuracies: dict[str, list[float]] = {name: [] for name in extractors}
    for draw in range(args.draws):
        indices = np.random.default_rng(draw).choice(MNIST_SIZES[True], size=args.labelled, replace=False).tolist()
        train_images, train_labels = mnist_tensors(args.root, train=True, indices=indices)
        for name, extract in extractors.items():
            accuracy = linear_accuracy(extract(train_images), train_labels.numpy(), test_features[name], test_labels)
            accuracies[name].append(accuracy)
            print(f"draw {draw}: {name:<24} {100 * accuracy:.2f}%", flush=True)

    dims = {name: features.shape[1] for name, features in test_features.items()}
    rows = [
        f"| {name} | {dims[name]} | {100 * np.mean(acc):.2f} ± {100 * np.std(acc):.2f} |"
        for name, acc in accuracies.items()
    ]
    markdown = "\n".join(
        [
            "### The discriminator as a feature extractor (MNIST)",
            "",
            f"A DCGAN (width {args.features}, 32x32) trained for {args.generator_steps} generator steps on MNIST's "
            f"training images without labels ({minutes:.1f} min on {args.threads} CPU thread(s)); a linear "
            f"classifier (logistic regression, L2 penalty by 5-fold CV) fitted on the features of {args.labelled} "
            f"labelled training images, accuracy on the 10,000 test images, mean ± std over {args.draws} draws "
            "of the labelled images. D's features: every conv block max-pooled to 4x4 and concatenated "
            "(the paper's section 5.1).",
            "",
            "| features | dimensions | test accuracy (%) |",
            "| --- | --- | --- |",
            *rows,
        ]
    )
    print(markdown)
    figures = {
        "generator_steps": args.generator_steps,
        "features": args.features,
        "labelled": args.labelled,
        "training_minutes": minutes,
        "dimensions": dims,
        "accuracy": accuracies,
    }
    save_result("discriminator_features", markdown, figures)


if __name__ == "__main__":
    main()
