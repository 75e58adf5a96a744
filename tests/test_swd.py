"""ProGAN's sliced Wasserstein distance: the pyramid against SciPy, the 1-D distances against SciPy, the metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage, stats

from lightning_gans.metrics.swd import (
    SlicedWassersteinDistance,
    laplacian_pyramid,
    neighbourhoods,
    normalise_per_channel,
    pyramid_down,
    pyramid_up,
    sliced_wasserstein,
)

# cv2.pyrDown's kernel; scipy's mode="mirror" is the border that OpenCV and the authors' code use.
KERNEL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1])[None, None] / 256.0


def test_pyramid_steps_match_scipy_convolutions():
    images = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    expected_down = ndimage.convolve(images.numpy(), KERNEL, mode="mirror")[..., ::2, ::2]
    np.testing.assert_allclose(pyramid_down(images).numpy(), expected_down, atol=1e-12)

    small = images[..., :8, :8]
    spread = np.zeros((2, 3, 16, 16))
    spread[..., ::2, ::2] = small.numpy()
    expected_up = ndimage.convolve(spread, KERNEL * 4, mode="mirror")
    np.testing.assert_allclose(pyramid_up(small).numpy(), expected_up, atol=1e-12)


def test_laplacian_pyramid_levels_sum_back_to_the_images():
    images = torch.rand(2, 3, 64, 64)
    pyramid = laplacian_pyramid(images, 3)
    assert [level.shape[-1] for level in pyramid] == [64, 32, 16]
    rebuilt = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        rebuilt = pyramid_up(rebuilt) + band
    torch.testing.assert_close(rebuilt, images)
    assert pyramid[0].abs().mean() < images.abs().mean() / 2  # the finest band is a high-pass residual


def test_sliced_wasserstein_is_the_mean_of_scipys_1d_distances():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(300, 5, generator=generator, dtype=torch.float64)
    b = torch.randn(300, 5, generator=generator, dtype=torch.float64) * 1.5 + 0.3
    directions = torch.randn(5, 200, generator=generator, dtype=torch.float64)
    directions /= directions.norm(dim=0)
    expected = np.mean([stats.wasserstein_distance(a @ d, b @ d) for d in directions.T.numpy()])
    assert sliced_wasserstein(a, b, directions).item() == pytest.approx(expected, rel=1e-10)


def test_neighbourhoods_are_image_patches_and_normalisation_is_per_channel():
    images = torch.arange(2 * 3 * 9 * 9, dtype=torch.float32).view(2, 3, 9, 9)
    patches = neighbourhoods(images, count=5, size=7, generator=torch.Generator().manual_seed(1))
    assert patches.shape == (10, 3 * 49)
    for row, patch in enumerate(patches.view(10, 3, 7, 7)):
        image = images[row // 5]
        top, left = ((image[0] == patch[0, 0, 0]).nonzero()[0]).tolist()
        assert torch.equal(patch, image[:, top : top + 7, left : left + 7])
    normalised = normalise_per_channel(patches, 3).view(10, 3, 49)
    torch.testing.assert_close(normalised.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(normalised.std(dim=(0, 2), unbiased=False), torch.ones(3))


def smooth_images(n: int, seed: int) -> torch.Tensor:
    """Random 4x4 images upsampled bilinearly: each 7x7 patch is nearly a plane."""
    coarse = torch.rand(n, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(coarse, size=32, mode="bilinear", align_corners=False)


def test_the_metric_ranks_a_different_distribution_above_a_second_sample_of_the_same_one():
    metric = SlicedWassersteinDistance(image_size=32, patches_per_image=32, directions=128)
    metric.update(smooth_images(48, seed=0), real=True)
    metric.update(smooth_images(48, seed=1), real=False)
    same = metric.compute()
    assert set(same) == {"swd_32", "swd_16", "swd_mean"}
    metric.reset()
    metric.update(smooth_images(48, seed=0), real=True)
    metric.update(torch.rand(48, 3, 32, 32, generator=torch.Generator().manual_seed(2)), real=False)
    different = metric.compute()
    assert different["swd_32"] > 2 * same["swd_32"]
    assert different["swd_mean"] == pytest.approx((different["swd_32"] + different["swd_16"]).item() / 2)


def test_the_metric_is_seeded_and_leaves_the_global_random_stream_alone():
    images, other = smooth_images(8, seed=0), smooth_images(8, seed=1)
    values = []
    for _ in range(2):
        metric = SlicedWassersteinDistance(image_size=32, patches_per_image=8, directions=16)
        state = torch.get_rng_state()
        metric.update(images, real=True)
        metric.update(other, real=False)
        values.append(metric.compute()["swd_mean"])
        assert torch.equal(torch.get_rng_state(), state)
    assert values[0] == values[1]


def test_the_metric_refuses_unequal_sets_and_wrong_sizes():
    metric = SlicedWassersteinDistance(image_size=16, patches_per_image=4, directions=8)
    with pytest.raises(ValueError, match="16x16"):
        metric.update(torch.rand(2, 3, 32, 32), real=True)
    metric.update(torch.rand(4, 3, 16, 16), real=True)
    with pytest.raises(ValueError, match="needs both real and generated"):
        metric.compute()
    metric.update(torch.rand(2, 3, 16, 16), real=False)
    with pytest.raises(ValueError, match="4 real and 2 generated"):
        metric.compute()
    with pytest.raises(ValueError, match="power of two >= 16"):
        SlicedWassersteinDistance(image_size=8)
