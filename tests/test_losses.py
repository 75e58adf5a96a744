from __future__ import annotations

import math

import pytest
import torch

from lightning_gans import losses

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.5])


def log_sigmoid(x: float) -> float:
    return math.log(1 / (1 + math.exp(-x)))


def mean(values) -> float:
    return sum(values) / len(values)


def test_minimax_discriminator_loss_is_the_papers_value_function():
    expected = -mean([log_sigmoid(r) for r in REAL.tolist()]) - mean(
        [math.log(1 - 1 / (1 + math.exp(-f))) for f in FAKE.tolist()]
    )
    assert losses.minimax_discriminator_loss(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_one_sided_label_smoothing_targets_real_at_the_given_value():
    smoothed = losses.minimax_discriminator_loss(REAL, FAKE, real_target=0.9)
    expected_real = -mean([0.9 * log_sigmoid(r) + 0.1 * log_sigmoid(-r) for r in REAL.tolist()])
    expected_fake = -mean([log_sigmoid(-f) for f in FAKE.tolist()])
    assert smoothed.item() == pytest.approx(expected_real + expected_fake, rel=1e-6)


def test_generator_losses():
    assert losses.nonsaturating_generator_loss(FAKE).item() == pytest.approx(
        -mean([log_sigmoid(f) for f in FAKE.tolist()]), rel=1e-6
    )
    assert losses.minimax_generator_loss(FAKE).item() == pytest.approx(
        mean([log_sigmoid(-f) for f in FAKE.tolist()]), rel=1e-6
    )


def test_least_squares_hinge_and_wasserstein_losses():
    r, f = REAL.tolist(), FAKE.tolist()
    assert losses.least_squares_discriminator_loss(REAL, FAKE).item() == pytest.approx(
        0.5 * (mean([(x - 1) ** 2 for x in r]) + mean([x**2 for x in f]))
    )
    assert losses.least_squares_generator_loss(FAKE).item() == pytest.approx(0.5 * mean([(x - 1) ** 2 for x in f]))
    assert losses.hinge_discriminator_loss(REAL, FAKE).item() == pytest.approx(
        mean([max(0, 1 - x) for x in r]) + mean([max(0, 1 + x) for x in f])
    )
    assert losses.hinge_generator_loss(FAKE).item() == pytest.approx(-mean(f))
    assert losses.wasserstein_critic_loss(REAL, FAKE).item() == pytest.approx(mean(f) - mean(r))
    assert losses.wasserstein_generator_loss(FAKE).item() == pytest.approx(-mean(f))


def test_losses_are_safe_for_extreme_logits():
    huge = torch.tensor([1e4, -1e4])
    assert torch.isfinite(losses.minimax_discriminator_loss(huge, -huge))
    assert torch.isfinite(losses.nonsaturating_generator_loss(-huge))


def linear_critic(weight: torch.Tensor):
    return lambda x: (x * weight).flatten(1).sum(1)


def test_gradient_penalty_of_a_linear_critic_is_its_slope_error():
    weight = torch.full((1, 2, 3, 3), 0.5)  # gradient norm sqrt(18) * 0.5 everywhere
    real, fake = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    penalty = losses.gradient_penalty(linear_critic(weight), real, fake)
    assert penalty.item() == pytest.approx((math.sqrt(18) * 0.5 - 1) ** 2, rel=1e-6)


def test_gradient_penalty_matches_the_analytic_gradient_at_the_interpolates():
    # f(x) = sum x^2 has gradient 2x; the seeded generator reproduces the interpolation weights.
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    penalty = losses.gradient_penalty(
        lambda x: x.pow(2).flatten(1).sum(1), real, fake, generator=torch.Generator().manual_seed(3)
    )
    alpha = torch.rand(5, 1, 1, 1, generator=torch.Generator().manual_seed(3))
    x_hat = alpha * real + (1 - alpha) * fake
    expected = ((2 * x_hat).flatten(1).norm(dim=1) - 1).pow(2).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradient_penalty_is_differentiable_in_the_critic_parameters():
    weight = torch.full((1, 1, 2, 2), 0.1, requires_grad=True)
    penalty = losses.gradient_penalty(linear_critic(weight), torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2))
    penalty.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||; ||w|| = 0.2
    assert torch.allclose(weight.grad, torch.full_like(weight, 2 * (0.2 - 1) * 0.1 / 0.2))


def test_gradient_penalty_undoes_the_loss_scale():
    weight = torch.full((1, 2, 3, 3), 0.5)
    real, fake = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    plain = losses.gradient_penalty(linear_critic(weight), real, fake)
    scaled = losses.gradient_penalty(linear_critic(weight), real, fake, grad_scale=torch.tensor(65536.0))
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-6)


def test_one_sided_gradient_penalty_ignores_norms_below_the_target():
    small = torch.full((1, 1, 2, 2), 0.1)  # norm 0.2 < 1
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    assert losses.gradient_penalty(linear_critic(small), real, fake, one_sided=True).item() == 0.0
    assert losses.gradient_penalty(linear_critic(small), real, fake).item() == pytest.approx(0.64)


def test_gradient_penalty_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="differ in shape"):
        losses.gradient_penalty(lambda x: x.sum(), torch.zeros(2, 3), torch.zeros(3, 3))


def tiny_wgan_gp_critic(**settings) -> torch.nn.Module:
    from lightning_gans.models import WGANGP

    torch.manual_seed(0)
    tiny = dict(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)
    return WGANGP(**tiny, **settings).discriminator


# GradScaler's initial scale 2^16 is already above fp16's largest value (65504), and it grows up to 2^24 after
# runs of finite steps. CPU autocast runs the critic in fp16 (there is no CUDA here), which overflows as CUDA does.
@pytest.mark.parametrize("scale", [2.0**16, 2.0**24])
def test_gradient_penalty_is_finite_and_exact_under_fp16_at_any_loss_scale(scale):
    critic = tiny_wgan_gp_critic()
    real, fake = torch.rand(64, 1, 16, 16) * 2 - 1, torch.rand(64, 1, 16, 16) * 2 - 1
    full = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.float16):
        assert critic(real).dtype == torch.float16
        half = losses.gradient_penalty(critic, real, fake, grad_scale=scale, generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(half)
    assert half.item() == pytest.approx(full.item(), rel=1e-3)


def test_an_fp16_step_on_the_penalty_is_taken_at_the_scalers_initial_scale():
    # The penalty's share of the critic loss only: the Wasserstein terms overflow at 2^16 by themselves, since the
    # gradient of a mean of scores with respect to the critic's output bias is the scale itself. Without
    # normalisation the penalty's backward stays finite up to 2^20 (layer norm amplifies it past fp16 from 2^14).
    critic = tiny_wgan_gp_critic(critic_normalization="none")
    real, fake = torch.rand(64, 1, 16, 16) * 2 - 1, torch.rand(64, 1, 16, 16) * 2 - 1
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cpu")
    assert scaler.get_scale() == 2.0**16
    with torch.autocast("cpu", dtype=torch.float16):
        loss = 10.0 * losses.gradient_penalty(critic, real, fake, grad_scale=scaler.get_scale())
    scaler.scale(loss).backward()
    assert all(torch.isfinite(p.grad).all() for p in critic.parameters() if p.grad is not None)  # not the output bias
    before = [p.detach().clone() for p in critic.parameters()]
    scaler.step(optimizer)
    scaler.update()
    assert scaler.get_scale() == 2.0**16  # it halves when it finds an inf or NaN gradient and skips the step
    assert any(not torch.equal(b, p) for b, p in zip(before, critic.parameters(), strict=True))
