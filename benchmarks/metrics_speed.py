"""How fast GenerativeMetrics evaluates, against torch-fidelity on image files, and what it costs during training.

    python -m benchmarks.metrics_speed                         # random Inception weights (offline)
    python -m benchmarks.metrics_speed --inception_weights weights-inception-2015-12-05-6726825d.pth

1. The same N generated images (an untrained DCGAN at 32x32; its cost does not depend on its training) and the same
   N real images (scikit-learn's digits) are scored with FID, KID and IS on torch-fidelity's Inception-v3:
   - ours: one evaluation of the callback, with the real statistics already cached, as during training;
   - torch-fidelity: ``calculate_metrics`` on the two folders of PNGs, the usual workflow (the real folder's
     features recomputed, as torch-fidelity does for folders), and again with the real features in its cache
     (``input2_cache_name``), its best case.
   Writing the PNGs is timed separately and left out of torch-fidelity's time.
2. One evaluation of 10,000 samples as a share of a DCGAN epoch on MNIST (60,000 images, batch 128, the
   paper's widths), with Inception and with the digit classifier (``auto``'s choice for MNIST).

Without the real Inception file (it cannot be downloaded offline) a file of random values with the same
architecture is used: the timings are the real network's, the metric values are meaningless.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch_fidelity
from lightning.pytorch import Callback, Trainer
from torchvision.utils import save_image

from datamodules import DigitsDataModule, MNISTDataModule
from lightning_gans.callbacks import GenerativeMetrics
from lightning_gans.metrics import (
    DigitClassifier,
    FidelityMetrics,
    ReferenceStatistics,
    extract,
    images_of,
    reference_loader,
)
from lightning_gans.models import DCGAN
from tests.fake_inception import write_random_inception_weights

MNIST_TRAIN_IMAGES = 60_000
BATCH_SIZE = 128
TORCH_FIDELITY_KEYS = {
    "fid": "frechet_inception_distance",
    "kid_mean": "kernel_inception_distance_mean",
    "is_mean": "inception_score_mean",
}


def seconds(function: callable) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def prepared_callback(
    model: DCGAN, extractor: str, num_samples: int, kid_subset_size: int, weights: Path | None, cache: Path
) -> GenerativeMetrics:
    """A callback after one training step: extractor loaded, real statistics computed and cached (not timed)."""
    callback = GenerativeMetrics(
        feature_extractor=extractor,
        num_samples=num_samples,
        max_reference_samples=num_samples,
        kid_subset_size=kid_subset_size,
        every_n_epochs=None,
        inception_weights=None if weights is None else str(weights),
        cache_dir=str(cache),
    )
    trainer = Trainer(
        max_epochs=1,
        limit_train_batches=1,
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=DigitsDataModule(image_size=32))  # ends with one (untimed) evaluation
    return callback


def write_pngs(images: torch.Tensor, folder: Path) -> None:
    folder.mkdir(parents=True)
    for index, image in enumerate(images):
        save_image(image.add(1).div(2).clamp(0, 1), folder / f"{index:05d}.png")


def compare_with_torch_fidelity(args: argparse.Namespace, weights: Path, work: Path) -> float:
    model = DCGAN(image_size=32, channels=1)
    callback = prepared_callback(model, "inception", args.num_images, args.num_images, weights, work / "cache")
    ours_seconds, ours = seconds(lambda: callback.measure(model))

    # The very images the callback scored: its fixed-noise batches and its real subset.
    fakes = torch.cat(
        [model.sample(size, torch.Generator().manual_seed(seed)) for size, seed in callback.batches(0, 1)]
    )
    digits = DigitsDataModule(image_size=32)
    digits.setup()
    reals = torch.cat([images_of(b) for b in reference_loader(digits.train_set, 500, 0, args.num_images)])
    write_seconds, _ = seconds(lambda: (write_pngs(fakes, work / "fake"), write_pngs(reals, work / "real")))

    def torch_fidelity_run(**extra: object) -> dict:
        return torch_fidelity.calculate_metrics(
            input1=str(work / "fake"),
            input2=str(work / "real"),
            cuda=torch.cuda.is_available(),
            fid=True,
            kid=True,
            isc=True,
            kid_subset_size=args.num_images,
            feature_extractor_weights_path=str(weights),
            cache_root=str(work / "fidelity_cache"),
            verbose=False,
            **extra,
        )

    folders_seconds, theirs = seconds(torch_fidelity_run)
    torch_fidelity_run(input2_cache_name="digits")  # fills its cache
    cached_seconds, _ = seconds(lambda: torch_fidelity_run(input2_cache_name="digits"))

    n = args.num_images
    print(
        f"\n== FID + KID + IS of {n} generated vs {n} real images (32x32 grey), Inception-v3, CPU threads: "
        f"{torch.get_num_threads()} =="
    )
    print(f"ours (callback evaluation, real statistics cached): {ours_seconds:7.1f} s")
    print(
        f"torch-fidelity, PNG folders:                       {folders_seconds:7.1f} s   "
        f"ours is {folders_seconds / ours_seconds:.2f}x faster"
    )
    print(
        f"torch-fidelity, PNG folders, real features cached: {cached_seconds:7.1f} s   "
        f"ours is {cached_seconds / ours_seconds:.2f}x faster"
    )
    print(f"(writing the {2 * n} PNGs for torch-fidelity took {write_seconds:.1f} s more)")
    for key, their_key in TORCH_FIDELITY_KEYS.items():
        print(f"  {key:9s} ours {ours[key]:.6g}   torch-fidelity {theirs[their_key]:.6g}")
    return per_image_seconds(callback, model)


def per_image_seconds(callback: GenerativeMetrics, model: DCGAN) -> float:
    """Seconds to generate one image and extract its features, over the callback's batches."""
    with torch.no_grad():
        elapsed, _ = seconds(
            lambda: [
                extract(callback.extractor, model.sample(size, torch.Generator().manual_seed(seed)))
                for size, seed in callback.batches(0, 1)
            ]
        )
    return elapsed / callback.sample_count


class StepTimer(Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_end(self, *args: object) -> None:
        self.times.append(time.perf_counter())


def dcgan_epoch_seconds(mnist_root: str, steps: int) -> float:
    """Seconds of a DCGAN epoch on MNIST at 32x32, from the time per step after a warm-up of three."""
    timer = StepTimer()
    data = MNISTDataModule(root=mnist_root, download=False, image_size=32, batch_size=BATCH_SIZE)
    Trainer(
        max_epochs=1,
        limit_train_batches=steps + 3,
        callbacks=[timer],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).fit(DCGAN(image_size=32, channels=1), datamodule=data)
    # The median step: robust to other processes stealing the CPU now and then.
    per_step = statistics.median(later - earlier for earlier, later in itertools.pairwise(timer.times[2:]))
    return per_step * (MNIST_TRAIN_IMAGES // BATCH_SIZE)


def metric_seconds(dimensions: int, samples: int = 10_000) -> float:
    """FID + KID (100 subsets of 1000) + IS on ``samples`` feature vectors: the part that is not per image."""
    generator = torch.Generator().manual_seed(0)
    reference = ReferenceStatistics.from_features(torch.rand(samples, dimensions, generator=generator))
    metric = FidelityMetrics(reference)
    metric.update(torch.rand(samples, dimensions, generator=generator), torch.randn(samples, 10, generator=generator))
    return seconds(metric.compute)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_images", type=int, default=500, help="images per side in the comparison")
    parser.add_argument("--inception_weights", type=Path, help="torch-fidelity's weights file (default: random)")
    parser.add_argument("--mnist_root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--dcgan_steps", type=int, default=20, help="training steps timed for the epoch estimate")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        weights = args.inception_weights
        if weights is None:
            weights = write_random_inception_weights(work / "random_inception.pth")
            print(
                "NOTE: Inception-v3 with RANDOM weights (the real file is not available offline): same architecture"
                " and cost, so the timings hold; the metric values are meaningless."
            )
        inception_per_image = compare_with_torch_fidelity(args, weights, work)

        model = DCGAN(image_size=32, channels=1)
        digits_callback = prepared_callback(model, "digits", 2000, 1000, None, work / "cache")
        digits_per_image = per_image_seconds(digits_callback, model)

    epoch = dcgan_epoch_seconds(args.mnist_root, args.dcgan_steps)
    print(
        f"\n== One evaluation of 10,000 samples vs a DCGAN epoch on MNIST (32x32, batch {BATCH_SIZE}, "
        f"{MNIST_TRAIN_IMAGES // BATCH_SIZE} steps): {epoch:.0f} s =="
    )
    for name, per_image, dimensions in (
        ("inception", inception_per_image, 2048),
        ("digits", digits_per_image, DigitClassifier.feature_dim),
    ):
        cost = per_image * 10_000 + metric_seconds(dimensions)
        print(
            f"{name:9s}: {cost:7.1f} s = {100 * cost / epoch:5.1f}% of an epoch "
            f"({1000 * per_image:.1f} ms per generated image + FID/KID/IS)"
        )


if __name__ == "__main__":
    main()
