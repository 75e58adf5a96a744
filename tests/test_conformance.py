"""Checks every registered variant must pass (see tests/registry.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything

from lightning_gans.models import ConditionalSource, load_model
from tests.registry import VARIANTS, Variant

BATCHES_PER_EPOCH = 3


def make_trainer(root: Path, max_epochs: int) -> Trainer:
    return Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=max_epochs,
        limit_train_batches=BATCHES_PER_EPOCH,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=root,
    )


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        if isinstance(sa[key], torch.Tensor):
            assert torch.equal(sa[key], sb[key]), f"{key} differs"
        else:
            assert sa[key] == sb[key], f"{key} differs: {sa[key]} vs {sb[key]}"


@pytest.fixture(params=sorted(VARIANTS))
def variant(request):
    return VARIANTS[request.param]


def first_batch(variant: Variant) -> torch.Tensor | list[torch.Tensor]:
    data = variant.make_data()
    data.setup("fit")
    return next(iter(data.train_dataloader()))


def made_images(variant: Variant, model: torch.nn.Module, batch) -> list[tuple[torch.Tensor, torch.Size]]:
    """What the model makes, each with the shape it must have: 5 samples for a model that samples from noise,
    or each direction's translation of the batch for an image-to-image model (its batches are (A, B))."""
    if variant.protocol == "translation":
        sources = dict(zip(("AtoB", "BtoA"), batch, strict=True))
        return [(model.translate(sources[d], d), sources[d].shape) for d in model.directions]
    real = model.real_images(batch)
    return [(model.sample(5), torch.Size((5, *real.shape[1:])))]


def test_training_steps_change_generator_and_discriminator(variant, tmp_path):
    seed_everything(0)
    model = variant.make_model()
    before = state(model)
    make_trainer(tmp_path, max_epochs=1).fit(model, datamodule=variant.make_data())
    after = state(model)
    for prefix in ("generator.", "discriminator."):
        changed = [k for k in before if k.startswith(prefix) and not torch.equal(before[k], after[k])]
        assert changed, f"no {prefix[:-1]} weight changed in {BATCHES_PER_EPOCH} steps"
    assert model.g_steps > 0 and model.d_steps >= model.g_steps


def test_samples_have_the_data_shape_and_range(variant):
    model = variant.make_model()
    for samples, shape in made_images(variant, model, first_batch(variant)):
        assert samples.shape == shape
        assert samples.min() >= -1 and samples.max() <= 1
        assert not model.generator.training or model.training  # sampling restores the mode it found


def test_fixed_noise_gives_the_same_samples(variant):
    if variant.protocol == "translation":
        pytest.skip("image-to-image models translate images; they draw no latent noise")
    model = variant.make_model()
    a = model.sample(4, generator=torch.Generator().manual_seed(7))
    b = model.sample(4, generator=torch.Generator().manual_seed(7))
    c = model.sample(4, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_resume_continues_exactly(variant, tmp_path):
    seed_everything(0)
    uninterrupted = variant.make_model()
    make_trainer(tmp_path / "a", max_epochs=2).fit(uninterrupted, datamodule=variant.make_data())

    seed_everything(0)
    first_half = variant.make_model()
    trainer = make_trainer(tmp_path / "b", max_epochs=1)
    trainer.fit(first_half, datamodule=variant.make_data())
    ckpt = tmp_path / "half.ckpt"
    trainer.save_checkpoint(ckpt)

    seed_everything(1234)  # the resumed run must take the random state from the checkpoint
    resumed = variant.make_model()
    make_trainer(tmp_path / "c", max_epochs=2).fit(resumed, datamodule=variant.make_data(), ckpt_path=ckpt)

    assert resumed.steps == uninterrupted.steps and first_half.d_steps == BATCHES_PER_EPOCH
    assert_same_state(resumed, uninterrupted)


def test_checkpoint_loads_into_a_fresh_module(variant, tmp_path):
    seed_everything(0)
    model = variant.make_model()
    trainer = make_trainer(tmp_path, max_epochs=1)
    trainer.fit(model, datamodule=variant.make_data())
    ckpt = tmp_path / "model.ckpt"
    trainer.save_checkpoint(ckpt)

    loaded = load_model(ckpt)
    assert type(loaded) is type(model)
    assert_same_state(loaded, model)
    if variant.protocol == "translation":
        batch = first_batch(variant)
        torch.manual_seed(0)  # pix2pix's dropout noise
        expected = made_images(variant, model, batch)
        torch.manual_seed(0)
        assert all(
            torch.equal(a, b) for (a, _), (b, _) in zip(made_images(variant, loaded, batch), expected, strict=True)
        )
        return
    z = model.sample_latent(3)
    labels = (torch.arange(3) % model.num_classes,) if isinstance(model, ConditionalSource) else ()
    assert torch.equal(loaded.generate(z, *labels), model.generate(z, *labels))
