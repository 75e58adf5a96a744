"""Latent-space tools: slerp/lerp, DCGAN's vector arithmetic, the LatentWalk callback, D's pooled features."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer
from PIL import Image, ImageSequence
from torch import Tensor

from lightning_gans.callbacks import LatentWalk
from lightning_gans.models import DCGAN
from lightning_gans.nn import DCGANDiscriminator, interpolation_path, latent_arithmetic, lerp, slerp
from tests.registry import VARIANTS, tiny_digits
from tests.test_cli import CONFIGS, TINY_DCGAN, run_fit

README = Path(__file__).resolve().parents[1] / "README.md"


def gaussian_pairs(n: int = 64, dim: int = 128) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, dim, generator=generator), torch.randn(n, dim, generator=generator)


def tiny_dcgan() -> DCGAN:
    return DCGAN(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)


# ------------------------------------------------------------------------------------------ interpolation
def test_slerp_keeps_gaussian_latents_on_their_shell_while_lerp_cuts_inside():
    a, b = gaussian_pairs()
    endpoint_norms = torch.stack([a.norm(dim=-1), b.norm(dim=-1)], dim=-1)
    slerp_norms = interpolation_path(a, b, 11, "slerp").norm(dim=-1)  # (64, 11)
    assert (slerp_norms >= 0.97 * endpoint_norms.min(dim=-1, keepdim=True).values).all()
    assert (slerp_norms <= 1.03 * endpoint_norms.max(dim=-1, keepdim=True).values).all()
    # Two 128-d Gaussians are nearly orthogonal, so lerp's midpoint is shorter by about 1/sqrt(2).
    midpoint_ratio = interpolation_path(a, b, 11, "lerp")[:, 5].norm(dim=-1) / endpoint_norms.mean(dim=-1)
    assert midpoint_ratio.mean().item() == pytest.approx(1 / math.sqrt(2), abs=0.03)
    assert (midpoint_ratio < 0.85).all()


def test_slerp_follows_the_great_circle_and_hits_its_endpoints_exactly():
    # Unit vectors in the plane at angles 0.3 and 1.9 rad: slerp at t is the unit vector at 0.3 + 1.6 t.
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    a = torch.tensor([math.cos(0.3), math.sin(0.3)], dtype=torch.float64)
    b = torch.tensor([math.cos(1.9), math.sin(1.9)], dtype=torch.float64)
    angles = 0.3 + 1.6 * t
    torch.testing.assert_close(slerp(a, b, t), torch.stack([angles.cos(), angles.sin()], dim=-1))
    a32, b32 = gaussian_pairs()
    path = interpolation_path(a32, b32, 5)
    assert torch.equal(path[:, 0], a32) and torch.equal(path[:, -1], b32)


def test_batched_shapes_and_per_item_weights():
    a, b = torch.randn(3, 5, 16), torch.randn(3, 5, 16)
    assert interpolation_path(a, b, 7).shape == (3, 5, 7, 16)
    assert interpolation_path(a, b, 7, "lerp").shape == (3, 5, 7, 16)
    t = torch.rand(3, 5)
    mixed = slerp(a, b, t)
    torch.testing.assert_close(mixed[1, 2], slerp(a[1, 2], b[1, 2], t[1, 2].item()))
    torch.testing.assert_close(lerp(a, b, 0.25), a + 0.25 * (b - a))


def test_near_parallel_endpoints_fall_back_to_lerp_and_opposite_ones_are_refused():
    v = torch.randn(2, 32)
    torch.testing.assert_close(slerp(v, 2 * v, 0.5), 1.5 * v)  # angle 0: the limit of slerp, no NaN
    with pytest.raises(ValueError, match="opposite endpoints"):
        slerp(v, -v, 0.5)
    with pytest.raises(ValueError, match="zero latent"):
        slerp(v, torch.zeros_like(v), 0.5)
    with pytest.raises(ValueError, match="steps >= 2"):
        interpolation_path(v, 2 * v, 1)
    with pytest.raises(ValueError, match="method"):
        interpolation_path(v, 2 * v, 3, "linear")


# ------------------------------------------------------------------------------------- vector arithmetic
def test_latent_arithmetic_is_the_mean_of_a_minus_that_of_b_plus_that_of_c():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])  # mean (3, 2)
    b = torch.tensor([[0.0, 1.0], [2.0, 1.0], [1.0, 1.0]])  # mean (1, 1)
    c = torch.tensor([[10.0, 20.0]])  # one sample
    torch.testing.assert_close(latent_arithmetic(a, b, c), torch.tensor([[12.0, 21.0]]))

    varied = latent_arithmetic(a, b, c, variations=8, noise_scale=0.25, generator=torch.Generator().manual_seed(1))
    assert varied.shape == (9, 2)
    torch.testing.assert_close(varied[0], torch.tensor([12.0, 21.0]))
    offsets = varied[1:] - varied[0]
    assert (offsets.abs() <= 0.25).all() and offsets.std() > 0.05
    again = latent_arithmetic(a, b, c, variations=8, noise_scale=0.25, generator=torch.Generator().manual_seed(1))
    assert torch.equal(varied, again)
    with pytest.raises(ValueError, match="same latent_dim"):
        latent_arithmetic(a, b, torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(k, latent_dim\)"):
        latent_arithmetic(a, b, torch.zeros(2, 1, 2))


# ------------------------------------------------------------------------------------------- LatentWalk
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_latent_walk_draws_one_row_per_walk_for_every_noise_model_and_refuses_translators(name):
    variant = VARIANTS[name]
    model = variant.make_model()
    walk = LatentWalk(walks=3, steps=4)
    if variant.protocol == "translation":
        with pytest.raises(TypeError, match="TranslationGrid"):
            walk.check_model(model)
        return
    walk.check_model(model)
    size = model.hparams.image_size
    grid = walk.grid(model)
    assert grid.shape == (3, 3 * (size + 2) + 2, 4 * (size + 2) + 2)  # make_grid's 2-pixel padding
    assert 0.0 <= grid.min() and grid.max() <= 1.0


def test_latent_walk_rows_start_and_end_at_the_seeded_latents_and_methods_differ():
    model = tiny_dcgan()
    slerp_walk, lerp_walk = LatentWalk(walks=3, steps=5, seed=7), LatentWalk(walks=3, steps=5, method="lerp", seed=7)
    ends = model.sample_latent(6, generator=torch.Generator().manual_seed(7))
    images = slerp_walk.walk(model)
    assert images.shape == (3, 5, 1, 16, 16)
    torch.testing.assert_close(images[:, 0], model.generate(ends[:3]))
    torch.testing.assert_close(images[:, -1], model.generate(ends[3:]))
    assert not torch.allclose(images[:, 2], lerp_walk.walk(model)[:, 2])


class ConditionalDCGAN(DCGAN):
    """A stand-in for a cGAN: follows ConditionalSource and remembers the labels it was asked for."""

    num_classes = 2

    def sample(self, n, generator=None, labels=None):
        raise NotImplementedError

    def generate(self, latent, labels):
        self.asked_labels = labels
        return super().generate(latent)


def test_latent_walk_gives_each_row_of_a_conditional_model_a_fixed_class():
    model = ConditionalDCGAN(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)
    LatentWalk(walks=3, steps=2).walk(model)
    assert model.asked_labels.tolist() == [0, 0, 1, 1, 0, 0]


def test_latent_walk_saves_a_png_and_a_gif_with_one_frame_per_step(tmp_path):
    walk = LatentWalk(walks=4, steps=6, gif=True, frame_duration_ms=50)
    trainer = Trainer(
        default_root_dir=tmp_path,
        max_epochs=1,
        limit_train_batches=2,
        callbacks=[walk],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(tiny_dcgan(), datamodule=tiny_digits())
    (png,) = (tmp_path / "latent_walk").glob("step_*.png")
    (gif,) = (tmp_path / "latent_walk").glob("step_*.gif")
    assert png.stem == gif.stem == "step_0000002"
    assert Image.open(png).size == (6 * 18 + 2, 4 * 18 + 2)
    with Image.open(gif) as animation:
        assert animation.n_frames == 6
        assert animation.size == (2 * 18 + 2, 2 * 18 + 2)  # the 4 walks as a 2x2 picture
        assert [frame.info["duration"] for frame in ImageSequence.Iterator(animation)] == [50] * 6


def test_latent_walk_is_opt_in_on_the_command_line_and_sends_its_gif_to_wandb(tmp_path, offline_wandb):
    log_dir = run_fit(
        tmp_path,
        "--config",
        str(CONFIGS / "wandb_offline.yaml"),
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        *TINY_DCGAN,
        "--trainer.callbacks+=lightning_gans.callbacks.LatentWalk",
        "--trainer.callbacks.walks=2",
        "--trainer.callbacks.steps=3",
        "--trainer.callbacks.gif=true",
    )
    (walks,) = log_dir.glob("lightning-gans/*/latent_walk")  # the W&B run's own folder: <save_dir>/<project>/<id>
    assert list(walks.glob("step_*.png")) and list(walks.glob("step_*.gif"))
    assert list(tmp_path.glob("wandb/offline-run-*/files/media/images/latent_walk_*.png"))
    assert list(tmp_path.glob("wandb/offline-run-*/files/media/videos/latent_walk_animation_*.gif"))


def test_latent_walk_rejects_bad_settings():
    with pytest.raises(ValueError, match="steps must be an integer >= 2"):
        LatentWalk(steps=1)
    with pytest.raises(ValueError, match="method"):
        LatentWalk(method="cubic")


# ------------------------------------------------------------------------------- D as a feature extractor
def test_pooled_features_are_every_block_max_pooled_to_4x4_and_concatenated():
    torch.manual_seed(0)
    discriminator = DCGANDiscriminator(channels=1, image_size=32, features=3).eval()  # blocks of 3, 6, 12 channels
    images = torch.randn(5, 1, 32, 32)
    features = discriminator.pooled_features(images)
    assert features.shape == (5, (3 + 6 + 12) * 16)
    body = discriminator.body  # conv, lrelu | conv, bn, lrelu | conv, bn, lrelu
    block1 = body[1](body[0](images))
    block2 = body[4](body[3](body[2](block1)))
    block3 = body[7](body[6](body[5](block2)))
    expected = [F.max_pool2d(block1, 4), F.max_pool2d(block2, 2), block3]  # 16x16, 8x8 and 4x4 maps to 4x4
    torch.testing.assert_close(features, torch.cat([x.flatten(1) for x in expected], dim=1))


# ------------------------------------------------------------------------------------------------ README
def test_readme_latent_snippet_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    snippets = [block for block in blocks if "latent_arithmetic" in block]
    if not snippets:
        pytest.skip("README has no latent-space snippet yet")
    namespace: dict = {}
    exec(compile(snippets[0], "README.md", "exec"), namespace)
    assert namespace["thick_3"].shape == (9, 1, 32, 32)
    assert namespace["walk"].shape == (10, 1, 32, 32)
    assert namespace["features"].shape == (9, 16 * (64 + 128 + 256))
