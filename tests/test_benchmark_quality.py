"""benchmarks/quality.py builds every variant it lists with its benchmark settings, and ProGAN reaches full size."""

from __future__ import annotations

import pytest
import torch

from benchmarks import quality
from lightning_gans import models
from lightning_gans.models.progan import growth

G_STEPS, BATCH = 600, 32


@pytest.mark.parametrize("name", [name for name, v in quality.VARIANTS.items() if hasattr(models, v.class_name)])
def test_every_listed_variant_builds_and_samples_mnist_sized_images(name):
    model = quality.build(name, G_STEPS, BATCH)
    images = model.sample(4, torch.Generator().manual_seed(0))
    assert images.shape == (4, 1, quality.IMAGE_SIZE, quality.IMAGE_SIZE)
    assert images.min() >= -1 and images.max() <= 1


def test_progan_grows_to_full_size_in_the_first_60_percent_of_the_budget():
    phases = quality.progan_phases(G_STEPS, BATCH)
    last_level = 3  # 4x4 -> 32x32
    images = G_STEPS * BATCH
    assert growth(int(0.6 * images) - 1, last_level, **phases) != (last_level, 1.0)
    assert growth(int(0.6 * images), last_level, **phases) == (last_level, 1.0)
