"""WGAN's weight clipping and Wasserstein estimate; WGAN-GP's penalty in fp32, bf16 and fp16 with a loss scaler."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import seed_everything
from lightning.pytorch.plugins import MixedPrecision

from lightning_gans import losses
from lightning_gans.models import WGAN, WGANGP
from lightning_gans.models import wgan_gp as wgan_gp_module
from tests.test_models import fit, loader

TINY = dict(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)


def test_wgan_defaults_are_the_papers():
    model = WGAN(**TINY)
    opt_d, opt_g = model.configure_optimizers()[0]
    assert isinstance(opt_d, torch.optim.RMSprop) and opt_d.param_groups[0]["lr"] == 5e-5
    assert isinstance(opt_g, torch.optim.RMSprop) and opt_g.param_groups[0]["lr"] == 5e-5
    assert model.hparams.clip_value == 0.01 and model.hparams.n_critic == 5
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in model.discriminator.modules())


def test_clipping_keeps_every_critic_weight_within_c(tmp_path):
    seed_everything(0)
    model = WGAN(**TINY, n_critic=2, clip_value=0.01)
    assert max(p.abs().max() for p in model.discriminator.parameters()) > 0.01  # N(0, 0.02) and BN scales near 1
    fit(model, loader(), tmp_path)
    assert model.d_steps == 4
    for name, parameter in model.discriminator.named_parameters():
        assert parameter.abs().max() <= 0.01, name
    assert any((p.abs() == 0.01).any() for p in model.discriminator.parameters())  # clipping was at work


def test_wgan_logs_the_critics_wasserstein_estimate(tmp_path):
    trainer = fit(WGAN(**TINY, n_critic=1), loader(), tmp_path, log_every_n_steps=1)
    metrics = {key: float(value) for key, value in trainer.callback_metrics.items()}
    estimate = metrics["critic/wasserstein"]
    assert estimate == pytest.approx(metrics["train/d_real"] - metrics["train/d_fake"], abs=1e-7)
    assert estimate == pytest.approx(-metrics["train/d_loss"], abs=1e-7)  # E[f(x)] - E[f(G(z))] = -critic loss


@pytest.mark.parametrize(
    "burn_in, g_steps, critic_updates_before_g",
    [
        (False, 0, 5),
        (False, 3, 20),
        (True, 0, 100),  # the authors' schedule: 100 critic updates before each of the first 25 G updates
        (True, 24, 2500),
        (True, 25, 2505),  # then n_critic
        (True, 499, 4875),
        (True, 500, 4975),  # and 100 again before every 500th
        (True, 501, 4980),
    ],
)
def test_generator_turn_follows_the_critic_schedule(burn_in, g_steps, critic_updates_before_g):
    model = WGAN(**TINY, critic_burn_in=burn_in)
    model.steps = {"d": critic_updates_before_g - 1, "g": g_steps}
    assert not model.generator_turn()
    model.steps["d"] += 1
    assert model.generator_turn()


def test_wgan_rejects_a_non_positive_clip_value():
    with pytest.raises(ValueError, match="clip_value"):
        WGAN(**TINY, clip_value=0.0)


def test_wgan_gp_defaults_are_the_papers():
    model = WGANGP(**TINY)
    opt_d, _ = model.configure_optimizers()[0]
    assert isinstance(opt_d, torch.optim.Adam)
    assert opt_d.param_groups[0]["lr"] == 1e-4 and tuple(opt_d.param_groups[0]["betas"]) == (0.0, 0.9)
    assert model.hparams.penalty_weight == 10 and model.hparams.n_critic == 5 and model.hparams.drift_weight == 0
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())
    assert any(isinstance(m, torch.nn.GroupNorm) for m in model.discriminator.modules())
    bare = WGANGP(**TINY, critic_normalization="none")
    assert not any(isinstance(m, (torch.nn.GroupNorm, torch.nn.BatchNorm2d)) for m in bare.discriminator.modules())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"critic_normalization": "batch"}, "critic_normalization.*per-sample penalty"),
        ({"penalty_weight": -1.0}, "penalty_weight"),
        ({"drift_weight": -0.1}, "drift_weight"),
    ],
)
def test_wgan_gp_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WGANGP(**TINY, **kwargs)


def finite_difference_penalty(critic, real, fake, alpha, step=1e-6):
    """E[(||grad f(x_hat)|| - 1)^2] with the gradient from central differences, one input coordinate at a time."""
    x_hat = (alpha * real + (1 - alpha) * fake).flatten(1)
    n, d = x_hat.shape
    offsets = torch.eye(d, dtype=x_hat.dtype) * step
    plus = (x_hat[:, None, :] + offsets).reshape(n * d, *real.shape[1:])
    minus = (x_hat[:, None, :] - offsets).reshape(n * d, *real.shape[1:])
    with torch.no_grad():
        gradients = ((critic(plus) - critic(minus)) / (2 * step)).view(n, d)
    return (gradients.norm(dim=1) - 1).pow(2).mean()


def test_wgan_gp_penalty_on_the_models_critic_matches_finite_differences():
    torch.manual_seed(0)
    critic = WGANGP(**TINY).discriminator.double()
    for parameter in critic.parameters():  # larger weights than the init, so the norms are far from 0 and 1
        parameter.data.mul_(3)
    real, fake = torch.rand(3, 1, 16, 16, dtype=torch.float64) * 2 - 1, torch.rand(3, 1, 16, 16, dtype=torch.float64)
    penalty = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))
    alpha = torch.rand(3, 1, 1, 1, generator=torch.Generator().manual_seed(5)).double()
    expected = finite_difference_penalty(critic, real, fake, alpha)
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-6)
    assert abs(expected.item() - 1) > 0.1  # neither a zero gradient nor a unit-norm one


def test_wgan_gp_critic_loss_is_wasserstein_plus_lambda_times_penalty(tmp_path):
    trainer = fit(WGANGP(**TINY, n_critic=1, penalty_weight=7.0), loader(), tmp_path, log_every_n_steps=1)
    metrics = trainer.callback_metrics
    assert metrics["train/gradient_penalty"] > 0
    expected = -metrics["critic/wasserstein"] + 7.0 * metrics["train/gradient_penalty"]
    assert metrics["train/d_loss"] == pytest.approx(expected.item(), rel=1e-5)


def test_wgan_gp_penalty_keeps_its_value_under_bf16_autocast():
    torch.manual_seed(0)
    critic = WGANGP(**TINY).discriminator
    real, fake = torch.rand(8, 1, 16, 16) * 2 - 1, torch.rand(8, 1, 16, 16) * 2 - 1
    full = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert half.dtype == torch.float32
    assert half.item() == pytest.approx(full.item(), rel=2e-2)


def test_wgan_gp_trains_under_fp16_with_the_loss_scale_in_the_penalty(tmp_path, monkeypatch):
    # Trainer(precision="16-mixed") on CPU falls back to bf16 (no scaler), so the plugin is built by hand.
    plugin = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    seen, penalty = [], losses.gradient_penalty

    def recording_penalty(*args, **kwargs):
        seen.append((kwargs["grad_scale"], plugin.scaler.get_scale()))
        return penalty(*args, **kwargs)

    monkeypatch.setattr(wgan_gp_module.losses, "gradient_penalty", recording_penalty)
    seed_everything(0)
    model = WGANGP(**TINY, n_critic=2)
    before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    fit(model, loader(n=80), tmp_path, plugins=[plugin])
    assert len(seen) == 10
    assert all(passed == current for passed, current in seen)
    assert seen[0][0] == 65536.0  # GradScaler's initial scale; it halves after each overflowing step
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(before[k], v) for k, v in model.discriminator.state_dict().items())


def test_loss_scale_is_one_without_a_scaler(tmp_path):
    trainer = fit(WGANGP(**TINY, n_critic=1), loader(n=8), tmp_path, precision="bf16-mixed")
    assert wgan_gp_module.loss_scale(trainer) == 1.0
