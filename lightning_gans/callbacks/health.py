"""ganhacks' "track failures early", automated: watch a GAN train and say what went wrong and what to try."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn
from torch.optim import Optimizer

from lightning_gans.models.base import SampleSource, gradient_norm, logs_this_batch
from lightning_gans.settings import (
    AtLeastTwo,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    check_settings,
    ranged,
)

Action = Literal["warn", "stop"]
NETWORKS = {"d": "discriminator", "g": "generator"}
#: A network whose weights grew by an order of magnitude since training started is the one that diverged, whichever
#: gradient turned NaN first: healthy DCGAN runs on digits stay within 1.01-fold of their initial weight norm over ten
#: epochs, and within 3.3-fold at a hundred times the default learning rate.
BLAME_GROWTH = 10.0
#: A growth factor that stops a run must lie above the one that names the diverged network.
StoppingGrowth = ranged(float, above=BLAME_GROWTH)


class TrainingHealthError(RuntimeError):
    """Raised by TrainingHealth for a check whose action is "stop"."""


class TrainingHealth(Callback):
    """Checks, after every training batch, for the classic GAN failures and reports each with its likely cause
    and a remedy. Each check's action is "warn" (once per episode: again only after the condition has cleared) or
    "stop" (raise ``TrainingHealthError``).

    - Discriminator wins: ``train/d_loss`` within ``d_loss_tolerance`` of the model's ``d_loss_floor`` (the
      value when D separates real from fake perfectly) for ``d_win_patience`` consecutive batches. Skipped for
      models without such a floor (Wasserstein critics), which say so with ``d_loss_floor = None``.
    - Exploding gradients: the gradient norm of a network, taken here after every optimizer step (models log
      theirs only every ``log_every_n_steps`` batches), above ``max_grad_norm``.
    - Not finite: a logged ``train/*`` value or a gradient norm, or (every ``check_every_n_steps``) a weight or a
      fixed-noise sample, is NaN or infinite.
    - Weight growth (every ``check_every_n_steps``): the norm of a network's weights has grown more than
      ``max_weight_growth``-fold since training started (weights of 1e6 are finite, and garbage).
    - Mode collapse (every ``check_every_n_steps`` after ``warmup_steps`` batches): the mean pairwise distance
      of ``num_samples`` fixed-noise samples falls below ``min_diversity_ratio`` times that of a real batch.

    A divergence report names the network whose weights went bad (NaN or infinite, or grown by an order of magnitude
    or more since training started; the most grown one), not the one whose gradient happened to turn NaN first: D's
    gradients go NaN on a diverged G's fakes, and G's on a diverged D's outputs.

    When warnings escalate: never by repetition. A diverged state (not finite, or weights grown past
    ``max_weight_growth``) stops by default, since it does not recover; a winning discriminator, exploding gradients
    and collapse warn by default, since runs do recover from them. A run whose learning rates are absurd (1e6) shows
    these symptoms at every batch, and its weights blow up within a few steps, which stops it.

    Checkpoints: before any checkpoint is written (the ``on_save_checkpoint`` hook), the weights and fixed-noise
    samples are checked as above, whatever the step. A diverged state raises ``TrainingHealthError`` there, so
    nothing is written, and every stop message names the newest checkpoint in the checkpoint folders, which passed
    this check. With ``on_not_finite``/``on_weight_growth`` at "warn", a diverged state is saved after the warning.
    Checkpoints saved with ``save_weights_only`` skip callbacks' hooks, and so this check.

    Logs ``health/d_win_streak``, ``health/max_grad_norm`` and ``health/diversity_ratio``.

    Args:
        d_loss_tolerance: how close train/d_loss must come to the model's d_loss_floor for D to count as winning.
        d_win_patience: consecutive batches of D winning before it is reported.
        max_grad_norm: gradient norm of a network above which its gradients count as exploding.
        min_diversity_ratio: the samples' mean pairwise distance, as a share of a real batch's, below which they count
            as collapsed.
        num_samples: fixed-noise samples (and real images) that diversity is measured on.
        check_every_n_steps: batches between the checks of the weights, the samples and collapse.
        warmup_steps: batches before the collapse check starts.
        on_discriminator_win: "warn" or "stop" when the discriminator wins.
        on_exploding_gradients: "warn" or "stop" when gradients explode.
        on_not_finite: "warn" or "stop" when a loss, gradient norm, weight or sample is NaN or infinite.
        on_collapse: "warn" or "stop" when the samples collapse.
        max_weight_growth: factor by which a network's weight norm may grow over its norm when training started
            before it counts as diverged (healthy runs stay within a few-fold).
        on_weight_growth: "warn" or "stop" when a network's weights grow past max_weight_growth.
    """

    def __init__(
        self,
        d_loss_tolerance: NonNegativeFloat = 0.01,
        d_win_patience: PositiveInt = 200,
        max_grad_norm: PositiveFloat = 100.0,
        min_diversity_ratio: NonNegativeFloat = 0.2,
        num_samples: AtLeastTwo = 64,
        check_every_n_steps: PositiveInt = 100,
        warmup_steps: NonNegativeInt = 500,
        on_discriminator_win: Action = "warn",
        on_exploding_gradients: Action = "warn",
        on_not_finite: Action = "stop",
        on_collapse: Action = "warn",
        max_weight_growth: StoppingGrowth = 1000.0,
        on_weight_growth: Action = "stop",
    ) -> None:
        check_settings(TrainingHealth, locals())
        for name, action in (
            ("on_discriminator_win", on_discriminator_win),
            ("on_exploding_gradients", on_exploding_gradients),
            ("on_not_finite", on_not_finite),
            ("on_collapse", on_collapse),
            ("on_weight_growth", on_weight_growth),
        ):
            if action not in ("warn", "stop"):
                raise ValueError(f"TrainingHealth {name} must be 'warn' or 'stop', got {action!r}")
        self.d_loss_tolerance, self.d_win_patience = d_loss_tolerance, d_win_patience
        self.max_grad_norm, self.min_diversity_ratio = max_grad_norm, min_diversity_ratio
        self.num_samples, self.check_every_n_steps, self.warmup_steps = num_samples, check_every_n_steps, warmup_steps
        self.max_weight_growth = max_weight_growth
        self.actions = {
            "discriminator_win": on_discriminator_win,
            "exploding_gradients": on_exploding_gradients,
            "not_finite": on_not_finite,
            "collapse": on_collapse,
            "weight_growth": on_weight_growth,
        }
        self.d_win_streak = 0
        self.real_diversity: float | None = None
        self.warned: set[str] = set()
        self.grad_norms: dict[str, float] = {}  # this batch's, one per optimizer
        # Each network's weight norm when training started, kept through resumes; growth is measured against it.
        self.initial_weight_norms: dict[str, float] | None = None
        # The step of the first diverged state checkpointed because its check only warns.
        self.diverged_save_step: int | None = None
        self.checkpoint_folders: list[Path] = []

    def state_dict(self) -> dict:
        return {
            "d_win_streak": self.d_win_streak,
            "real_diversity": self.real_diversity,
            "initial_weight_norms": self.initial_weight_norms,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.d_win_streak, self.real_diversity = state_dict["d_win_streak"], state_dict["real_diversity"]
        # Checkpoints written before weight growth was watched lack it: growth then counts from the resumed weights.
        self.initial_weight_norms = state_dict.get("initial_weight_norms")

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.initial_weight_norms is None:
            self.initial_weight_norms = weight_norms(pl_module)
        # Known from here on: ModelCheckpoint resolves its folder in its setup.
        self.checkpoint_folders = [
            Path(callback.dirpath) for callback in trainer.checkpoint_callbacks if getattr(callback, "dirpath", None)
        ]

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
            # Before the step is taken, so the weights show which network diverged.
            self.report_not_finite(pl_module, key, norm)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}
        metrics.update(self.grad_norms)
        step = trainer.fit_loop.total_batch_idx
        self.check_finite_metrics(pl_module, metrics)
        self.check_discriminator_win(pl_module, metrics)
        self.check_gradients(metrics)
        if step % self.check_every_n_steps == 0:
            samples = self.check_state(pl_module)
            if step >= self.warmup_steps and samples is not None:
                self.check_collapse(pl_module, samples)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        # Raising here, before Lightning writes the file, keeps a diverged state off the disk. Every process decides
        # alike, or the others would wait for the stopped one at the save's barrier.
        problem = self.state_problem(pl_module)[0]
        if trainer.strategy.reduce_boolean_decision(problem is not None, all=False):
            check, message = problem or ("not_finite", "another training process found its model diverged.")
            self.report(check, f"the state about to be checkpointed is unfit: {message}")
            if self.diverged_save_step is None:  # the check only warns: the diverged state is saved
                self.diverged_save_step = trainer.global_step

    def check_finite_metrics(self, pl_module: LightningModule, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            if not math.isfinite(value):
                self.report_not_finite(pl_module, key, value)

    def report_not_finite(self, pl_module: LightningModule, key: str, value: float) -> None:
        # Without a network whose weights went bad, the one whose loss or gradient this is diverges now.
        fallback = next((name for prefix, name in NETWORKS.items() if f"/{prefix}_" in key), "network")
        norms = weight_norms(pl_module)
        network = diverged_network(norms, self.weight_growth(norms)) or fallback
        self.report(
            "not_finite",
            f"{key} became {value}: the {network} diverged ({self.weight_evidence(norms)}). {remedy(network)} Or "
            "add a gradient penalty or clipping, or use bf16-mixed instead of 16-mixed.",
        )

    def check_state(self, pl_module: LightningModule) -> Tensor | None:
        """Report a diverged state (see ``state_problem``); the fixed-noise samples, or None if the model has none."""
        problem, samples = self.state_problem(pl_module)
        if problem is not None:
            self.report(*problem)
        return samples

    def state_problem(self, pl_module: LightningModule) -> tuple[tuple[str, str] | None, Tensor | None]:
        """What makes the model's state unfit to train on or checkpoint, as (check, message), or None; and the
        fixed-noise samples drawn to find out (None for models without samples).

        Unfit: a network's weights are NaN or infinite, or have grown more than ``max_weight_growth``-fold since
        training started, or samples from fixed noise are NaN or infinite (a generator whose weights are finite but
        huge overflows in its batch norm's running statistics)."""
        norms = weight_norms(pl_module)
        growth = self.weight_growth(norms)
        network = diverged_network(norms, growth)
        evidence = self.weight_evidence(norms)
        if network is not None and not math.isfinite(norms[network]):
            return (
                "not_finite",
                f"the {network}'s weights hold NaN or infinite values: the {network} diverged "
                f"({evidence}). {remedy(network)}",
            ), None
        grown = [name for name, factor in growth.items() if factor > self.max_weight_growth]
        if grown:
            names = " and the ".join(grown)
            return (
                "weight_growth",
                f"the weights of the {names} have grown more than max_weight_growth={self.max_weight_growth:g}-fold "
                f"since training started: {'they' if len(grown) > 1 else 'it'} diverged ({evidence}). "
                f"{remedy(*grown)}",
            ), None
        if not draws_samples(pl_module):
            return None, None
        samples = pl_module.sample(self.num_samples, generator=torch.Generator().manual_seed(0))
        bad = samples.flatten(1).isfinite().all(dim=1).logical_not().sum().item()
        if bad:
            network = network or "generator"
            return (
                "not_finite",
                f"{bad} of {len(samples)} samples from fixed noise hold NaN or infinite values: "
                f"the {network} diverged ({evidence}). {remedy(network)}",
            ), None
        return None, samples

    def weight_growth(self, norms: dict[str, float]) -> dict[str, float]:
        """Each network's weight norm over its norm when training started (none before training has started)."""
        initial = self.initial_weight_norms or {}
        # A network that started with all-zero weights has no scale to grow from.
        return {name: norm / initial[name] for name, norm in norms.items() if initial.get(name)}

    def weight_evidence(self, norms: dict[str, float]) -> str:
        growth = self.weight_growth(norms)
        if not growth:
            return "weight norms: " + ", ".join(f"{name} {norm:.3g}" for name, norm in norms.items())
        return "weight norm growth since training started: " + ", ".join(
            f"{name} {factor:.3g}-fold" for name, factor in growth.items()
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

    def check_collapse(self, pl_module: LightningModule, samples: Tensor) -> None:
        if self.real_diversity is None:
            return
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
                f"Training stopped: {message} This state was not checkpointed. {self.last_good()}"
            )
        if check not in self.warned:
            self.warned.add(check)
            rank_zero_warn(f"TrainingHealth: {message}")

    def last_good(self) -> str:
        """Which checkpoint to go back to, for the stop messages."""
        newest = max(
            (path for folder in self.checkpoint_folders if folder.is_dir() for path in folder.glob("*.ckpt")),
            key=lambda path: path.stat().st_mtime,
            default=None,
        )
        if newest is None:
            return "No checkpoint has been written yet."
        if self.diverged_save_step is not None:
            return (
                f"The newest checkpoint is {newest}, but the checkpoints written since step {self.diverged_save_step} "
                "hold a diverged state (its check only warned): go back to one written before it."
            )
        return (
            f"The newest checkpoint, {newest}, is the last good one: before every checkpoint TrainingHealth checks "
            "that the weights are finite and not blown up and that they sample finite images."
        )


def draws_samples(pl_module: LightningModule) -> bool:
    """Whether the model has a latent space to sample (translation models follow SampleSource but have none)."""
    return isinstance(pl_module, SampleSource) and pl_module.hparams.get("latent_dim") is not None


def networks(module: nn.Module) -> dict[str, nn.Module]:
    """The model's networks with parameters, by attribute name; a ``ModuleDict``'s apart (CycleGAN's
    "generator.AtoB")."""
    found = {}
    for name, child in module.named_children():
        entries = child.items() if isinstance(child, nn.ModuleDict) else [(None, child)]
        for key, network in entries:
            if next(network.parameters(), None) is not None:
                found[name if key is None else f"{name}.{key}"] = network
    return found


def weight_norms(module: nn.Module) -> dict[str, float]:
    """The L2 norm of each network's weights, in float64 so that weights of 1e30 do not overflow; NaN or infinite
    when a weight is."""
    return {
        name: torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(p.detach(), dtype=torch.float64) for p in network.parameters()])
        ).item()
        for name, network in networks(module).items()
    }


def diverged_network(norms: dict[str, float], growth: dict[str, float]) -> str | None:
    """The network whose weights went bad: the first with NaN or infinite weights, else the most grown one if it grew
    ``BLAME_GROWTH``-fold or more; None if none did."""
    bad = next((name for name, norm in norms.items() if not math.isfinite(norm)), None)
    if bad is not None:
        return bad
    name, factor = max(growth.items(), key=lambda item: item[1], default=(None, 0.0))
    return name if factor >= BLAME_GROWTH else None


def remedy(*diverged: str) -> str:
    """What to lower, with the command-line flags of the players' optimizers (the EMA copy follows G's)."""
    players = sorted({prefix for network in diverged for prefix, name in NETWORKS.items() if network.startswith(name)})
    what = "their learning rates" if len(diverged) > 1 else "its learning rate"
    if not players:
        return f"Lower {what}."
    flags = ", ".join(f"--model.init_args.optimizer_{player}.init_args.lr" for player in players)
    return f"Lower {what} ({flags})."


def diversity(images: Tensor) -> float:
    """Mean pairwise L2 distance between the images of a batch."""
    return torch.pdist(images.detach().float().flatten(1)).mean().item()
