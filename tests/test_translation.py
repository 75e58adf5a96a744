"""pix2pix and CycleGAN beyond the conformance suite: networks, image pool, schedule, losses, grid, CLI."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, Trainer, seed_everything
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from datamodules import image_transform
from lightning_gans.callbacks import SampleGrid, TranslationGrid
from lightning_gans.cli import cli_main, main
from lightning_gans.models import CycleGAN, Pix2Pix, TranslationSource, load_model
from lightning_gans.models.translation import image_pair, linear_decay_factor
from lightning_gans.nn import ImagePool, PatchGANDiscriminator, ResnetGenerator, UNetGenerator
from lightning_gans.nn.patchgan import patchgan_receptive_field
from lightning_gans.nn.resnet_generator import ResidualBlock
from tests.registry import VARIANTS
from tests.test_conformance import assert_same_state
from tests.translation_data import write_unpaired_layout

TINY_CYCLEGAN = dict(
    image_size=8, channels=1, generator_features=4, discriminator_features=4, residual_blocks=1, discriminator_layers=1
)
TINY_PIX2PIX = dict(image_size=8, channels=1, generator_features=4, discriminator_features=4, discriminator_layers=1)


def fit(model, data, tmp_path: Path, ckpt_path: Path | None = None, **trainer_kwargs) -> Trainer:
    settings = dict(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer = Trainer(**{**settings, **trainer_kwargs})
    if isinstance(data, DataLoader):
        trainer.fit(model, data, ckpt_path=ckpt_path)
    else:
        trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)
    return trainer


def fixed_pairs(n: int = 4, size: int = 8, channels: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.rand(n, channels, size, size, generator=generator) * 2 - 1 for _ in range(2))


def record_first_logged_values(model: nn.Module) -> dict[str, float]:
    """The first value ``model`` logs under each name, from now on. (Lightning's callback_metrics holds only what
    was logged after the last optimizer step when the first batch ends.)"""
    values: dict[str, float] = {}
    log = model.log

    def recording_log(name: str, value: torch.Tensor, *args, **kwargs) -> None:
        values.setdefault(name, torch.as_tensor(value).detach().item())
        log(name, value, *args, **kwargs)

    model.log = recording_log  # log_dict calls it too
    return values


# ----------------------------------------------------------------------------------------------- networks
def test_resnet_generator_has_the_papers_layout_and_keeps_the_shape():
    generator = ResnetGenerator(channels=3, image_size=32, features=8, residual_blocks=6)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = generator(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert sum(isinstance(m, ResidualBlock) for m in generator.modules()) == 6
    strided = [m for m in generator.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert [m.out_channels for m in strided] == [16, 32]  # c7s1-8, d16, d32, R32 x 6, u16, u8, c7s1-3
    assert not any(isinstance(m, nn.BatchNorm2d) for m in generator.modules())
    assert isinstance(generator.net[0], nn.ReflectionPad2d) and isinstance(generator.net[-1], nn.Tanh)


@pytest.mark.parametrize("image_size", [4, 30, 34])
def test_resnet_generator_rejects_sizes_it_cannot_build(image_size):
    with pytest.raises(ValueError, match=f"image_size={image_size} is not supported.*multiple of 4"):
        ResnetGenerator(channels=3, image_size=image_size, features=4, residual_blocks=1)


@pytest.mark.parametrize("image_size, depth, dropouts", [(256, 8, 3), (32, 5, 3), (8, 3, 1)])
def test_unet_halves_down_to_1x1_with_skips_and_dropout_next_to_the_bottleneck(image_size, depth, dropouts):
    generator = UNetGenerator(channels=3, image_size=image_size, features=2, norm="batch", dropout=0.5)
    downs = [m for m in generator.modules() if isinstance(m, nn.Conv2d)]
    ups = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)][::-1]  # outermost first
    assert len(downs) == len(ups) == depth
    assert [m.out_channels for m in downs] == [2 * min(2**level, 8) for level in range(depth)]
    # Every decoder layer but the innermost takes the mirrored encoder layer's channels as well.
    assert [m.in_channels for m in ups] == [2 * m.out_channels for m in downs[:-1]] + [downs[-1].out_channels]
    assert sum(isinstance(m, nn.Dropout) for m in generator.modules()) == dropouts
    innermost = generator.net
    while not isinstance(innermost.inner, nn.Identity):
        innermost = innermost.inner
    bottleneck = []
    innermost.down.register_forward_hook(lambda module, args, out: bottleneck.append(out))
    x = torch.rand(2, 3, image_size, image_size) * 2 - 1
    y = generator(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert bottleneck[0].shape[-2:] == (1, 1)


def test_unet_rejects_sizes_that_are_not_powers_of_two():
    with pytest.raises(ValueError, match="image_size=48 is not supported.*power of two"):
        UNetGenerator(channels=3, image_size=48, features=4, norm="batch", dropout=0.5)


def test_patchgan_with_three_layers_judges_70x70_patches():
    assert [patchgan_receptive_field(layers) for layers in (1, 2, 3)] == [16, 34, 70]
    # Batch norm in eval mode is per pixel, so that each score depends only on its patch (instance norm's
    # statistics span the whole image).
    discriminator = PatchGANDiscriminator(in_channels=3, image_size=256, features=2, layers=3, norm="batch").eval()
    x = torch.rand(1, 3, 256, 256, requires_grad=True)
    scores = discriminator(x)
    assert scores.shape == (1, 1, 30, 30)
    # The input pixels that one score depends on span 70x70.
    scores[0, 0, 15, 15].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (70, 70)


def test_patchgan_refuses_images_too_small_for_its_layers():
    with pytest.raises(ValueError, match="image_size=16 is too small.*at least 24.*discriminator_layers"):
        PatchGANDiscriminator(in_channels=3, image_size=16, features=4, layers=3, norm="batch")


# ---------------------------------------------------------------------------------------------- image pool
def test_image_pool_fills_then_hands_back_an_old_image_half_the_time():
    torch.manual_seed(0)
    pool = ImagePool(size=4, image_shape=(1, 1, 1))
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool(first), first) and int(pool.count) == 4
    assert torch.equal(pool.images, first)
    newer = torch.arange(100.0, 1100.0).view(1000, 1, 1, 1)
    returned = pool(newer)
    swapped = (returned != newer).flatten()
    assert 0.45 < swapped.float().mean() < 0.55
    # Every image handed back instead of a new one had been stored before, and the pool keeps 4 images.
    seen = set(first.flatten().tolist()) | set(newer.flatten().tolist())
    assert set(returned[swapped].flatten().tolist()) <= seen and int(pool.count) == 4
    assert {"images", "count"} <= set(pool.state_dict())


def test_image_pool_of_size_zero_passes_images_through():
    images = torch.rand(3, 1, 2, 2, requires_grad=True)
    returned = ImagePool(size=0, image_shape=(1, 2, 2))(images)
    assert torch.equal(returned, images) and not returned.requires_grad


# ---------------------------------------------------------------------------------------------- schedule
def test_learning_rate_stays_constant_then_decays_linearly_as_in_the_authors_code():
    factors = [linear_decay_factor(epoch, constant_epochs=100, decay_epochs=100) for epoch in range(201)]
    assert factors[:100] == [1.0] * 100
    assert factors[100] == pytest.approx(100 / 101) and factors[199] == pytest.approx(1 / 101) and factors[200] == 0
    assert np.allclose(np.diff(factors[99:]), -1 / 101)


class RecordLearningRates(Callback):
    def __init__(self) -> None:
        self.rates: list[list[float]] = []

    def on_train_batch_start(self, trainer, *args) -> None:
        self.rates.append([optimizer.param_groups[0]["lr"] for optimizer in trainer.optimizers])


def test_a_resumed_run_continues_the_learning_rate_schedule(tmp_path):
    variant = VARIANTS["cyclegan"]  # constant_lr_epochs=0, decay_lr_epochs=2
    seed_everything(0)
    fit(variant.make_model(), variant.make_data(), tmp_path, limit_train_batches=1).save_checkpoint(tmp_path / "1.ckpt")
    recorder = RecordLearningRates()
    model = variant.make_model()
    fit(
        model,
        variant.make_data(),
        tmp_path,
        tmp_path / "1.ckpt",
        limit_train_batches=1,
        max_epochs=2,
        callbacks=[recorder],
    )
    # The second epoch trains at 1/3 of the rate; the authors' code would restart the schedule at 2/3.
    assert recorder.rates == [[pytest.approx(2e-4 / 3)] * 2]


# ------------------------------------------------------------------------------------------------- models
def test_cyclegan_defaults_are_the_papers():
    model = CycleGAN(image_size=128)
    hp = model.hparams
    assert (hp.cycle_weight, hp.identity_weight, hp.pool_size) == (10.0, 0.5, 50)
    assert (hp.constant_lr_epochs, hp.decay_lr_epochs) == (100, 100)
    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 2e-4, "betas": [0.5, 0.999]}}
    assert model.optimizer_factories == {"g": adam, "d": adam}
    blocks = {d: sum(isinstance(m, ResidualBlock) for m in model.generator[d].modules()) for d in ("AtoB", "BtoA")}
    assert blocks == {"AtoB": 6, "BtoA": 6}  # 6 for 128x128, 9 from 256x256
    assert (
        sum(isinstance(m, ResidualBlock) for m in CycleGAN(image_size=256, generator_features=2).generator.modules())
        == 18
    )
    assert model.image_pools["A"].images.shape == (50, 3, 128, 128)
    assert isinstance(model, TranslationSource) and model.directions == ("AtoB", "BtoA") and not model.paired


def test_pix2pix_defaults_are_the_papers():
    model = Pix2Pix()
    hp = model.hparams
    assert (hp.l1_weight, hp.dropout, hp.norm, hp.direction, hp.decay_lr_epochs) == (100.0, 0.5, "batch", "AtoB", 0)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in model.generator.modules()) == 8
    assert model.discriminator.net[0].in_channels == 6  # input and output, concatenated
    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 2e-4, "betas": [0.5, 0.999]}}
    assert model.optimizer_factories == {"g": adam, "d": adam}
    assert model.scheduler_factories == {"g": None, "d": None}  # a constant rate
    assert isinstance(model, TranslationSource) and model.directions == ("AtoB",) and model.paired


def test_cyclegan_losses_are_the_papers(tmp_path):
    seed_everything(0)
    model = CycleGAN(**TINY_CYCLEGAN, pool_size=8)
    before = copy.deepcopy(model)
    a, b = fixed_pairs()
    logged = record_first_logged_values(model)
    fit(model, DataLoader(TensorDataset(a, b), batch_size=4), tmp_path, max_steps=2)

    g_ab, g_ba, d_a, d_b = (
        before.generator["AtoB"],
        before.generator["BtoA"],
        before.discriminator["A"],
        before.discriminator["B"],
    )
    with torch.no_grad():
        fake_b, fake_a = g_ab(a), g_ba(b)
        adversarial = ((d_b(fake_b) - 1) ** 2).mean() + ((d_a(fake_a) - 1) ** 2).mean()
        cycle = (g_ba(fake_b) - a).abs().mean() + (g_ab(fake_a) - b).abs().mean()
        identity = (g_ab(b) - b).abs().mean() + (g_ba(a) - a).abs().mean()
        # D learns after G, on the translations of G's step (the pool, still filling, hands them back).
        d_loss = sum(
            0.5 * ((d(real) - 1) ** 2).mean() + 0.5 * (d(fake) ** 2).mean()
            for d, real, fake in ((d_a, a, fake_a), (d_b, b, fake_b))
        )
    assert logged["train/g_loss"] == pytest.approx((adversarial + 10 * cycle + 5 * identity).item(), rel=1e-5)
    assert logged["train/cycle_loss"] == pytest.approx(cycle.item(), rel=1e-5)
    assert logged["train/identity_loss"] == pytest.approx(identity.item(), rel=1e-5)
    assert logged["train/d_loss"] == pytest.approx(d_loss.item(), rel=1e-5)
    assert int(model.image_pools["A"].count) == 4 and torch.equal(model.image_pools["A"].images[:4], fake_a)


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_pix2pix_losses_are_the_papers_in_either_direction(direction, tmp_path):
    seed_everything(0)
    model = Pix2Pix(**TINY_PIX2PIX, direction=direction, dropout=0.0)  # no dropout: a deterministic reference
    before = copy.deepcopy(model)
    a, b = fixed_pairs()
    x, y = (a, b) if direction == "AtoB" else (b, a)
    logged = record_first_logged_values(model)
    fit(model, DataLoader(TensorDataset(a, b), batch_size=4), tmp_path, max_steps=2)
    with torch.no_grad():
        fake = before.generator(x)
        real_logits = before.discriminator(torch.cat([x, y], 1))
        fake_logits = before.discriminator(torch.cat([x, fake], 1))
        d_loss = 0.5 * (
            F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        )
    assert logged["train/d_loss"] == pytest.approx(d_loss.item(), rel=1e-5)
    assert logged["train/l1"] == pytest.approx((fake - y).abs().mean().item(), rel=1e-5)


def test_pix2pix_keeps_dropout_on_when_translating_unless_told_not_to():
    x = fixed_pairs()[0]
    noisy = Pix2Pix(**TINY_PIX2PIX)
    assert not torch.equal(noisy.translate(x), noisy.translate(x))
    assert noisy.generator.training  # translate restores the mode it found
    quiet = Pix2Pix(**TINY_PIX2PIX, inference_dropout=False)
    assert torch.equal(quiet.translate(x), quiet.translate(x))


def test_translation_models_refuse_sampling_other_directions_and_bad_batches():
    cyclegan, pix2pix = CycleGAN(**TINY_CYCLEGAN), Pix2Pix(**TINY_PIX2PIX, direction="BtoA")
    with pytest.raises(TypeError, match="CycleGAN has no latent space.*translate"):
        cyclegan.sample(4)
    with pytest.raises(ValueError, match="translates AtoB and BtoA, not 'AB'"):
        cyclegan.translate(fixed_pairs()[0], "AB")
    with pytest.raises(ValueError, match="translates BtoA, not 'AtoB'.*one direction"):
        pix2pix.translate(fixed_pairs()[0], "AtoB")
    with pytest.raises(ValueError, match=r"batches of \(A images, B images\).*got a Tensor"):
        image_pair(pix2pix, fixed_pairs()[0])
    with pytest.raises(ValueError, match=r"images of shape \(3, 8, 8\).*built for \(1, 8, 8\)"):
        image_pair(cyclegan, fixed_pairs(channels=3))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: CycleGAN(image_size=30), "multiple of 4"),
        (lambda: CycleGAN(cycle_weight=-1.0), "cycle_weight must be a number >= 0"),
        (lambda: CycleGAN(decay_lr_epochs=-1), "decay_lr_epochs must be an integer >= 0"),
        (lambda: CycleGAN(pool_size=-1), "pool_size must be an integer >= 0"),
        (lambda: Pix2Pix(image_size=48), "power of two"),
        (lambda: Pix2Pix(image_size=16), "too small for a PatchGAN"),
        (lambda: Pix2Pix(direction="AB"), "direction must be 'AtoB' or 'BtoA'"),
        (lambda: Pix2Pix(norm="group"), "norm must be 'batch' or 'instance'"),
        (lambda: Pix2Pix(dropout=1.0), r"dropout must be a number in \[0, 1\)"),
    ],
)
def test_bad_settings_fail_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------------------------------------- callbacks
def grid_cell(png: Path, row: int, column: int, size: int) -> torch.Tensor:
    """One image of a saved make_grid (padding 2) as a tensor in [0, 1], first channel."""
    pixels = torch.from_numpy(np.array(Image.open(png).convert("RGB"))).float() / 255
    top, left = 2 + row * (size + 2), 2 + column * (size + 2)
    return pixels[top : top + size, left : left + size, 0]


@pytest.mark.parametrize("name, columns", [("pix2pix", 3), ("cyclegan", 6)])
def test_translation_grid_shows_input_translation_and_target_or_way_back(name, columns, tmp_path):
    variant = VARIANTS[name]
    seed_everything(0)
    model, data = variant.make_model(), variant.make_data()
    fit(model, data, tmp_path, limit_train_batches=2, callbacks=[TranslationGrid(num_images=3)])
    (png,) = sorted((tmp_path / "translations").glob("step_*.png"))  # after the epoch and at the end: one step
    assert Image.open(png).size == (columns * 10 + 2, 3 * 10 + 2)  # 8x8 images, 2 pixels of padding

    # The first three pairs, as drawn at the start of training; row 0 shows the first.
    a, b = (torch.stack(images) for images in zip(*(data.train_set[index] for index in range(3)), strict=True))
    if model.paired:  # pix2pix, BtoA: input B, its translation (the same dropout noise), target A
        torch.manual_seed(0)
        expected = [b, model.translate(b, "BtoA"), a]
    else:  # CycleGAN: A, A to B, back to A; then B, B to A, back to B
        there, back = model.translate(a, "AtoB"), model.translate(b, "BtoA")
        expected = [a, there, model.translate(there, "BtoA"), b, back, model.translate(back, "AtoB")]
    # make_grid normalises the whole grid's range from [-1, 1] to [0, 1]; the PNG rounds to 1/255.
    for column, images in enumerate(expected):
        assert (grid_cell(png, 0, column, 8) - (images[0, 0] + 1) / 2).abs().max() <= 1 / 255 + 1e-6, column


def test_translation_grid_leaves_the_training_as_it_would_be_without_it(tmp_path):
    variant = VARIANTS["pix2pix"]  # its translations draw dropout noise
    models = []
    for callbacks in ([], [TranslationGrid(num_images=2, every_n_steps=1)]):
        seed_everything(0)
        models.append(variant.make_model())
        fit(models[-1], variant.make_data(), tmp_path, limit_train_batches=3, callbacks=callbacks)
    assert_same_state(models[0], models[1])


def test_each_grid_callback_refuses_the_other_kind_of_model():
    with pytest.raises(TypeError, match="CycleGAN translates images.*use the TranslationGrid"):
        SampleGrid().setup(None, CycleGAN(**TINY_CYCLEGAN), "fit")
    with pytest.raises(TypeError, match="TranslationGrid needs an image-to-image model.*DCGAN.*SampleGrid"):
        TranslationGrid().setup(None, VARIANTS["dcgan"].make_model(), "fit")


# ---------------------------------------------------------------------------------------------------- CLI
def test_cli_trains_cyclegan_with_translation_grids_and_translates_a_folder(tmp_path):
    folder = write_unpaired_layout(tmp_path, "tiny", n=4, size=10)
    cli = cli_main(
        [
            "fit",
            "--model=lightning_gans.models.CycleGAN",
            *[f"--model.init_args.{k}={v}" for k, v in TINY_CYCLEGAN.items() if k not in ("image_size", "channels")],
            "--data=UnpairedImageDataModule",
            f"--data.init_args.root={tmp_path}",
            "--data.init_args.dataset=tiny",
            "--data.init_args.download=false",
            "--data.init_args.image_size=8",
            "--data.init_args.batch_size=2",
            "--data.init_args.num_workers=0",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.enable_progress_bar=false",
        ]
    )
    log_dir = Path(cli.trainer.log_dir)
    assert (cli.model.hparams.image_size, cli.model.hparams.channels) == (8, 3)  # linked from the data
    assert list((log_dir / "translations").glob("step_*.png")) and not (log_dir / "samples").exists()
    ckpt = log_dir / "checkpoints" / "last.ckpt"

    out = tmp_path / "translated"
    main(
        [
            "translate",
            f"--ckpt_path={ckpt}",
            f"--input_dir={folder / 'testB'}",
            "--direction=BtoA",
            f"--output_dir={out}",
        ]
    )
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == [f"{index:04d}.png" for index in range(5)]
    model = load_model(ckpt)
    source = image_transform(8, 3)(Image.open(folder / "testB" / "0003.jpg").convert("RGB"))
    expected = (model.translate(source[None], "BtoA")[0] + 1) / 2
    saved = torch.from_numpy(np.array(Image.open(out / "0003.png"))).permute(2, 0, 1).float() / 255
    assert (saved - expected).abs().max() <= 1 / 255 + 1e-6

    with pytest.raises(TypeError, match="no latent space"):
        main(["generate", f"--ckpt_path={ckpt}", f"--output_dir={tmp_path / 'samples'}"])


def test_translate_refuses_a_model_that_samples_from_noise(tmp_path, capsys):
    trainer = fit(VARIANTS["dcgan"].make_model(), VARIANTS["dcgan"].make_data(), tmp_path, limit_train_batches=1)
    trainer.save_checkpoint(tmp_path / "dcgan.ckpt")
    with pytest.raises(SystemExit) as exit_info:
        main(["translate", f"--ckpt_path={tmp_path / 'dcgan.ckpt'}", f"--input_dir={tmp_path}"])
    assert exit_info.value.code == 1
    assert re.search("holds a DCGAN.*use lightning-gans generate", capsys.readouterr().err)
