"""ganhacks' "track failures early", automated: watch a GAN train and say what went wrong and what to try."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor
from torch.optim import Optimizer

from lightning_gans.models.base import SampleSource, gradient_norm, logs_this_batch

Action = Literal["warn", "stop"]
NETWORKS = {"d": "discriminator", "g": "generator"}


class TrainingHealthError(RuntimeError):
    """Raised by TrainingHealth for a check whose action is "stop"."""


class TrainingHealth(Callback):
    """Checks, after every training batch, for the classic GAN failures and reports each with its likely cause
    and a remedy. Each check's action is "warn" (once per episode) or "stop" (raise ``TrainingHealthError``
    before any checkpoint of the bad state is written, so the last good checkpoint stays the newest).

    - Discriminator wins: ``train/d_loss`` within ``d_loss_tolerance`` of the model's ``d_loss_floor`` (the
      value when D separates real from fake perfectly) for ``d_win_patience`` consecutive batches. Skipped for
      models without such a floor (Wasserstein critics), which say so with ``d_loss_floor = None``.
    - Exploding gradients: the gradient norm of a network, taken here after every optimizer step (models log
      theirs only every ``log_every_n_steps`` batches), above ``max_grad_norm``.
    - Not finite: a logged ``train/*`` value or a gradient norm, or (every ``check_every_n_steps``) a weight, is
      NaN or infinite.
    - Mode collapse (every ``check_every_n_steps`` after ``warmup_steps`` batches): the mean pairwise distance
      of ``num_samples`` fixed-noise samples falls below ``min_diversity_ratio`` times that of a real batch.

    Logs ``health/d_win_streak``, ``health/max_grad_norm`` and ``health/diversity_ratio``.
    """

    def __init__(
        self,
        d_loss_tolerance: float = 0.01,
        d_win_patience: int = 200,
        max_grad_norm: float = 100.0,
        min_diversity_ratio: float = 0.2,
        num_samples: int = 64,
        check_every_n_steps: int = 100,
        warmup_steps: int = 500,
        on_discriminator_win: Action = "warn",
        on_exploding_gradients: Action = "warn",
        on_not_finite: Action = "stop",
        on_collapse: Action = "warn",
    ) -> None:
        for name, value in (
            ("d_win_patience", d_win_patience),
            ("check_every_n_steps", check_every_n_steps),
            ("num_samples", num_samples),
        ):
            if value < 1:
                raise ValueError(f"TrainingHealth {name} must be >= 1, got {value}")
        if num_samples < 2:
            raise ValueError(f"TrainingHealth num_samples must be >= 2 to measure diversity, got {num_samples}")
        for name, action in (
            ("on_discriminator_win", on_discriminator_win),
            ("on_exploding_gradients", on_exploding_gradients),
            ("on_not_finite", on_not_finite),
            ("on_collapse", on_collapse),
        ):
            if action not in ("warn", "stop"):
                raise ValueError(f"TrainingHealth {name} must be 'warn' or 'stop', got {action!r}")
        self.d_loss_tolerance, self.d_win_patience = d_loss_tolerance, d_win_patience
        self.max_grad_norm, self.min_diversity_ratio = max_grad_norm, min_diversity_ratio
        self.num_samples, self.check_every_n_steps, self.warmup_steps = num_samples, check_every_n_steps, warmup_steps
        self.actions = {
            "discriminator_win": on_discriminator_win,
            "exploding_gradients": on_exploding_gradients,
            "not_finite": on_not_finite,
            "collapse": on_collapse,
        }
        self.d_win_streak = 0
        self.real_diversity: float | None = None
        self.warned: set[str] = set()
        self.grad_norms: dict[str, float] = {}  # this batch's, one per optimizer

    def state_dict(self) -> dict:
        return {"d_win_streak": self.d_win_streak, "real_diversity": self.real_diversity}

    def load_state_dict(self, state_dict: dict) -> None:
        self.d_win_streak, self.real_diversity = state_dict["d_win_streak"], state_dict["real_diversity"]

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not draws_samples(pl_module):
            rank_zero_info(f"TrainingHealth: {type(pl_module).__name__} draws no samples; no collapse check.")

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int) -> None:
        # Datasets yield images, or (images, labels) pairs.
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        if self.real_diversity is None and isinstance(images, Tensor):
            self.real_diversity = diversity(images[: self.num_samples])
        self.grad_norms = {}

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Optimizer) -> None:
        norm = gradient_norm(optimizer)
        if norm is None:
            return
        index = trainer.optimizers.index(optimizer)
        name = pl_module.optimizer_names[index] if hasattr(pl_module, "optimizer_names") else str(index)
        key, norm = f"train/{name}_grad_norm", float(norm)
        self.grad_norms[key] = norm
        if not math.isfinite(norm):
            # Before the step is taken: a network whose weights are already bad made this gradient bad too
            # (D's gradients go NaN on a NaN generator's fakes); otherwise this network is diverging now.
            bad_weight = next(non_finite_parameters(pl_module), None)
            network = bad_weight.split(".")[0] if bad_weight else NETWORKS.get(name, "a network")
            self.report_not_finite(key, norm, network)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}
        metrics.update(self.grad_norms)
        step = trainer.fit_loop.total_batch_idx
        self.check_finite_metrics(metrics)
        self.check_discriminator_win(pl_module, metrics)
        self.check_gradients(metrics)
        if step % self.check_every_n_steps == 0:
            self.check_finite_weights(pl_module)
            if step >= self.warmup_steps:
                self.check_collapse(pl_module)

    def check_finite_metrics(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            if not math.isfinite(value):
                network = next((name for prefix, name in NETWORKS.items() if f"/{prefix}_" in key), "a network")
                self.report_not_finite(key, value, network)

    def report_not_finite(self, key: str, value: float, network: str) -> None:
        self.report(
            "not_finite",
            f"{key} became {value}: {network} diverged. Lower its learning rate, add a gradient penalty or "
            "clipping, or use bf16-mixed instead of 16-mixed.",
        )

    def check_finite_weights(self, pl_module: LightningModule) -> None:
        for name in non_finite_parameters(pl_module):
            self.report(
                "not_finite",
                f"weight {name} holds NaN or infinite values: {name.split('.')[0]} diverged. Lower its learning "
                "rate or add a gradient penalty.",
            )

    def check_discriminator_win(self, pl_module: LightningModule, metrics: dict[str, float]) -> None:
        floor = getattr(pl_module, "d_loss_floor", None)
        if floor is None or "train/d_loss" not in metrics:
            return
        won = metrics["train/d_loss"] - floor < self.d_loss_tolerance
        self.d_win_streak = self.d_win_streak + 1 if won else 0
        if logs_this_batch(pl_module.trainer):  # a self.log costs Lightning about half a millisecond
            pl_module.log("health/d_win_streak", float(self.d_win_streak))
        if self.d_win_streak >= self.d_win_patience:
            self.report(
                "discriminator_win",
                f"the discriminator's loss has stayed within {self.d_loss_tolerance} of its minimum for "
                f"{self.d_win_streak} steps: D separates real from fake perfectly and G gets almost no gradient. "
                "Try label smoothing or noisy labels, instance noise on D's inputs, a lower D learning rate or "
                "fewer D steps (n_critic), or a Wasserstein loss (WGANGP).",
            )
        else:
            self.warned.discard("discriminator_win")

    def check_gradients(self, metrics: dict[str, float]) -> None:
        norms = {k: v for k, v in metrics.items() if k.endswith("_grad_norm")}
        if not norms:
            return
        key, largest = max(norms.items(), key=lambda item: item[1])
        if largest > self.max_grad_norm:
            network = next((name for prefix, name in NETWORKS.items() if f"/{prefix}_" in key), key)
            self.report(
                "exploding_gradients",
                f"{key} = {largest:.3g} exceeds {self.max_grad_norm}: {network}'s gradients are exploding. Lower "
                "its learning rate, add a gradient penalty (WGANGP) or spectral normalisation, or clip gradients.",
            )
        else:
            self.warned.discard("exploding_gradients")

    def check_collapse(self, pl_module: LightningModule) -> None:
        if self.real_diversity is None or not draws_samples(pl_module):
            return
        samples = pl_module.sample(self.num_samples, generator=torch.Generator().manual_seed(0))
        ratio = diversity(samples) / max(self.real_diversity, 1e-12)
        pl_module.log("health/diversity_ratio", ratio)
        if ratio < self.min_diversity_ratio:
            self.report(
                "collapse",
                f"the samples have collapsed: a fixed batch is only {ratio:.0%} as diverse as real data (mean "
                "pairwise distance). Try minibatch discrimination or feature matching (ImprovedGAN), a lower G "
                "learning rate, more D steps, or a Wasserstein loss (WGANGP).",
            )
        else:
            self.warned.discard("collapse")

    def report(self, check: str, message: str) -> None:
        if self.actions[check] == "stop":
            raise TrainingHealthError(
                f"Training stopped: {message} This state was not checkpointed: the newest checkpoint is the last "
                "good one."
            )
        if check not in self.warned:
            self.warned.add(check)
            rank_zero_warn(f"TrainingHealth: {message}")


def draws_samples(pl_module: LightningModule) -> bool:
    """Whether the model has a latent space to sample (translation models follow SampleSource but have none)."""
    return isinstance(pl_module, SampleSource) and pl_module.hparams.get("latent_dim") is not None


def non_finite_parameters(module: torch.nn.Module) -> Iterator[str]:
    """The names of ``module``'s parameters that hold NaN or infinite values."""
    return (name for name, parameter in module.named_parameters() if not torch.isfinite(parameter).all())


def diversity(images: Tensor) -> float:
    """Mean pairwise L2 distance between the images of a batch."""
    return torch.pdist(images.detach().float().flatten(1)).mean().item()
