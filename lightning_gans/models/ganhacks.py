"""Tricks from ganhacks (Chintala et al., https://github.com/soumith/ganhacks) that act on D's targets and inputs.

One implementation for every minimax-game model (GAN, DCGAN, ImprovedGAN); with the defaults each
trick is off and draws no random numbers, so a model trains exactly as its paper says.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_gans.settings import NonNegativeFloat, NonNegativeInt, Probability, check_settings


class GANHacks:
    """Soft and noisy labels, label flipping and annealed instance noise for the discriminator.

    Args:
        real_label_range: (low, high) range that D's target for each real image is drawn from uniformly
            (ganhacks: (0.7, 1.2); (0.9, 0.9) is Salimans et al.'s one-sided label smoothing).
        fake_label_range: (low, high) range that D's target for each generated image is drawn from uniformly
            (ganhacks: (0.0, 0.3)).
        label_flip_probability: chance that an image's target is drawn from the other range instead,
            when training D (ganhacks: "occasionally flip the labels", e.g. 0.05).
        instance_noise_std: standard deviation of Gaussian noise added to every image D sees, real and
            generated (Sønderby et al. 2016), decreasing linearly to zero over instance_noise_steps
            generator steps; 0 for none.
        instance_noise_steps: generator steps over which the instance noise anneals to zero.
    """

    def __init__(
        self,
        real_label_range: tuple[float, float] = (1.0, 1.0),
        fake_label_range: tuple[float, float] = (0.0, 0.0),
        label_flip_probability: Probability = 0.0,
        instance_noise_std: NonNegativeFloat = 0.0,
        instance_noise_steps: NonNegativeInt = 0,
    ) -> None:
        check_settings(GANHacks, locals())
        for name, (low, high) in (("real_label_range", real_label_range), ("fake_label_range", fake_label_range)):
            if low > high:
                raise ValueError(f"{name} must be (low, high) with low <= high, got ({low}, {high})")
        if instance_noise_std > 0 and instance_noise_steps < 1:
            raise ValueError(
                f"instance_noise_std={instance_noise_std} needs instance_noise_steps >= 1, the generator steps over "
                f"which the noise anneals to zero; got {instance_noise_steps}"
            )
        self.real_label_range, self.fake_label_range = tuple(real_label_range), tuple(fake_label_range)
        self.label_flip_probability = label_flip_probability
        self.instance_noise_std, self.instance_noise_steps = instance_noise_std, instance_noise_steps

    def targets(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor | float, Tensor | float]:
        """D's targets for a real and a generated batch: numbers when fixed, else one per sample."""
        return (
            self._labels(real_logits, self.real_label_range, self.fake_label_range),
            self._labels(fake_logits, self.fake_label_range, self.real_label_range),
        )

    def noise_std(self, g_steps: int) -> float:
        """The instance noise's standard deviation after ``g_steps`` generator steps."""
        if self.instance_noise_std == 0:
            return 0.0
        return self.instance_noise_std * max(0.0, 1.0 - g_steps / self.instance_noise_steps)

    def instance_noise(self, images: Tensor, g_steps: int) -> Tensor:
        """``images`` plus the instance noise of this point in training."""
        std = self.noise_std(g_steps)
        return images + std * torch.randn_like(images) if std > 0 else images

    def _labels(self, logits: Tensor, own: tuple[float, float], other: tuple[float, float]) -> Tensor | float:
        labels = self._uniform(logits, own)
        if self.label_flip_probability > 0:
            flipped = torch.rand(logits.shape, device=logits.device) < self.label_flip_probability
            labels = torch.where(flipped, self._uniform(logits, other), labels)
        return labels

    @staticmethod
    def _uniform(logits: Tensor, bounds: tuple[float, float]) -> Tensor | float:
        low, high = bounds
        if low == high:
            return low
        return torch.empty(logits.shape, device=logits.device).uniform_(low, high)
