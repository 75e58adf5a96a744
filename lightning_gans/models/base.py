"""The base LightningModule that every GAN variant builds on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable, instantiate_class
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from lightning_gans.settings import OpenUnitInterval, PositiveInt, check_settings

# Arguments that are code, not numbers: kept out of the checkpoint's hyperparameters so checkpoints
# load with torch.load(weights_only=True). LightningCLI saves them in the run's config.yaml.
NOT_HYPERPARAMETERS = ("generator", "discriminator", "optimizer_g", "optimizer_d", "scheduler_g", "scheduler_d")


#: The settings a variant's ``__init__`` hands to GANModule unchanged, under the same names.
PASSED_TO_BASE = (
    "optimizer_g",
    "optimizer_d",
    "scheduler_g",
    "scheduler_d",
    "n_critic",
    "ema_decay",
    "channels_last",
    "torch_compile",
)


def base_settings(arguments: dict[str, Any]) -> dict[str, Any]:
    """The ``PASSED_TO_BASE`` settings among a variant's ``__init__`` arguments (pass ``locals()``).

    Variants keep explicit signatures, which LightningCLI reads; this spares them naming each setting twice.
    One the variant lacks is left out, and GANModule then refuses the call for want of it."""
    return {name: arguments[name] for name in PASSED_TO_BASE if name in arguments}


def adam(lr: float, betas: tuple[float, float]) -> dict[str, Any]:
    """An Adam optimizer as a ``class_path``/``init_args`` spec: serialisable, so LightningCLI shows it."""
    return {"class_path": "torch.optim.Adam", "init_args": {"lr": lr, "betas": list(betas)}}


def build(model: LightningModule, setting: str, factory: Any, *args: Any) -> Any:
    """Call the optimizer or scheduler factory that is ``model``'s ``setting`` (e.g. "optimizer_g"): a callable, or a
    ``class_path``/``init_args`` dict. Its complaint about an argument (torch's "Invalid learning rate: -1.0") comes
    when training starts, far from where the argument was set, so it is raised again naming the setting."""
    try:
        return instantiate_class(args, factory) if isinstance(factory, dict) else factory(*args)
    except ValueError as error:
        raise ValueError(
            f"{type(model).__name__} {setting} was given an invalid argument: {error}. Correct it in {setting}'s "
            f"init_args (on the command line: --model.init_args.{setting}.init_args.NAME VALUE)."
        ) from error


@runtime_checkable
class SampleSource(Protocol):
    """What callbacks may use of a model: its generator-step count and ``sample``."""

    g_steps: int

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class LatentSource(Protocol):
    """A ``SampleSource`` whose latents can be drawn and decoded apart (latent walks, vector arithmetic):
    ``sample_latent`` gives (n, ...) latents, ``generate`` decodes them to images in [-1, 1]."""

    g_steps: int

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...

    def generate(self, latent: Tensor) -> Tensor: ...


@runtime_checkable
class TranslationSource(Protocol):
    """What callbacks may use of an image-to-image model: its generator-step count, the directions it
    translates ("AtoB", "BtoA"), whether its training pairs are aligned (then an image's counterpart is
    its translation's target; otherwise the translation back should give the image again) and ``translate``.
    Its training batches are ``(A images, B images)``."""

    g_steps: int
    directions: tuple[str, ...]
    paired: bool

    def translate(self, images: Tensor, direction: str) -> Tensor: ...


@runtime_checkable
class ConditionalSource(Protocol):
    """A ``SampleSource`` whose samples are asked for by class: ``labels`` (n,) of ints in
    [0, num_classes), or None for labels drawn uniformly. ``generate`` decodes given latents for given labels."""

    g_steps: int
    num_classes: int

    def sample(self, n: int, generator: torch.Generator | None = None, labels: Tensor | None = None) -> Tensor: ...

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...

    def generate(self, latent: Tensor, labels: Tensor) -> Tensor: ...


@runtime_checkable
class CodeSource(Protocol):
    """A ``SampleSource`` with interpretable latent codes (InfoGAN): its latent is noise plus
    ``categorical_codes`` (the number of values of each categorical code) plus ``continuous_codes``
    continuous ones. ``latent_from_codes(noise, categorical, continuous)`` assembles latents from noise
    (n, noise_dim), code values (n, len(categorical_codes)) of ints and (n, continuous_codes) of floats,
    for ``generate``."""

    g_steps: int
    noise_dim: int
    categorical_codes: tuple[int, ...]
    continuous_codes: int

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...

    def latent_from_codes(self, noise: Tensor, categorical: Tensor, continuous: Tensor) -> Tensor: ...

    def generate(self, latent: Tensor) -> Tensor: ...


#: The EMA generator's batch-norm statistics ("standing statistics", BigGAN) are averaged over this many batches
#: of this many samples, drawn afresh from this seed each time: a private stream, apart from the global one (which
#: a resumed run must reproduce) and from the small seeds that callbacks draw their fixed noise with.
STANDING_STATISTICS_BATCHES = 4
STANDING_STATISTICS_BATCH_SIZE = 64
STANDING_STATISTICS_SEED = 20_160_613


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode for the block and restore its previous mode after."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


class GANModule(LightningModule):
    """A two-player game trained with manual optimisation.

    A variant builds its networks (plain ``nn.Module``s from ``lightning_gans.nn``), passes them here (with
    its optimizer, schedule, n_critic, EMA and GPU settings as ``**base_settings(locals())``),
    and writes ``training_step`` as its paper's algorithm box on these helpers:

    - ``opt_d, opt_g = self.optimizers()``; inside ``with self.toggled_optimizer(opt):`` compute a loss
      and call ``self.update(opt, loss)`` (zero grad, backward, step, count the step, and after a
      generator step update the EMA). Where one batch of fakes serves both players, make it once before the
      toggles (with G's graph only when G updates in this batch): D's step on ``fake.detach()``, G's on the same fakes.
    - ``self.generator_turn()`` is true once D has made ``n_critic`` updates since G's last one.
    - ``self.real_images(batch)`` takes the images out of a batch and checks their shape.
    - ``self.sample_latent(n)`` draws z; ``self.sample(n)`` returns images in [-1, 1] for callbacks,
      from the EMA generator when there is one.

    Step counts (``g_steps``, ``d_steps``) are our own, not ``trainer.global_step``, which counts
    every optimizer step of both players. The checkpoint holds them, the EMA weights, the optimizer
    and scheduler states and the torch random state, so a resumed run continues exactly. Schedulers
    are stepped once per epoch.

    How later variants plug in without changes here:

    - Two generators and two discriminators (CycleGAN): pass ``nn.ModuleDict``s as ``generator`` and
      ``discriminator``; both players still have one optimizer each over all their parameters.
    - An auxiliary Q head (InfoGAN): register it as a submodule and override ``generator_parameters``
      to add its parameters to G's optimizer; override ``sample_latent`` to append the codes.
    - Conditioning labels (cGAN): take them from the batch in ``training_step`` and override
      ``sample`` to accept labels.
    - A growing network with phase state (ProGAN), a control variable (BEGAN's k_t): tensors go in buffers
      (``register_buffer``) and plain numbers in ``get_extra_state``/``set_extra_state`` (extend ``super()``'s
      dict); both are part of ``state_dict`` and so of every checkpoint. State each DDP process keeps for
      itself (CycleGAN's image pool) goes in a ``RankLocal`` module (``lightning_gans.nn.image_pool``), out of
      DDP's buffer broadcast.
    - More than two optimizers: override ``configure_optimizers`` and ``optimizer_names``.
    - Image-to-image translation (pix2pix, CycleGAN): pass ``latent_dim=None`` (no latent space, so no
      ``sample``) and follow ``TranslationSource`` instead of ``SampleSource``.

    The GPU recipe, off by default (with ``--trainer.precision bf16-mixed``): ``channels_last`` keeps image
    batches and 4-D weights in NHWC memory order, which tensor-core convolutions want (fully connected networks have
    no 4-D weights, so for them it only changes the batches' layout). The results are the same up to rounding, but
    dropout masks and noise drawn with ``*_like`` follow the memory order, so those draws land on other elements
    than without it. ``torch_compile`` compiles ``networks_to_compile()`` (G and D, or the networks inside their
    ``ModuleDict``s) in place with ``nn.Module.compile``, so parameter names, and checkpoints, stay as they are and
    load into uncompiled models; the EMA generator, used only for sampling, stays eager, and so does a critic's
    gradient penalty (compiled graphs have no double backward). ``configure_model`` applies both, before Lightning
    moves the model to its device and wraps it for DDP.

    Args:
        generator: G, from latents (or, translating, images) to images in [-1, 1].
        discriminator: D, from images to scores.
        latent_dim: dimensions of the latent vector z that G turns into an image.
        latent_distribution: distribution of z's entries: "normal", N(0, 1), or "uniform", U(-1, 1).
        optimizer_g: G's optimizer: a class_path/init_args spec (on the command line e.g.
            --model.init_args.optimizer_g.init_args.lr 1e-4), or in Python a callable taking G's parameters.
        optimizer_d: D's optimizer, given as optimizer_g is.
        scheduler_g: learning-rate scheduler of G's optimizer, stepped once per epoch; None for a constant rate.
        scheduler_d: learning-rate scheduler of D's optimizer, stepped once per epoch; None for a constant rate.
        n_critic: discriminator (critic) updates per generator update.
        ema_decay: decay per generator step of the exponential moving average of G's weights that sample() draws
            from, e.g. 0.999; None for no average.
        channels_last: keep image batches and 4-D weights in NHWC memory order (the GPU recipe above).
        torch_compile: compile the networks with nn.Module.compile (the GPU recipe above).
    """

    #: One name per optimizer returned by ``configure_optimizers``, in order; used for logging and counting.
    optimizer_names: tuple[str, ...] = ("d", "g")
    #: The value ``train/d_loss`` takes when D separates real from fake perfectly (0 for the minimax,
    #: least-squares and hinge losses); None where the loss has no such floor (Wasserstein critics).
    #: TrainingHealth watches for D staying there.
    d_loss_floor: float | None = 0.0

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        latent_dim: PositiveInt | None,
        latent_distribution: Literal["normal", "uniform"] | None,
        optimizer_g: OptimizerCallable | dict,
        optimizer_d: OptimizerCallable | dict,
        scheduler_g: LRSchedulerCallable | dict | None,
        scheduler_d: LRSchedulerCallable | dict | None,
        n_critic: PositiveInt,
        ema_decay: OpenUnitInterval | None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(GANModule, locals())
        super().__init__()
        # latent_dim None: no latent space (image-to-image translation, see TranslationSource).
        if latent_dim is not None and latent_distribution not in ("normal", "uniform"):
            raise ValueError(f"latent_distribution must be 'normal' or 'uniform', got {latent_distribution!r}")
        self.save_hyperparameters(ignore=list(NOT_HYPERPARAMETERS))
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.generator_ema = None
        if ema_decay is not None:
            # Buffers are not weights: averaging the live generator's batch-norm statistics gives statistics of
            # neither network. use_buffers=False copies the live buffers at each update instead (so fixed ones, like
            # ImprovedGAN's VBN reference batch, stay equal), and update_ema_statistics replaces the batch-norm ones
            # with the EMA generator's own before it samples.
            self.generator_ema = AveragedModel(
                generator, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=False
            ).requires_grad_(False)
        #: The generator step at which the EMA generator's batch-norm statistics were last computed (None: never).
        self.ema_statistics_step: int | None = None
        self.optimizer_factories = {"g": optimizer_g, "d": optimizer_d}
        self.scheduler_factories = {"g": scheduler_g, "d": scheduler_d}
        self.steps = dict.fromkeys(self.optimizer_names, 0)
        self.optimizer_settings: dict[str, dict[str, Any]] | None = None  # set by configure_optimizers
        self.resumed_optimizer_settings: dict[str, dict[str, Any]] | None = None

    def configure_model(self) -> None:
        # Lightning calls this before it moves the model to its device (which keeps the memory format) and
        # before it wraps it for DDP, and again on every fit/validate/test call: compile each network once.
        if self.hparams.get("channels_last"):
            self.to(memory_format=torch.channels_last)
        if self.hparams.get("torch_compile"):
            for network in self.networks_to_compile():
                if network._compiled_call_impl is None:
                    network.compile()

    def networks_to_compile(self) -> list[nn.Module]:
        """What ``torch_compile`` compiles: G and D, or each network in them when they are ``ModuleDict``s
        (CycleGAN's pairs; a ``ModuleDict`` is never called, so compiling it would compile nothing). Variants
        whose networks branch on training state (ProGAN's level and fade-in) return their fixed parts instead."""
        players = (self.generator, self.discriminator)
        return [
            net for player in players for net in (player.values() if isinstance(player, nn.ModuleDict) else [player])
        ]

    # ----------------------------------------------------------------------------------------- state
    @property
    def g_steps(self) -> int:
        return self.steps["g"]

    @property
    def d_steps(self) -> int:
        return self.steps["d"]

    def get_extra_state(self) -> dict[str, Any]:
        return {"steps": dict(self.steps), "ema_statistics_step": self.ema_statistics_step}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.steps = dict(state["steps"])
        # Checkpoints written before standing statistics have none: their EMA statistics are recomputed.
        self.ema_statistics_step = state.get("ema_statistics_step")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        cls = type(self)
        checkpoint["lightning_gans"] = {
            "class_path": f"{cls.__module__}.{cls.__qualname__}",
            "rng": _rng_state(),
            "optimizer_settings": self.optimizer_settings,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Only a resumed fit takes the random state back; a plain load_from_checkpoint leaves it alone.
        if self._trainer is not None and self.trainer.state.fn == "fit":
            _set_rng_state(checkpoint["lightning_gans"]["rng"])
            self.resumed_optimizer_settings = checkpoint["lightning_gans"].get("optimizer_settings")

    def on_train_start(self) -> None:
        if self.resumed_optimizer_settings is not None:
            self.apply_optimizer_settings(self.resumed_optimizer_settings)

    def apply_optimizer_settings(self, resumed: dict[str, dict[str, Any]]) -> None:
        """On resume, this run's optimizer settings (e.g. learning rates lowered after a divergence) replace those
        the checkpoint's run was given, which Lightning restores with the optimizer's state; the state itself
        (Adam's moments) is kept. A learning rate under a scheduler is rescaled, so the schedule goes on from the
        new base rate. Unchanged settings leave resume exact."""
        optimizers = self.optimizers(use_pl_optimizer=False)
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        schedulers = {id(config.scheduler.optimizer): config.scheduler for config in self.trainer.lr_scheduler_configs}
        for name, optimizer in zip(self.optimizer_names, optimizers, strict=True):
            was = resumed.get(name, {})
            for key, value in self.optimizer_settings[name].items():
                if key not in was or was[key] == value:
                    continue
                rank_zero_info(f"Resuming with optimizer_{name} {key}={value} (the checkpoint's run: {was[key]})")
                scheduler = schedulers.get(id(optimizer))
                for index, group in enumerate(optimizer.param_groups):
                    if key == "lr" and scheduler is not None:
                        group["lr"] *= value / was[key]
                        group["initial_lr"] = scheduler.base_lrs[index] = value
                    else:
                        group[key] = value

    # ------------------------------------------------------------------------------------ optimizers
    def generator_parameters(self) -> Iterator[nn.Parameter]:
        return self.generator.parameters()

    def discriminator_parameters(self) -> Iterator[nn.Parameter]:
        return self.discriminator.parameters()

    def configure_optimizers(self) -> Any:
        parameters = {"g": self.generator_parameters(), "d": self.discriminator_parameters()}
        optimizers = {
            name: build(self, f"optimizer_{name}", self.optimizer_factories[name], parameters[name])
            for name in self.optimizer_names
        }
        schedulers = [
            build(self, f"scheduler_{name}", self.scheduler_factories[name], optimizers[name])
            for name in self.optimizer_names
            if self.scheduler_factories[name] is not None
        ]
        watches_metric = any(isinstance(scheduler, ReduceLROnPlateau) for scheduler in schedulers)
        if watches_metric and type(self).plateau_metric is GANModule.plateau_metric:
            raise ValueError(
                f"ReduceLROnPlateau needs a quantity to watch and {type(self).__name__} has none (only variants "
                "with a convergence measure, e.g. BEGAN's M_global, define plateau_metric). Use a scheduler that "
                "needs no metric, e.g. torch.optim.lr_scheduler.StepLR or ExponentialLR."
            )
        # What this run asked for, before any scheduler changes it: a resumed run compares it with its checkpoint's.
        self.optimizer_settings = {
            name: {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
            for name, optimizer in optimizers.items()
        }
        return [optimizers[name] for name in self.optimizer_names], schedulers

    def update(self, optimizer: Any, loss: Tensor) -> None:
        """One optimizer step on ``loss``; counts it, and after a generator step updates the EMA."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        name = self._optimizer_name(optimizer)
        self.steps[name] += 1
        if name == "g" and self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)

    def log_diagnostics(self, metrics: dict[str, Tensor]) -> None:
        """Log values that nothing reads every batch (D's outputs, a critic's estimates, penalties) on the batches
        the loggers write only: each ``self.log`` costs Lightning a fraction of a millisecond (benchmarks/overhead.py).
        Losses, which the progress bar and TrainingHealth read, go through ``self.log`` every batch."""
        if logs_this_batch(self.trainer):
            self.log_dict(metrics)

    def generator_turn(self) -> bool:
        return self.steps["d"] % self.hparams.n_critic == 0

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None:
        # Called after AMP unscaling, so these are the true gradient norms. Only on the batches the loggers write:
        # each self.log costs about half a millisecond of Lightning's bookkeeping (benchmarks/overhead.py).
        if not logs_this_batch(self.trainer):
            return
        norm = gradient_norm(optimizer)
        if norm is not None:
            self.log(f"train/{self._optimizer_name(optimizer)}_grad_norm", norm)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # The loggers' x-axis for what this batch logged: generator updates done by its end, the step that sample
        # grids, checkpoint names and FID/KID/IS count. (Lightning's default counts batches: several per generator
        # update with n_critic > 1.) Only where the loggers write, as log_diagnostics.
        if logs_this_batch(self.trainer):
            self.log("step", float(self.g_steps))

    def on_train_epoch_end(self) -> None:
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(self.plateau_metric())
            else:
                scheduler.step()

    def plateau_metric(self) -> Tensor:
        """The epoch's value of the quantity that ReduceLROnPlateau schedulers watch, read once per epoch.

        Variants with a convergence measure (BEGAN's M_global) override this; for the others such a
        scheduler is refused when the optimizers are built.
        """
        raise NotImplementedError(f"{type(self).__name__} defines no plateau_metric")

    def _optimizer_name(self, optimizer: Any) -> str:
        raw = getattr(optimizer, "optimizer", optimizer)  # unwrap LightningOptimizer
        for name, candidate in zip(self.optimizer_names, self.trainer.optimizers, strict=True):
            if candidate is raw:
                return name
        raise RuntimeError("update() was given an optimizer that configure_optimizers did not return")

    # ---------------------------------------------------------------------------------- data and z
    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """(channels, height, width) that the networks expect, when the variant has them as hyperparameters."""
        if "channels" in self.hparams and "image_size" in self.hparams:
            return (self.hparams.channels, self.hparams.image_size, self.hparams.image_size)
        return None

    def real_images(self, batch: Tensor | tuple | list) -> Tensor:
        """The images of a batch (datasets yield images, or (image, label) pairs), checked against the networks."""
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        expected = self.image_shape
        if expected is not None and tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"The data yields images of shape {tuple(images.shape[1:])} (channels, height, width) but "
                f"{type(self).__name__} was built for {expected}. Make the model match the data: on the command "
                "line the datamodule's image_size and channels are passed to the model for you; in Python "
                f"build the model with channels={images.shape[1]}, image_size={images.shape[-1]} (or resize "
                "the data with the datamodule's image_size)."
            )
        if self.hparams.get("channels_last"):
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latent vectors; a seeded ``generator`` gives the same vectors every time (fixed noise for grids)."""
        if self.hparams.get("latent_dim") is None:
            raise TypeError(
                f"{type(self).__name__} has no latent space to sample from: it translates images. Use its "
                "translate(images, direction) (on the command line: lightning-gans translate)."
            )
        device = generator.device if generator is not None else self.device
        z = draw_latent((n, self.hparams.latent_dim), self.hparams.latent_distribution, generator, device)
        return z.to(self.device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images in [-1, 1] from the EMA generator if there is one, in eval mode."""
        return self.generate(self.sample_latent(n, generator))

    @torch.no_grad()
    def generate(self, latent: Tensor) -> Tensor:
        with eval_mode(self.sampling_generator) as net:
            return net(latent)

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator that ``sample`` and ``generate`` use: the EMA one when there is one, with its batch-norm
        statistics brought up to date with its weights (``update_ema_statistics``)."""
        if self.generator_ema is None:
            return self.generator
        self.update_ema_statistics()
        return self.generator_ema

    @torch.no_grad()
    def update_ema_statistics(self) -> None:
        """Give the EMA generator's batch-norm layers the statistics of its own activations ("standing statistics").

        The averaged weights make activations of another scale than the live generator's, so its running statistics
        would mis-normalise them. As ``torch.optim.swa_utils.update_bn`` does, the running statistics are reset and
        accumulated as a plain average (momentum None) over fixed batches (``standing_statistics_batches``). Unlike
        update_bn, only the batch norms run in training mode: dropout stays off, as when sampling, and draws nothing
        from the global random stream. Done only when the EMA weights changed since the last time (a generator step);
        the statistics and that step are part of the checkpoint. Generators without batch norm skip all of it.
        """
        norms = [m for m in self.generator_ema.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
        if not norms or self.ema_statistics_step == self.g_steps:
            return
        momenta = {norm: norm.momentum for norm in norms}
        with eval_mode(self.generator_ema) as net:
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None
                norm.train()
            try:
                for inputs in self.standing_statistics_batches():
                    net(*inputs)
            finally:
                for norm, momentum in momenta.items():
                    norm.momentum = momentum
        self.ema_statistics_step = self.g_steps

    def standing_statistics_batches(self) -> Iterator[tuple[Tensor, ...]]:
        """The fixed batches of generator inputs that the EMA generator's batch-norm statistics come from: the same
        ones every time, drawn from their own seeded stream (``STANDING_STATISTICS_SEED``) on the CPU."""
        stream = torch.Generator().manual_seed(STANDING_STATISTICS_SEED)
        for _ in range(STANDING_STATISTICS_BATCHES):
            yield self.generator_inputs(STANDING_STATISTICS_BATCH_SIZE, stream)

    def generator_inputs(self, n: int, generator: torch.Generator) -> tuple[Tensor, ...]:
        """The generator network's inputs for a batch of n samples drawn from ``generator``, as ``sample`` draws
        them: the latents. Variants whose generator takes more (ConditionalGAN's labels) override this."""
        return (self.sample_latent(n, generator),)

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)


def gradient_norm(optimizer: Optimizer) -> Tensor | None:
    """The total L2 norm of the gradients of an optimizer's parameters; None when none has a gradient."""
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else None


def logs_this_batch(trainer: Trainer) -> bool:
    """Whether the loggers write what is logged in this training batch: Lightning writes every
    ``log_every_n_steps`` batches (batches, not optimizer steps), when training stops, and in a fast_dev_run."""
    every = trainer.log_every_n_steps
    on_schedule = every > 0 and (trainer.fit_loop.total_batch_idx + 1) % every == 0
    return on_schedule or trainer.should_stop or bool(trainer.fast_dev_run)


def draw_latent(
    shape: tuple[int, ...],
    distribution: str,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Latent vectors from N(0, 1) ("normal") or U(-1, 1) ("uniform")."""
    if distribution == "normal":
        return torch.randn(shape, generator=generator, device=device)
    return torch.rand(shape, generator=generator, device=device) * 2 - 1


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
