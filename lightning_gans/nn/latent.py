"""Tools for a generator's latent space: interpolation (lerp, slerp) and DCGAN's vector arithmetic.

Pure tensor functions; latents are (..., latent_dim) with the vector in the last dimension.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

INTERPOLATIONS = ("slerp", "lerp")

# Below this angle (radians) between two latents slerp's weights are 0/0 in the limit; there slerp equals lerp
# up to O(angle^2), so lerp is used.
PARALLEL_ANGLE = 1e-4


def lerp(a: Tensor, b: Tensor, t: float | Tensor) -> Tensor:
    """Linear interpolation ``a + t (b - a)``; ``t`` is a number or a tensor broadcastable to ``a.shape[:-1]``."""
    return a + _as_weight(t, a) * (b - a)


def slerp(a: Tensor, b: Tensor, t: float | Tensor) -> Tensor:
    """Spherical interpolation along the great circle from ``a`` (t=0) to ``b`` (t=1) (Shoemake 1985; for GAN
    latents White 2016, arXiv 1609.04468):

        sin((1 - t) w) / sin(w) * a + sin(t w) / sin(w) * b,   w the angle between a and b.

    A Gaussian latent in many dimensions lies near the sphere of radius sqrt(latent_dim); slerp keeps the path
    there, while lerp's midpoint of two near-orthogonal latents is shorter by about 1/sqrt(2), a latent the
    generator rarely saw. ``a`` and ``b`` are (..., latent_dim), ``t`` a number or a tensor broadcastable to
    ``a.shape[:-1]``. Where the angle is below ``PARALLEL_ANGLE`` the formula is 0/0 and lerp, its limit,
    is used. Opposite endpoints are refused: no single great circle joins them.
    """
    if a.shape != b.shape:
        raise ValueError(f"slerp needs endpoints of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    norm_a, norm_b = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    if bool((norm_a == 0).any() or (norm_b == 0).any()):
        raise ValueError("slerp was given a zero latent, which has no direction to interpolate; use lerp for it")
    unit_a, unit_b = a / norm_a, b / norm_b
    # The angle from the chord lengths: accurate near 0 and pi, where arccos of the dot product is not.
    angle = 2 * torch.atan2((unit_a - unit_b).norm(dim=-1, keepdim=True), (unit_a + unit_b).norm(dim=-1, keepdim=True))
    if bool((angle > torch.pi - PARALLEL_ANGLE).any()):
        raise ValueError(
            "slerp was given opposite endpoints (b = -c * a): every great circle through them joins them, so the "
            "path is not defined. Use lerp for them, or move one endpoint slightly."
        )
    parallel = angle < PARALLEL_ANGLE
    safe_angle = torch.where(parallel, torch.ones_like(angle), angle)
    weight = _as_weight(t, a)
    weight_a = torch.sin((1 - weight) * safe_angle) / torch.sin(safe_angle)
    weight_b = torch.sin(weight * safe_angle) / torch.sin(safe_angle)
    return torch.where(parallel, lerp(a, b, t), weight_a * a + weight_b * b)


def interpolation_path(a: Tensor, b: Tensor, steps: int, method: Literal["slerp", "lerp"] = "slerp") -> Tensor:
    """``steps`` evenly spaced latents from ``a`` to ``b``, both included: (..., latent_dim) endpoints give
    (..., steps, latent_dim)."""
    if steps < 2:
        raise ValueError(f"an interpolation path needs steps >= 2 (its two endpoints), got {steps}")
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {INTERPOLATIONS}, got {method!r}")
    t = torch.linspace(0.0, 1.0, steps, device=a.device, dtype=a.dtype)
    interpolate = slerp if method == "slerp" else lerp
    return interpolate(a.unsqueeze(-2), b.unsqueeze(-2), t)


def concept_vector(latents: Tensor) -> Tensor:
    """The mean of the (k, latent_dim) latents of k samples showing one concept (e.g. "smiling woman")."""
    if latents.dim() != 2 or latents.size(0) < 1:
        raise ValueError(
            f"a concept is given by the latents of k >= 1 samples, shape (k, latent_dim); got {tuple(latents.shape)}"
        )
    return latents.mean(dim=0)


def latent_arithmetic(
    a: Tensor,
    b: Tensor,
    c: Tensor,
    *,
    variations: int = 0,
    noise_scale: float = 0.25,
    generator: torch.Generator | None = None,
) -> Tensor:
    """DCGAN's vector arithmetic (Radford et al. 2015, arXiv 1511.06434, section 6.3.2): the latent
    ``Y = mean(a) - mean(b) + mean(c)``, e.g. smiling woman - neutral woman + neutral man = smiling man.

    ``a``, ``b`` and ``c`` are (k, latent_dim) latents of samples chosen for each concept; the paper found single
    samples unstable and averaged three per concept. Returns (1 + variations, latent_dim): Y, then ``variations``
    nearby latents ``Y + U(-noise_scale, noise_scale)`` to decode around it, as the paper's figure 7 does
    (scale 0.25, 8 variations).
    """
    if variations < 0 or noise_scale < 0:
        raise ValueError(f"variations and noise_scale must be >= 0, got {variations} and {noise_scale}")
    concepts = [concept_vector(latents) for latents in (a, b, c)]
    if len({concept.shape for concept in concepts}) != 1:
        raise ValueError(f"a, b and c must have the same latent_dim, got {[tuple(x.shape) for x in (a, b, c)]}")
    result = concepts[0] - concepts[1] + concepts[2]
    device = generator.device if generator is not None else result.device
    noise = torch.rand((variations, result.numel()), generator=generator, device=device).to(result)
    return torch.cat([result.unsqueeze(0), result + (2 * noise - 1) * noise_scale])


def _as_weight(t: float | Tensor, like: Tensor) -> Tensor:
    """``t`` as a tensor with a trailing axis, to scale latents of shape (..., latent_dim)."""
    return torch.as_tensor(t, dtype=like.dtype, device=like.device).unsqueeze(-1)
