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
