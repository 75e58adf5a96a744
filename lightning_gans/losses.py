"""GAN losses as pure functions of discriminator outputs.

Discriminator outputs are raw scores (logits for the minimax game); nothing here applies a
sigmoid, so every loss is safe under fp16 autocast. Discriminator losses are minimised by D,
generator losses by G.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def minimax_discriminator_loss(
    real_logits: Tensor,
    fake_logits: Tensor,
    real_target: float | Tensor = 1.0,
    fake_target: float | Tensor = 0.0,
) -> Tensor:
    """-[log D(x) + log(1 - D(G(z)))] (Goodfellow et al. 2014, eq. 1), on logits.

    ``real_target`` < 1 gives one-sided label smoothing (Salimans et al. 2016). Targets may also be
    tensors of one target per sample (ganhacks' soft, noisy or flipped labels).
    """
    real = F.binary_cross_entropy_with_logits(real_logits, _targets_like(real_logits, real_target))
    fake = F.binary_cross_entropy_with_logits(fake_logits, _targets_like(fake_logits, fake_target))
    return real + fake


def _targets_like(logits: Tensor, target: float | Tensor) -> Tensor:
    return torch.as_tensor(target, dtype=logits.dtype, device=logits.device).expand_as(logits)


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """log(1 - D(G(z))): the saturating loss of the minimax game as written in the paper."""
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def nonsaturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """-log D(G(z)): same fixed point as the minimax loss, strong gradients early (paper, section 3)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def least_squares_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """LSGAN (Mao et al. 2017) with targets b=1 for real and a=0 for fake, as CycleGAN uses it."""
    return 0.5 * ((real_scores - 1).pow(2).mean() + fake_scores.pow(2).mean())


def least_squares_generator_loss(fake_scores: Tensor) -> Tensor:
    """LSGAN generator loss with target c=1."""
    return 0.5 * (fake_scores - 1).pow(2).mean()


def hinge_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_generator_loss(fake_scores: Tensor) -> Tensor:
    return -fake_scores.mean()


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """||E[f(x)] - E[f(G(z))]||_2^2 over a batch of D's intermediate features (Salimans et al. 2016, sec. 3.1).

    A generator loss: the real features are the target, so no gradient flows into them.
    """
    return (real_features.detach().float().mean(0) - fake_features.float().mean(0)).pow(2).sum()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[f(G(z))] - E[f(x)]: minus the critic's estimate of the Wasserstein-1 distance (Arjovsky et al. 2017)."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    return -fake_scores.mean()


#: The largest factor ``gradient_penalty`` scales the critic output's gradient by under fp16. Gradients grow on their
#: way back through a critic (a normalisation layer multiplies them by 1 / the std of its input: the tiny test critic
#: of WGAN-GP overflows from 2^13 on at initialisation), so it leaves 256x headroom below fp16's 65504. Raising it
#: buys nothing: the penalty's gradients are about 1/sqrt(pixels) per pixel when their norms are near the target, far
#: above fp16's underflow (6e-5), and the rest of the loss scale (scale / this) still protects the penalty's own
#: backward, through the critic's backward graph, from underflowing.
PENALTY_SCALE_LIMIT = 2.0**8


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    grad_scale: float | Tensor = 1.0,
    target_norm: float = 1.0,
    one_sided: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """E[(||grad_x f(x_hat)|| - target_norm)^2] on random interpolates (Gulrajani et al. 2017, eq. 3).

    One interpolation weight per sample; the norm runs over all non-batch dimensions.
    ``one_sided`` penalises only norms above the target. Under fp16 mixed precision pass the loss
    scaler's current scale as ``grad_scale``: the critic output's gradient is multiplied by it, capped at
    ``PENALTY_SCALE_LIMIT``, before ``autograd.grad`` so small gradients do not underflow, and the gradients are
    divided by the same factor before the norm. Returns inf or NaN when the scaled gradients overflowed anyway,
    which makes the scaler skip the step.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake batches differ in shape: {tuple(real.shape)} vs {tuple(fake.shape)}")
    alpha_shape = (real.size(0),) + (1,) * (real.dim() - 1)
    alpha = torch.rand(alpha_shape, device=real.device, generator=generator).to(real.dtype)
    interpolates = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    # Compiled graphs have no double backward: a torch.compile'd critic runs eagerly for the penalty.
    with torch.compiler.set_stance("force_eager"):
        scores = critic(interpolates)
    # The gradient that enters the critic's backward is the scale itself, which fp16 (largest value 65504) cannot
    # hold at GradScaler's initial 2^16: capped, the penalty is finite at every scale. Summed in float32, so that
    # large scores cannot overflow the sum.
    scale = min(float(grad_scale), PENALTY_SCALE_LIMIT)
    (grads,) = torch.autograd.grad(scores.float().sum() * scale, interpolates, create_graph=True)
    grads = grads.float() / scale
    excess = grads.flatten(1).norm(2, dim=1) - target_norm
    if one_sided:
        excess = excess.clamp(min=0)
    return excess.pow(2).mean()


def drift_penalty(real_scores: Tensor) -> Tensor:
    """E[D(x)^2], which keeps a critic's scores from drifting far from zero (Karras et al. 2017, appendix A.1,
    weighted there by epsilon_drift = 0.001)."""
    return real_scores.float().pow(2).mean()


def reconstruction_loss(images: Tensor, reconstructions: Tensor) -> Tensor:
    """BEGAN's L(v) = |v - D(v)| with eta = 1: an auto-encoder's mean pixel-wise L1 error (Berthelot et al. 2017)."""
    return (images.float() - reconstructions.float()).abs().mean()


def mutual_information_loss(
    categorical_logits: Sequence[Tensor],
    categorical: Tensor,
    continuous_means: Tensor,
    continuous: Tensor,
    continuous_log_stds: Tensor | None = None,
    *,
    lambda_categorical: float = 1.0,
    lambda_continuous: float = 0.1,
) -> Tensor:
    """InfoGAN's -lambda L_I(G, Q) (Chen et al. 2016, eq. 5) without its constant H(c): the negative
    log-likelihood of the codes G was given under Q's posterior, summed over codes and averaged over the batch.

    ``categorical_logits`` holds one (batch, values) tensor per categorical code and ``categorical`` the values
    drawn, (batch, codes) of ints; each adds its cross-entropy, weighted by ``lambda_categorical``. The
    continuous codes (batch, codes) are scored under a factored Gaussian with ``continuous_means`` and
    ``continuous_log_stds`` (standard deviation 1 where None, which leaves half a squared error plus
    log(2 pi) / 2 per code), weighted by ``lambda_continuous``.
    """
    categorical_nll = sum(
        (F.cross_entropy(logits.float(), categorical[:, index]) for index, logits in enumerate(categorical_logits)),
        start=torch.zeros((), device=categorical.device),
    )
    log_stds = torch.zeros_like(continuous_means) if continuous_log_stds is None else continuous_log_stds
    standardized = (continuous.float() - continuous_means.float()) * torch.exp(-log_stds.float())
    gaussian_nll = log_stds.float() + 0.5 * standardized.pow(2) + 0.5 * math.log(2 * math.pi)
    return lambda_categorical * categorical_nll + lambda_continuous * gaussian_nll.sum(1).mean()
