"""InfoGAN: the latent layout, the information loss, Q learning the codes, and the code traversal grid."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything

from datamodules import DigitsDataModule
from lightning_gans import losses
from lightning_gans.callbacks import CodeTraversalGrid
from lightning_gans.cli import cli_main
from lightning_gans.models import DCGAN, CodeSource, InfoGAN
from tests.test_models import fit, loader


def tiny_infogan(**overrides) -> InfoGAN:
    settings = dict(
        image_size=16,
        channels=1,
        noise_dim=3,
        categorical_codes=(3, 2),
        continuous_codes=2,
        generator_features=4,
        discriminator_features=4,
        q_hidden=8,
    )
    return InfoGAN(**(settings | overrides))


def test_latent_is_noise_then_one_hot_codes_then_continuous_codes():
    model = tiny_infogan()
    noise = torch.tensor([[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]])
    categorical = torch.tensor([[2, 0], [1, 1]])
    continuous = torch.tensor([[0.5, -0.5], [1.0, 0.0]])
    latent = model.latent_from_codes(noise, categorical, continuous)
    expected = torch.tensor(
        [
            [0.1, 0.2, 0.3, 0, 0, 1, 1, 0, 0.5, -0.5],
            [-0.1, -0.2, -0.3, 0, 1, 0, 0, 1, 1.0, 0.0],
        ]
    )
    assert torch.equal(latent, expected)
    assert model.hparams.latent_dim == 10 and isinstance(model, CodeSource)


def test_seeded_draws_repeat_and_follow_the_priors():
    model = tiny_infogan()
    noise, categorical, continuous = model.sample_codes(2000, torch.Generator().manual_seed(3))
    again = model.sample_codes(2000, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip((noise, categorical, continuous), again, strict=True))
    assert categorical.dtype == torch.long
    for index, values in enumerate(model.categorical_codes):  # every value drawn, none outside the code's range
        assert set(categorical[:, index].tolist()) == set(range(values))
    assert continuous.min() >= -1 and continuous.max() <= 1 and continuous.abs().mean() > 0.4
    latent = model.sample_latent(5, torch.Generator().manual_seed(4))
    assert torch.equal(latent, model.latent_from_codes(*model.sample_codes(5, torch.Generator().manual_seed(4))))
    a, b = (model.sample(4, torch.Generator().manual_seed(5)) for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, model.sample(4, torch.Generator().manual_seed(6)))


def test_information_loss_matches_a_hand_computation():
    logits = [torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), torch.tensor([[0.0, 0.0], [3.0, 1.0]])]
    categorical = torch.tensor([[0, 1], [2, 0]])
    means = torch.tensor([[0.5], [-0.5]])
    continuous = torch.tensor([[1.0], [0.5]])
    log_stds = torch.tensor([[0.0], [math.log(2.0)]])

    def cross_entropy(row: list[float], target: int) -> float:
        return -row[target] + math.log(sum(math.exp(v) for v in row))

    categorical_nll = (cross_entropy([2, 0, 0], 0) + cross_entropy([0, 1, 0], 2)) / 2
    categorical_nll += (cross_entropy([0, 0], 1) + cross_entropy([3, 1], 0)) / 2
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    fixed_std_nll = (0.5 * 0.5**2 + 0.5 * 1.0**2) / 2 + half_log_2pi
    learned_std_nll = ((0.5 * 0.5**2) + (math.log(2.0) + 0.5 * (1.0 / 2) ** 2)) / 2 + half_log_2pi

    fixed = losses.mutual_information_loss(logits, categorical, means, continuous, lambda_continuous=0.1)
    assert fixed.item() == pytest.approx(categorical_nll + 0.1 * fixed_std_nll, rel=1e-6)
    learned = losses.mutual_information_loss(
        logits, categorical, means, continuous, log_stds, lambda_categorical=2.0, lambda_continuous=0.5
    )
    assert learned.item() == pytest.approx(2.0 * categorical_nll + 0.5 * learned_std_nll, rel=1e-6)
    # No categorical codes: only the continuous term is left.
    only_continuous = losses.mutual_information_loss([], categorical[:, :0], means, continuous, lambda_continuous=1.0)
    assert only_continuous.item() == pytest.approx(fixed_std_nll, rel=1e-6)


def test_q_learns_to_read_the_codes_from_the_generated_images(tmp_path):
    seed_everything(0)
    # lambda_continuous 1 (the authors' code) instead of 0.1: the weaker pull takes far more steps to show.
    model = tiny_infogan(categorical_codes=(4,), continuous_codes=1, noise_dim=4, lambda_continuous=1.0)
    Trainer(
        accelerator="cpu",
        max_steps=160,  # 80 batches: D and G steps together
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    ).fit(model, datamodule=DigitsDataModule(image_size=16, batch_size=32, num_workers=0))

    noise, categorical, continuous = model.sample_codes(512, torch.Generator().manual_seed(0))
    images = model.generate(model.latent_from_codes(noise, categorical, continuous))
    inferred_categorical, inferred_continuous = model.infer_codes(images)
    assert inferred_categorical.shape == (512, 1) and inferred_continuous.shape == (512, 1)
    accuracy = (inferred_categorical == categorical).float().mean().item()
    correlation = torch.corrcoef(torch.stack([inferred_continuous[:, 0], continuous[:, 0]]))[0, 1].item()
    assert accuracy > 0.5, f"Q reads the 4-valued code {accuracy:.0%} of the time (chance: 25%)"
    assert correlation > 0.5, f"Q's continuous estimate correlates only {correlation:.2f} with the code"


def test_traversal_grid_has_a_row_per_categorical_value_and_sweeps_one_continuous_code():
    model = tiny_infogan()
    seen = []
    generate = model.generate
    model.generate = lambda latent: seen.append(latent) or generate(latent)
    grid = CodeTraversalGrid(categorical_index=0, continuous_index=1, sweep=(-2.0, 2.0), columns=5)
    grid.check_model(model)
    image = grid.grid(model)
    rows, columns, cell = 3, 5, 16 + 2  # make_grid pads every image by 2 pixels
    assert image.shape == (3, rows * cell + 2, columns * cell + 2)
    assert image.min() >= 0 and image.max() <= 1

    latent = seen[0].view(rows, columns, -1)
    noise, first_code, second_code, continuous = latent.split([3, 3, 2, 2], dim=-1)
    assert torch.equal(noise, noise[:1, :1].expand_as(noise))  # one noise vector for the whole grid
    assert torch.equal(first_code.argmax(-1), torch.arange(rows)[:, None].expand(rows, columns))
    assert torch.equal(second_code, second_code[:1, :1].expand_as(second_code))  # the other code is fixed
    assert torch.equal(continuous[..., 1], torch.linspace(-2, 2, columns).expand(rows, columns))
    assert torch.equal(continuous[..., 0], torch.zeros(rows, columns))
    assert torch.equal(image, grid.grid(model))  # seeded: the same grid every time


def test_traversal_grid_refuses_models_without_codes_and_bad_indices():
    dcgan = DCGAN(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)
    with pytest.raises(TypeError, match="CodeSource"):
        CodeTraversalGrid().check_model(dcgan)
    with pytest.raises(ValueError, match="categorical_index=2 .* has 2 categorical"):
        CodeTraversalGrid(categorical_index=2).check_model(tiny_infogan())
    with pytest.raises(ValueError, match="continuous_index=0 .* has 0 continuous"):
        CodeTraversalGrid().check_model(tiny_infogan(continuous_codes=0))
    with pytest.raises(ValueError, match="columns must be an integer >= 2"):
        CodeTraversalGrid(columns=1)


def test_the_cli_draws_the_traversal_for_infogan_only():
    def traversals(*args: str) -> list:
        cli = cli_main(["--data=DigitsDataModule", "--data.init_args.image_size=16", *args], run=False)
        return [callback for callback in cli.trainer.callbacks if isinstance(callback, CodeTraversalGrid)]

    tiny = ["--model.init_args.generator_features=4", "--model.init_args.discriminator_features=4"]
    assert len(traversals("--model=InfoGAN", *tiny)) == 1
    assert traversals("--model=DCGAN", *tiny) == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"categorical_codes": (10, 1)}, "categorical_codes must be a sequence of integers >= 2"),
        ({"continuous_codes": -1}, "continuous_codes must be an integer >= 0"),
        ({"categorical_codes": (), "continuous_codes": 0}, "at least one latent code"),
        ({"noise_dim": -1}, "noise_dim must be an integer >= 0"),
        ({"lambda_continuous": -0.1}, "lambda_continuous"),
    ],
)
def test_bad_code_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        tiny_infogan(**settings)


def test_latent_from_codes_refuses_wrong_shapes_and_values():
    model = tiny_infogan()
    noise, categorical, continuous = model.sample_codes(4)
    with pytest.raises(ValueError, match=r"noise must have shape \(4, 3\)"):
        model.latent_from_codes(noise[:, :2], categorical, continuous)
    with pytest.raises(ValueError, match="categorical code 1 takes values 0 to 1"):
        model.latent_from_codes(noise, torch.tensor([[0, 2]] * 4), continuous)
    with pytest.raises(TypeError, match="integer code values"):
        model.latent_from_codes(noise, categorical.float(), continuous)


def test_both_information_terms_score_the_codes_g_was_given(tmp_path):
    model = tiny_infogan()
    latents, scored = [], []
    model.generator.register_forward_pre_hook(lambda module, args: latents.append(args[0].clone()))
    information_loss = model.information_loss
    model.information_loss = lambda posterior, codes: scored.append(codes) or information_loss(posterior, codes)
    fit(model, loader(n=16), tmp_path)  # 2 batches: D's and G's update each score the batch's codes
    assert len(latents) == 2 and len(scored) == 4
    for latent, d_codes, g_codes in zip(latents, scored[::2], scored[1::2], strict=True):
        assert g_codes is d_codes
        assert torch.equal(latent, model.latent_from_codes(*d_codes))
