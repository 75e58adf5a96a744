"""Improved GAN's techniques: feature matching, minibatch discrimination, historical averaging, VBN."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import seed_everything

from lightning_gans.cli import load_model
from lightning_gans.models import ImprovedGAN
from lightning_gans.nn import HistoricalAverage, MinibatchDiscrimination, ReferenceBatchGenerator, VirtualBatchNorm2d
from tests.test_models import fit, loader

TINY = dict(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)


def generator_gradients(loss: torch.Tensor, model: ImprovedGAN) -> list[torch.Tensor]:
    return torch.autograd.grad(loss, list(model.generator.parameters()))


def test_feature_matching_gradient_is_that_of_the_squared_feature_mean_difference():
    torch.manual_seed(0)
    model = ImprovedGAN(**TINY, feature_matching=True)
    real, z = torch.rand(6, 1, 16, 16) * 2 - 1, model.sample_latent(6)
    gradients = generator_gradients(model.generator_objective(real, model.generator(z)), model)

    # d/dtheta ||m_real - m_fake||^2 = -2 (m_real - m_fake) . d m_fake / d theta, as a vector-Jacobian product.
    real_mean = model.discriminator.body(real).flatten(1).mean(0).detach()
    fake_mean = model.discriminator.body(model.generator(z)).flatten(1).mean(0)
    expected = torch.autograd.grad(
        fake_mean, list(model.generator.parameters()), grad_outputs=-2 * (real_mean - fake_mean.detach())
    )
    for got, want in zip(gradients, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)

    model.hparams.feature_matching = False  # the usual generator loss pulls G elsewhere
    usual = generator_gradients(model.generator_objective(real, model.generator(z)), model)
    assert not torch.allclose(usual[0], gradients[0])


def test_minibatch_discrimination_matches_the_papers_formula():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=6, kernels=3, kernel_dim=2)
    features = torch.randn(4, 6)
    out = layer(features)
    m = (features @ layer.weight).view(4, 3, 2)
    expected = torch.zeros(4, 3)
    for i in range(4):
        for j in range(4):
            if j != i:
                expected[i] += torch.exp(-(m[i] - m[j]).abs().sum(1))
    assert out.shape == (4, 6 + 3)
    torch.testing.assert_close(out[:, :6], features)
    torch.testing.assert_close(out[:, 6:], expected)


def test_minibatch_discrimination_starts_at_the_authors_nearest_neighbour_distance():
    # The authors' data-based initialisation: each kernel's mean L1 distance to the nearest other sample is 2 on a
    # batch of 500. At ImprovedGAN's default width (D's body gives 256 x 4 x 4 features at 32x32) and the paper's
    # 100 kernels of 5, on inputs of unit variance. N(0, 0.05) weights alone give 4.7 here.
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=256 * 4 * 4, kernels=100, kernel_dim=5)
    features = torch.randn(500, 256 * 4 * 4)
    with torch.no_grad():
        rows = (features @ layer.weight).view(500, 100, 5).transpose(0, 1)
        distances = torch.cdist(rows, rows, p=1) + torch.eye(500) * 1e9  # no sample is its own neighbour
    assert distances.min(2).values.mean().item() == pytest.approx(2.0, rel=0.03)


@pytest.mark.parametrize("kernels", [0, 5])
def test_minibatch_discrimination_makes_ds_output_depend_on_the_rest_of_the_batch(kernels):
    torch.manual_seed(0)
    discriminator = ImprovedGAN(**TINY, minibatch_kernels=kernels).discriminator.eval()  # eval: BN mixes nothing
    batch = torch.rand(4, 1, 16, 16) * 2 - 1
    changed = batch.clone()
    changed[1:] = torch.rand(3, 1, 16, 16) * 2 - 1
    with torch.no_grad():
        same_first_sample = torch.equal(discriminator(batch)[0], discriminator(changed)[0])
    assert same_first_sample == (kernels == 0)


def test_historical_averaging_penalty_is_zero_at_the_running_mean_and_tracks_the_mean():
    network = torch.nn.Linear(3, 2)
    history = HistoricalAverage(network)
    assert history.penalty(network).item() == 0.0  # the mean starts at the initial parameters
    snapshots = [torch.nn.utils.parameters_to_vector(network.parameters()).detach().clone()]
    for shift in (0.5, -2.0):
        with torch.no_grad():
            for parameter in network.parameters():
                parameter.add_(shift)
        history.update(network)
        snapshots.append(torch.nn.utils.parameters_to_vector(network.parameters()).detach().clone())
    mean = torch.stack(snapshots).mean(0)
    torch.testing.assert_close(history.mean, mean)
    assert history.count.item() == 3
    current = snapshots[-1]
    assert history.penalty(network).item() == pytest.approx((current - mean).pow(2).sum().item(), rel=1e-6)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(history.mean, network.parameters())
    assert history.penalty(network).item() == 0.0


def test_historical_averages_follow_both_players_through_training(tmp_path):
    model = ImprovedGAN(**TINY, historical_averaging=0.5)
    fit(model, loader(), tmp_path)
    assert model.history["discriminator"].count.item() == model.d_steps + 1
    assert model.history["generator"].count.item() == model.g_steps + 1
    assert model.historical_penalty("generator").item() > 0
    assert ImprovedGAN(**TINY).historical_penalty("generator") == 0.0


def test_historical_averages_stay_out_of_ddps_buffer_broadcast_but_in_the_state_dict():
    model = ImprovedGAN(**TINY, historical_averaging=1.0)
    assert not any(name.startswith("history.") for name, _ in model.named_buffers())
    mean = model.history["generator"].mean.clone()
    state = model.state_dict()
    assert torch.equal(state["history.generator.mean"], mean) and state["history.generator.count"] == 1

    model.double()  # moved and cast with the model, as buffers would be
    assert model.history["generator"].mean.dtype == torch.float64
    assert model.history["generator"].count.dtype == torch.long

    restored = ImprovedGAN(**TINY, historical_averaging=1.0)
    with torch.no_grad():
        restored.history["generator"].mean.zero_()
    restored.load_state_dict(state)
    assert torch.equal(restored.history["generator"].mean, mean)


def test_virtual_batch_norm_makes_each_sample_independent_of_its_batch():
    torch.manual_seed(0)
    generator = ImprovedGAN(**TINY, virtual_batch_norm=True, reference_batch_size=5).generator.train()
    z = torch.randn(6, 8)
    torch.testing.assert_close(generator(z)[:2], generator(z[:2]))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in generator.modules())


def test_virtual_batch_norm_normalises_the_reference_batch_with_its_own_statistics():
    layer = VirtualBatchNorm2d(3, reference_size=4)
    x = torch.randn(6, 3, 5, 5) * 3 + 2
    out = layer(x)
    torch.testing.assert_close(out[:4].mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[:4].var((0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    # A sample outside the reference batch counts as one more sample of it.
    pooled = torch.cat([x[:4], x[4:5]])
    expected = (x[4] - pooled.mean((0, 2, 3))[:, None, None]) / (
        pooled.var((0, 2, 3), unbiased=False)[:, None, None] + 1e-5
    ).sqrt()
    torch.testing.assert_close(out[4], expected, atol=1e-5, rtol=1e-5)


def test_reference_batch_generator_refuses_mismatched_sizes():
    generator = torch.nn.Sequential(torch.nn.Unflatten(1, (2, 1, 1)), VirtualBatchNorm2d(2, reference_size=3))
    with pytest.raises(ValueError, match="reference batches of sizes \\[3\\].*4 reference latents"):
        ReferenceBatchGenerator(generator, torch.zeros(4, 2))


def test_vbn_reference_batch_is_fixed_in_training_and_restored_from_a_checkpoint(tmp_path):
    seed_everything(0)
    model = ImprovedGAN(**TINY, virtual_batch_norm=True, reference_batch_size=4, ema_decay=0.5)
    reference = model.generator.reference_latents.clone()
    trainer = fit(model, loader(), tmp_path)
    assert torch.equal(model.generator.reference_latents, reference)
    assert torch.equal(model.generator_ema.module.reference_latents, reference)
    trainer.save_checkpoint(tmp_path / "model.ckpt")

    seed_everything(1)
    assert not torch.equal(ImprovedGAN(**TINY, virtual_batch_norm=True).generator.reference_latents[:4], reference)
    loaded = load_model(tmp_path / "model.ckpt")
    assert torch.equal(loaded.generator.reference_latents, reference)


def test_improved_gan_rejects_bad_settings():
    with pytest.raises(ValueError, match="minibatch_kernels"):
        ImprovedGAN(**TINY, minibatch_kernels=-1)
    with pytest.raises(ValueError, match="historical_averaging"):
        ImprovedGAN(**TINY, historical_averaging=-1.0)
