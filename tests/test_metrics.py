"""FID, KID and IS: against direct references, against torch-fidelity, on real data; extractors and the cache."""

from __future__ import annotations

import itertools
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.multiprocessing as mp
import torch_fidelity
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset, random_split
from torch_fidelity.metric_kid import kid_features_to_metric
from torchvision.datasets import MNIST
from torchvision.transforms.v2.functional import gaussian_blur

import lightning_gans.metrics.extractors as extractors
from datamodules import DigitsDataModule, MNISTDataModule, image_transform
from lightning_gans.metrics import (
    FidelityMetrics,
    InceptionV3Features,
    ReferenceStatistics,
    extract,
    frechet_distance,
    inception_score,
    inception_weights,
    kernel_inception_distance,
    mean_and_covariance,
    polynomial_mmd,
    pretrained_digit_classifier,
    reference_loader,
    reference_statistics,
)
from lightning_gans.metrics.digit_classifier import WEIGHTS
from tests.fake_inception import write_random_inception_weights
from tests.fidelity_sync_worker import update_with_my_share


def features(n: int, d: int, seed: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) * scale + shift


# ------------------------------------------------------------------------------------- the formulas
def test_frechet_distance_equals_a_float64_scipy_sqrtm_reference():
    a, b = features(400, 32, seed=0), features(300, 32, seed=1, scale=1.3, shift=0.1)
    mean_a, cov_a = mean_and_covariance(a)
    mean_b, cov_b = mean_and_covariance(b)
    a64, b64 = a.double().numpy(), b.double().numpy()
    s_a, s_b = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
    expected = (
        np.sum((a64.mean(0) - b64.mean(0)) ** 2)
        + np.trace(s_a)
        + np.trace(s_b)
        - 2 * np.trace(scipy.linalg.sqrtm(s_a @ s_b).real)
    )
    assert frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(mean_b, cov_b, mean_a, cov_a) == pytest.approx(expected, rel=1e-6)
    assert abs(frechet_distance(mean_a, cov_a, mean_a, cov_a)) < 1e-9 * expected


def test_kid_equals_a_direct_unbiased_mmd_with_the_cubic_kernel():
    x, y = features(12, 5, seed=2).double(), features(12, 5, seed=3, scale=1.5).double()
    d = x.shape[1]

    def k(u: torch.Tensor, v: torch.Tensor) -> float:
        return (u.double() @ v.double() / d + 1).item() ** 3

    m = len(x)
    pairs = [(i, j) for i, j in itertools.product(range(m), repeat=2) if i != j]
    expected = (
        sum(k(x[i], x[j]) + k(y[i], y[j]) for i, j in pairs) / (m * (m - 1))
        - 2 * sum(k(x[i], y[j]) for i, j in itertools.product(range(m), repeat=2)) / m**2
    )
    assert polynomial_mmd(x, y) == pytest.approx(expected, rel=1e-9)
    assert polynomial_mmd(x.float(), y.float()) == pytest.approx(expected, rel=1e-5)  # float32 kernel values
    # Subsets of every row: each is a permutation of the full sets, which the unbiased MMD ignores.
    assert kernel_inception_distance(x, y, subsets=3, subset_size=m) == pytest.approx((expected, 0.0), abs=1e-12)


def test_kid_subsets_are_torch_fidelitys():
    fake, real = features(150, 16, seed=4), features(120, 16, seed=5, scale=1.2)
    theirs = kid_features_to_metric(
        fake,
        real,
        kid_subsets=9,
        kid_subset_size=50,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
        rng_seed=2020,
        verbose=False,
    )
    mean, std = kernel_inception_distance(fake, real, subsets=9, subset_size=50)
    assert mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-4)


def test_inception_score_equals_exp_of_the_expected_kl():
    logits = torch.randn(60, 7, generator=torch.Generator().manual_seed(6)) * 2
    p = torch.softmax(logits.double(), dim=1).numpy()

    def score(rows: np.ndarray) -> float:
        marginal = rows.mean(axis=0)
        return float(np.exp(np.mean([np.sum(row * np.log(row / marginal)) for row in rows])))

    assert inception_score(logits, splits=1) == pytest.approx((score(p), 0.0), rel=1e-9)
    order = np.random.RandomState(2020).permutation(60)
    per_split = [score(p[order][i * 20 : (i + 1) * 20]) for i in range(3)]
    assert inception_score(logits, splits=3) == pytest.approx((np.mean(per_split), np.std(per_split)), rel=1e-9)


# ----------------------------------------------------------------------------- against torch-fidelity
def write_pngs(images: torch.Tensor, folder: Path) -> Path:
    folder.mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{index:03d}.png")
    return folder


def to_unit_range(pixels: torch.Tensor) -> torch.Tensor:
    return pixels.float() / 127.5 - 1


def test_inception_metrics_equal_torch_fidelity_calculate_metrics(tmp_path):
    weights = write_random_inception_weights(tmp_path / "inception.pth")
    generator = torch.Generator().manual_seed(7)
    n = 10  # Inception at 299x299 costs about 0.1 s per image on a CPU core: keep the sets small.
    smooth = torch.nn.functional.interpolate(torch.rand(n, 3, 4, 4, generator=generator), size=32, mode="bilinear")
    fake = (smooth * 255).to(torch.uint8)  # varied images: IS is measured on this side
    real = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)
    settings = {"kid_subsets": 5, "kid_subset_size": 6}
    theirs = torch_fidelity.calculate_metrics(
        input1=str(write_pngs(fake, tmp_path / "fake")),
        input2=str(write_pngs(real, tmp_path / "real")),
        cuda=False,
        isc=True,
        fid=True,
        kid=True,
        feature_extractor_weights_path=str(weights),
        isc_splits=2,
        cache=False,
        save_cpu_ram=True,
        verbose=False,
        **settings,
    )

    extractor = InceptionV3Features(weights).eval()
    with torch.no_grad():
        reference = ReferenceStatistics.from_features(extract(extractor, to_unit_range(real))[0])
        metric = FidelityMetrics(reference, is_splits=2, **settings)
        metric.update(*extract(extractor, to_unit_range(fake)))
    ours = metric.compute()
    for key, their_key in [
        ("fid", "frechet_inception_distance"),
        ("kid_mean", "kernel_inception_distance_mean"),
        ("kid_std", "kernel_inception_distance_std"),
        ("is_mean", "inception_score_mean"),
        ("is_std", "inception_score_std"),
    ]:
        assert ours[key] == pytest.approx(theirs[their_key], rel=1e-3), key
    # The random network still tells the sets apart and the images apart.
    assert ours["fid"] > 1 and ours["kid_std"] > 0 and ours["is_mean"] > 1.01 and ours["is_std"] > 1e-4, ours


def test_missing_inception_weights_name_the_file_url_and_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(extractors, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(extractors, "download_url_to_file", offline)
    with pytest.raises(FileNotFoundError) as error:
        inception_weights()
    message = str(error.value)
    assert extractors.INCEPTION_FILE in message and extractors.URL_INCEPTION_V3 in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    with pytest.raises(FileNotFoundError, match="not found at"):
        inception_weights(tmp_path / "nowhere.pth")


def test_extraction_runs_in_float32_with_autocast_off():
    classifier = pretrained_digit_classifier()
    images = torch.rand(16, 1, 32, 32, generator=torch.Generator().manual_seed(8)) * 2 - 1
    expected = extract(classifier, images)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = extract(classifier, images.bfloat16())
    assert under_autocast[0].dtype == torch.float32
    torch.testing.assert_close(under_autocast[0], extract(classifier, images.bfloat16().float())[0])
    assert under_autocast[0].shape == expected[0].shape == (16, 128) and expected[1].shape == (16, 10)


# -------------------------------------------------------------------------------- the digit classifier
def mnist_images(root: Path, train: bool, count: int) -> torch.Tensor:
    data = MNIST(root, train=train, download=False)
    return image_transform(32, 1)(data.data[:count].unsqueeze(1)), data.targets[:count]


def test_digit_classifier_is_small_and_labels_real_digits(shared_data):
    assert WEIGHTS.stat().st_size < 512 * 1024
    classifier = pretrained_digit_classifier()
    images, labels = mnist_images(shared_data, train=False, count=2000)
    with torch.no_grad():
        assert (classifier.predict(images) == labels).float().mean() > 0.98
        digits = DigitsDataModule(image_size=32)
        digits.setup()
        # The fifth of the digits that benchmarks/train_digit_classifier.py held out (its seed 0).
        _, held_out = random_split(digits.train_set, [0.8, 0.2], generator=torch.Generator().manual_seed(0))
        digit_images, digit_labels = digits.train_set[held_out.indices]
        assert (classifier.predict(digit_images) == digit_labels).float().mean() > 0.97
        assert classifier.logits(images[:3]).shape == (3, 10)


def test_fid_ranks_test_digits_then_blurred_then_noise(shared_data):
    classifier = pretrained_digit_classifier()
    data = MNISTDataModule(root=str(shared_data), download=False, image_size=32, num_workers=0)
    data.setup()
    train = torch.stack([data.train_set[i][0] for i in range(2000)])
    test, _ = mnist_images(shared_data, train=False, count=2000)
    blurred = gaussian_blur(train, kernel_size=5, sigma=1.5)
    noise = torch.rand(train.shape, generator=torch.Generator().manual_seed(9)) * 2 - 1
    with torch.no_grad():
        reference = mean_and_covariance(extract(classifier, train)[0])
        fid = {
            name: frechet_distance(*reference, *mean_and_covariance(extract(classifier, images)[0]))
            for name, images in [("test", test), ("blurred", blurred), ("noise", noise)]
        }
    assert fid["test"] < fid["blurred"] < fid["noise"], fid
    assert fid["test"] < fid["noise"] / 100, fid


# ---------------------------------------------------------------------------------------- the cache
class CountingExtractor(nn.Module):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(scale))
        self.images_seen = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.images_seen += len(images)
        return images.flatten(1)[:, :6] * self.weight


def test_reference_statistics_are_cached_by_content_not_by_name(tmp_path):
    images = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(10))
    extractor = CountingExtractor()

    def statistics(data: torch.Tensor, net: nn.Module = extractor) -> tuple[ReferenceStatistics, Path]:
        loader = reference_loader(TensorDataset(data, torch.zeros(len(data))), 16, 0, None)
        return reference_statistics(loader, net, tmp_path, name="digits-train")

    first, path = statistics(images)
    assert extractor.images_seen == 40 and path.is_file()
    torch.testing.assert_close(first.mean, images.flatten(1)[:, :6].double().mean(0))
    again, same_path = statistics(images)
    assert extractor.images_seen == 40 and same_path == path  # loaded, not recomputed
    torch.testing.assert_close(again.covariance, first.covariance)

    changed = images.clone()
    changed[17, 0, 1, 2] += 1e-3  # one pixel of one image
    _, changed_path = statistics(changed)
    assert extractor.images_seen == 80 and changed_path != path
    _, retrained_path = statistics(images, CountingExtractor(scale=2.0))
    assert retrained_path not in (path, changed_path)
    # The same images batched differently are the same data.
    loader = DataLoader(TensorDataset(images), batch_size=7)
    assert reference_statistics(loader, extractor, tmp_path, name="digits-train")[1] == path


def test_max_reference_samples_takes_a_seeded_subset():
    dataset = TensorDataset(torch.arange(100.0).view(100, 1, 1, 1))
    loader = reference_loader(dataset, batch_size=8, num_workers=0, max_samples=10)
    values = torch.cat([batch[0].flatten() for batch in loader])
    assert len(values) == 10 and isinstance(loader.dataset, Subset)
    assert torch.equal(values, torch.cat([batch[0].flatten() for batch in loader]))
    assert not torch.equal(values, torch.arange(10.0))  # not just the first ten (datasets are often sorted)


# ---------------------------------------------------------------------------------------- under DDP
def test_fidelity_metrics_gather_every_process_share(tmp_path):
    fake, real = features(64, 8, seed=11), features(50, 8, seed=12, scale=1.4)
    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(13))
    metric = FidelityMetrics(ReferenceStatistics.from_features(real), kid_subsets=4, kid_subset_size=30)
    metric.update(fake, logits)
    expected = metric.compute()
    mp.spawn(update_with_my_share, args=(str(tmp_path / "init"), fake, logits, real, str(tmp_path)), nprocs=2)
    for rank in range(2):
        assert torch.load(tmp_path / f"rank{rank}.pt") == pytest.approx(expected, rel=1e-9)
