"""Does InfoGAN's categorical code learn the digits, without labels? A short CPU run on real MNIST.

Trains narrow InfoGAN networks on MNIST (32x32) for a few minutes of CPU, then draws ``--samples-per-code``
images for every value of the 10-valued categorical code (noise and continuous codes random), labels them
with the shipped digit classifier (``lightning_gans.metrics.pretrained_digit_classifier``), maps each code
value to its samples' majority label and reports the agreement: the share of samples whose label is their
code value's majority label. It also says how many distinct digits the 10 values map to (10 when the code
has found all digits), how often Q reads the code back from the samples, and how well the code clusters
real test digits (Q's reading of each image, mapped to its majority true label). The issue's target is an
agreement >= 70%. The code traversal grid (a row per categorical value, continuous code 0 swept from -2 to
2) is saved under benchmarks/results/.

    OMP_NUM_THREADS=1 python -m benchmarks.infogan_mnist --root ../shared/data
"""

from __future__ import annotations

import argparse

import torch
from lightning.pytorch import seed_everything
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torchvision.utils import save_image

from benchmarks.results import RESULTS_DIR, save_result
from benchmarks.training import fit_quietly, mnist_tensors
from datamodules import MNISTDataModule
from lightning_gans.callbacks import CodeTraversalGrid
from lightning_gans.metrics import pretrained_digit_classifier
from lightning_gans.models import InfoGAN

IMAGE_SIZE = 32


def majority_agreement(codes: Tensor, labels: Tensor, values: int) -> tuple[float, list[int]]:
    """Map each code value to the most common label among its items; the share of items whose label is
    their value's majority label, and the map (value -> label)."""
    mapping = [int(labels[codes == value].mode().values) if (codes == value).any() else -1 for value in range(values)]
    agreement = (torch.tensor(mapping)[codes] == labels).float().mean().item()
    return agreement, mapping


def one_to_one_agreement(codes: Tensor, labels: Tensor, values: int) -> float:
    """Like ``majority_agreement`` but each label may serve one code value only (the best such matching), so
    that a code whose values all give the same digit cannot score high."""
    counts = torch.zeros(values, int(labels.max()) + 1)
    counts.index_put_((codes, labels), torch.ones(len(codes)), accumulate=True)
    rows, columns = linear_sum_assignment(counts.numpy(), maximize=True)
    return counts[rows, columns].sum().item() / len(codes)


def samples_by_code(model: InfoGAN, per_value: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """``per_value`` samples for each value of categorical code 0, with random noise and continuous codes:
    (images, the code values they were drawn with, Q's reading of them)."""
    values = model.categorical_codes[0]
    noise, categorical, continuous = model.sample_codes(values * per_value, torch.Generator().manual_seed(seed))
    categorical[:, 0] = torch.arange(values).repeat_interleave(per_value)
    images = model.generate(model.latent_from_codes(noise, categorical, continuous))
    return images, categorical[:, 0], model.infer_codes(images)[0][:, 0]


def real_digit_clustering(model: InfoGAN, root: str, n: int) -> float:
    """How well Q's categorical reading of n real test digits predicts their labels, each value mapped to the
    majority label of the digits it is given to (the paper's unsupervised classification)."""
    images, labels = mnist_tensors(root, train=False, indices=range(n))
    codes = model.infer_codes(images)[0][:, 0]
    return majority_agreement(codes, labels, model.categorical_codes[0])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/data", help="folder that contains MNIST/raw")
    parser.add_argument("--generator-steps", type=int, default=2500)
    parser.add_argument("--features", type=int, default=16, help="width of G's last and D's first layer")
    parser.add_argument("--q-hidden", type=int, default=64, help="Q's hidden units")
    parser.add_argument("--noise-dim", type=int, default=62)
    parser.add_argument("--lambda-continuous", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--samples-per-code", type=int, default=100)
    parser.add_argument("--real-digits", type=int, default=2000, help="real test digits for the clustering score")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)

    data = MNISTDataModule(
        root=args.root, download=False, image_size=IMAGE_SIZE, batch_size=args.batch_size, num_workers=0
    )
    model = InfoGAN(
        image_size=IMAGE_SIZE,
        channels=1,
        noise_dim=args.noise_dim,
        lambda_continuous=args.lambda_continuous,
        generator_features=args.features,
        discriminator_features=args.features,
        q_hidden=args.q_hidden,
    )
    train_seconds = fit_quietly(model, data, args.generator_steps)

    values = model.categorical_codes[0]
    images, codes, read_back = samples_by_code(model, args.samples_per_code, args.seed)
    labels = pretrained_digit_classifier().predict(images)
    agreement, mapping = majority_agreement(codes, labels, values)
    distinct = len(set(mapping))
    one_to_one = one_to_one_agreement(codes, labels, values)
    q_accuracy = (read_back == codes).float().mean().item()
    clustering = real_digit_clustering(model, args.root, args.real_digits)
    grid_path = RESULTS_DIR / "infogan_mnist_traversal.png"
    grid_path.parent.mkdir(parents=True, exist_ok=True)
    save_image(CodeTraversalGrid(seed=args.seed).grid(model), grid_path)

    samples = values * args.samples_per_code
    print(f"generator steps {model.g_steps}, batch {args.batch_size}, features {args.features}, threads {args.threads}")
    print(f"training wall time {train_seconds:.0f} s")
    print(f"agreement with each code value's majority digit: {agreement:.1%} of {samples} samples (target >= 70%)")
    print("code value -> digit: " + "  ".join(f"{value}->{digit}" for value, digit in enumerate(mapping)))
    print(f"distinct digits the {values} code values map to: {distinct}")
    print(f"agreement when each digit may serve one code value only: {one_to_one:.1%}")
    print(f"Q reads the code back from the samples: {q_accuracy:.1%}")
    print(f"Q's code as a clustering of {args.real_digits} real test digits (majority-mapped): {clustering:.1%}")
    print(f"traversal grid: {grid_path}")

    markdown = "\n".join(
        [
            "### InfoGAN on MNIST: does the categorical code find the digits?",
            "",
            f"InfoGAN (DCGAN nets of width {args.features}, Q with {args.q_hidden} hidden units, noise "
            f"{args.noise_dim}, one 10-valued categorical and two continuous codes, lambda "
            f"{model.hparams.lambda_categorical}/{args.lambda_continuous}, batch {args.batch_size}) trained without "
            f"labels for {model.g_steps} generator steps on real MNIST at 32x32 ({train_seconds:.0f} s on "
            f"{args.threads} CPU thread(s)). For {args.samples_per_code} samples per code value, the shipped digit "
            f"classifier's label equals the code value's majority label for **{agreement:.1%}** of the {samples} "
            f"samples (target >= 70%); the {values} values map to **{distinct} distinct digits** (matching each digit "
            f"to one value only: {one_to_one:.1%}). Q reads the code "
            f"back from the samples {q_accuracy:.1%} of the time; as a clustering of {args.real_digits} real test "
            f"digits (each value mapped to its majority label) Q's code scores {clustering:.1%} (the paper: 95%).",
            "",
            "| code value | " + " | ".join(str(value) for value in range(values)) + " |",
            "|---|" + "---|" * values,
            "| majority digit | " + " | ".join(str(digit) for digit in mapping) + " |",
            "",
            f"![code traversal](benchmarks/results/{grid_path.name})",
        ]
    )
    figures = {
        "majority_agreement": agreement,
        "code_to_digit": mapping,
        "distinct_digits": distinct,
        "one_to_one_agreement": one_to_one,
        "q_read_back_accuracy": q_accuracy,
        "real_digit_clustering_accuracy": clustering,
        "generator_steps": model.g_steps,
        "train_seconds": train_seconds,
        "features": args.features,
        "q_hidden": args.q_hidden,
        "noise_dim": args.noise_dim,
        "lambda_continuous": args.lambda_continuous,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "samples": samples,
    }
    save_result("infogan_mnist", markdown, figures)


if __name__ == "__main__":
    main()
