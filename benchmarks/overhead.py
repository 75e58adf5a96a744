"""What Lightning costs per training batch: our GANModule under a Trainer against a plain PyTorch loop.

    python -m benchmarks.overhead                       # DCGAN and WGAN-GP on real MNIST at 32x32, batch 64
    python -m benchmarks.overhead --features 64 --rounds 7

Both sides train the same networks (copies of one model's initial weights) on the same batches (real MNIST,
materialised in memory once and served by the datamodules' loader class) with the same optimizers and the same
noise, batch for batch; after every run their weights are compared, which shows that they computed the same thing.
Only the training machinery differs:

- plain: the canonical hand-written loop of each algorithm, nothing logged. DCGAN: pytorch/examples' loop, G run
  once per batch with its graph, the D update (BCE-with-logits on real and fake) on the fakes detached, then the G
  update (non-saturating) on the same fakes through the updated D. WGAN-GP: the authors' loop, every critic update
  (with the gradient penalty) on fresh fakes made without G's graph and, after every ``n_critic`` of them, the G
  update (-E[f(G(z))]) on fresh fakes. The player not being trained has ``requires_grad`` off, as Lightning's
  optimizer toggle does (pytorch/examples leaves D's on in G's update, which only costs it D's weight gradients).
- lightning: ``trainer.fit`` as ``lightning-gans fit`` runs it: the default logger (TensorBoard, written every
  ``log_every_n_steps`` = 50 batches), the progress bar (refreshed every batch), ModelSummary, ModelCheckpoint and
  our SampleGrid (these two act at epoch end, after the timed batches), the atomic checkpoint plugin and the model's
  own logging (losses, D's outputs, gradient norms). Measured without and with our TrainingHealth callback
  (``+health``). GenerativeMetrics is left out: per batch it only compares a step count, and its end-of-training
  evaluation would dwarf the run.

The machine these figures come from is shared, and its load changes from second to second, so the two sides run
in lockstep in one process: at the start of each Lightning batch a callback runs the plain loop's step on the same
batch (with its own random stream), timed on its own; Lightning's time for a batch is the time from the end of one
plain step to the start of the next. Every batch is thus timed next to its plain twin under the same load. One
torch thread; the first ``--warmup`` batches of every run are not timed. Reported: medians over ``--rounds`` runs
of ms per batch (wall clock, and the process's CPU time, which waiting for a busy core does not inflate),
Lightning's extra ms per batch and the overhead (plain steps/s / Lightning steps/s - 1).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor, nn
from torchdata.stateful_dataloader import StatefulDataLoader

from benchmarks.results import save_result
from datamodules import MNISTDataModule
from lightning_gans import losses
from lightning_gans.callbacks import AtomicCheckpointIO, SampleGrid, TrainingHealth
from lightning_gans.models import DCGAN, WGANGP, GANModule

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
SIDES = {"lightning": False, "lightning+health": True}  # side name: with TrainingHealth


def mnist_batches(root: str, batch_size: int, count: int) -> list[tuple[Tensor, Tensor]]:
    """``count`` batches of real MNIST (32x32, in [-1, 1]) in memory, so both sides read the very same tensors."""
    data = MNISTDataModule(root=root, download=False, image_size=32, batch_size=batch_size, num_workers=0)
    data.prepare_data()
    data.setup("fit")
    return [(images.clone(), labels.clone()) for images, labels in itertools.islice(data.train_dataloader(), count)]


def loader(batches: list[tuple[Tensor, Tensor]]) -> StatefulDataLoader:
    # The datamodules' loader class; its own generator, so starting it takes nothing from the global noise stream.
    return StatefulDataLoader(batches, batch_size=None, generator=torch.Generator().manual_seed(0))


class PlainLoop:
    """The model's algorithm as its canonical hand-written PyTorch loop over copies of its networks, one batch per
    ``step``."""

    def __init__(self, model: GANModule, batches: list, seed: int) -> None:
        self.generator, self.critic = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
        self.opt_g, self.opt_d = adam(self.generator, model, "g"), adam(self.critic, model, "d")
        self.loop_body = dcgan_step if isinstance(model, DCGAN) else wgan_gp_step
        self.latent_dim, self.n_critic = model.hparams.latent_dim, model.hparams.n_critic
        self.batches: Iterator = iter(loader(batches))
        self.d_steps = 0
        self.rng = torch.Generator().manual_seed(seed).get_state()

    def step(self) -> None:
        real, _ = next(self.batches)
        self.loop_body(self, real)

    def noise(self, real: Tensor) -> Tensor:
        return torch.randn(real.size(0), self.latent_dim)

    def update_d(self, loss: Tensor) -> None:
        optimizer_step(self.opt_d, loss)
        self.d_steps += 1

    def generator_turn(self) -> bool:
        return self.d_steps % self.n_critic == 0


def dcgan_step(loop: PlainLoop, real: Tensor) -> None:
    """pytorch/examples' DCGAN loop: G once with its graph, D on the fakes detached, G on the same fakes."""
    fake = loop.generator(loop.noise(real))
    loop.update_d(losses.minimax_discriminator_loss(loop.critic(real), loop.critic(fake.detach())))
    with frozen(loop.critic):
        optimizer_step(loop.opt_g, losses.nonsaturating_generator_loss(loop.critic(fake)))


def wgan_gp_step(loop: PlainLoop, real: Tensor) -> None:
    """The WGAN-GP loop: each critic update on fresh fakes made without G's graph, and after every n_critic of
    them, G on fresh fakes."""
    with torch.no_grad():
        fake = loop.generator(loop.noise(real))
    real_scores, fake_scores = loop.critic(real), loop.critic(fake)
    penalty = losses.gradient_penalty(loop.critic, real, fake)
    loop.update_d(losses.wasserstein_critic_loss(real_scores, fake_scores) + 10.0 * penalty)
    if loop.generator_turn():
        with frozen(loop.critic):
            optimizer_step(loop.opt_g, losses.wasserstein_generator_loss(loop.critic(loop.generator(loop.noise(real)))))


def optimizer_step(optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@contextmanager
def frozen(network: nn.Module) -> Iterator[None]:
    """``network``'s parameters without gradients for the block, so backward computes no weight gradients for it."""
    network.requires_grad_(False)
    try:
        yield
    finally:
        network.requires_grad_(True)


def adam(network: nn.Module, model: GANModule, name: str) -> torch.optim.Adam:
    init_args = model.optimizer_factories[name]["init_args"]
    return torch.optim.Adam(network.parameters(), lr=init_args["lr"], betas=tuple(init_args["betas"]))


class Lockstep(Callback):
    """Runs the plain loop's step at the start of every Lightning batch and times both sides batch by batch."""

    def __init__(self, plain: PlainLoop, warmup: int, steps: int) -> None:
        self.plain, self.warmup, self.steps = plain, warmup, steps
        self.seconds = {side: dict.fromkeys(CLOCKS, 0.0) for side in ("plain", "lightning")}
        self.plain_step_ended: dict[str, float] = {}

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: object, batch_idx: int) -> None:
        started = {clock: now() for clock, now in CLOCKS.items()}
        if self.warmup < batch_idx <= self.warmup + self.steps:  # the previous batch's Lightning cycle just ended
            for clock in CLOCKS:
                self.seconds["lightning"][clock] += started[clock] - self.plain_step_ended[clock]
        # Each side draws its noise from its own stream, both seeded alike.
        lightning_rng = torch.get_rng_state()
        torch.set_rng_state(self.plain.rng)
        started = {clock: now() for clock, now in CLOCKS.items()}
        self.plain.step()
        ended = {clock: now() for clock, now in CLOCKS.items()}
        self.plain.rng = torch.get_rng_state()
        torch.set_rng_state(lightning_rng)
        if self.warmup <= batch_idx < self.warmup + self.steps:
            for clock in CLOCKS:
                self.seconds["plain"][clock] += ended[clock] - started[clock]
        self.plain_step_ended = {clock: now() for clock, now in CLOCKS.items()}


def run(model: GANModule, batches: list, args: argparse.Namespace, health: bool, root: Path) -> dict:
    """One fit of a copy of ``model`` with the plain loop in lockstep; ms per timed batch of each side."""
    model = copy.deepcopy(model)
    lockstep = Lockstep(PlainLoop(model, batches, args.seed), args.warmup, args.steps)
    trainer = Trainer(
        max_epochs=1,
        accelerator="cpu",
        devices=1,
        default_root_dir=root,
        callbacks=[lockstep, SampleGrid(), *([TrainingHealth()] if health else [])],
        plugins=[AtomicCheckpointIO()],
    )
    torch.manual_seed(args.seed)
    trainer.fit(model, train_dataloaders=loader(batches))
    plain = lockstep.plain
    if not (same_weights(model.generator, plain.generator) and same_weights(model.discriminator, plain.critic)):
        raise AssertionError("the Lightning and plain runs ended with different weights: they did not do the same")
    return {
        side: {clock: 1000 * seconds / args.steps for clock, seconds in clocks.items()}
        for side, clocks in lockstep.seconds.items()
    }


class Idle(LightningModule):
    """A training step that does nothing but log ``logs`` values: what Lightning itself costs per batch."""

    def __init__(self, logs: int) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.logs = logs

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        for index in range(self.logs):
            self.log(f"train/value_{index}", batch[0][0, 0, 0, 0])

    def configure_optimizers(self) -> None:
        return None


class BatchClock(Callback):
    """Times the batches from ``start`` on, ``count`` of them (start of one batch to the start of the next)."""

    def __init__(self, start: int, count: int) -> None:
        self.start, self.count = start, count
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: object, batch_idx: int) -> None:
        if batch_idx == self.start:
            self.started = {clock: now() for clock, now in CLOCKS.items()}
        elif batch_idx == self.start + self.count:
            self.seconds = {clock: now() - self.started[clock] for clock, now in CLOCKS.items()}


def lightning_floor(args: argparse.Namespace, root: Path) -> dict:
    """Lightning's own ms per batch (loop, hooks, progress bar, logger) with an empty step, and per ``self.log``."""
    batch, count, logs = (torch.zeros(1, 1, 1, 1), torch.zeros(1)), 200, 8
    runs: dict[str, list[dict[str, float]]] = {"empty_step_ms": [], "per_log_ms": []}
    for _ in range(args.rounds):
        ms = {}
        for n in (0, logs):
            timer = BatchClock(args.warmup, count)
            trainer = Trainer(max_epochs=1, accelerator="cpu", devices=1, default_root_dir=root, callbacks=[timer])
            trainer.fit(Idle(n), train_dataloaders=loader([batch] * (args.warmup + count + 1)))
            ms[n] = {clock: 1000 * seconds / count for clock, seconds in timer.seconds.items()}
        runs["empty_step_ms"].append(ms[0])
        runs["per_log_ms"].append({clock: (ms[logs][clock] - ms[0][clock]) / logs for clock in CLOCKS})
    return {key: {clock: statistics.median(r[clock] for r in rs) for clock in CLOCKS} for key, rs in runs.items()}


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


MODELS: dict[str, Callable[[int], GANModule]] = {
    "DCGAN": lambda width: DCGAN(image_size=32, channels=1, generator_features=width, discriminator_features=width),
    "WGAN-GP": lambda width: WGANGP(image_size=32, channels=1, generator_features=width, discriminator_features=width),
}


def measure(name: str, width: int, args: argparse.Namespace, batches: list, root: Path) -> dict:
    """Medians over rounds, for each side, of plain and Lightning ms per batch, the extra ms and the overhead."""
    torch.manual_seed(args.seed)
    model = MODELS[name](width)
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    for round_index in range(args.rounds):
        order = list(SIDES) if round_index % 2 == 0 else list(reversed(SIDES))
        for side in order:
            runs[side].append(run(model, batches, args, SIDES[side], root))
        print(
            f"{name} width {width} round {round_index + 1}/{args.rounds}: "
            + ", ".join(
                f"{side} {r['lightning']['wall']:.1f} ms vs plain {r['plain']['wall']:.1f} ms"
                for side, r in ((side, runs[side][-1]) for side in SIDES)
            ),
            flush=True,
        )
    figures = {}
    for side, side_runs in runs.items():
        figures[side] = {
            clock: {
                "plain_ms": statistics.median(r["plain"][clock] for r in side_runs),
                "lightning_ms": statistics.median(r["lightning"][clock] for r in side_runs),
                "extra_ms": statistics.median(r["lightning"][clock] - r["plain"][clock] for r in side_runs),
                "overhead": statistics.median(r["lightning"][clock] / r["plain"][clock] - 1 for r in side_runs),
            }
            for clock in CLOCKS
        }
        figures[side]["runs"] = side_runs
    return figures


def table(results: dict, args: argparse.Namespace) -> str:
    lines = [
        f"DCGAN-style networks at 32x32 on real MNIST (width: G's last and D's first hidden layer; the paper's is 64), "
        f"batch {args.batch_size}, one thread; "
        f"medians of {args.rounds} runs of {args.steps} timed batches (after {args.warmup} untimed). "
        "A batch is one D update plus (every n_critic-th batch) one G update. Overhead = plain steps/s over "
        "Lightning steps/s, minus 1.",
        "",
        "| model | width | side | plain ms/batch | Lightning ms/batch | extra ms/batch | overhead | "
        "CPU: extra ms/batch | CPU: overhead |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, figures in results.items():
        name, width = key.rsplit("@", 1)
        for side in SIDES:
            wall, cpu = figures[side]["wall"], figures[side]["cpu"]
            lines.append(
                f"| {name} | {width} | {side} | {wall['plain_ms']:.1f} | {wall['lightning_ms']:.1f} | "
                f"{wall['extra_ms']:+.2f} | {100 * wall['overhead']:+.1f}% | {cpu['extra_ms']:+.2f} | "
                f"{100 * cpu['overhead']:+.1f}% |"
            )
    return "\n".join(lines)


def floor_text(floor: dict) -> str:
    empty, per_log = floor["empty_step_ms"], floor["per_log_ms"]
    return (
        f"What Lightning itself costs, with the same Trainer settings: a batch whose step does nothing takes "
        f"{empty['wall']:.2f} ms ({empty['cpu']:.2f} ms CPU) of loop, hooks, progress bar and logger, and every "
        f"`self.log` adds {per_log['wall']:.2f} ms ({per_log['cpu']:.2f} ms CPU) of bookkeeping. Every batch logs "
        "its two losses (shown in the progress bar); D's outputs, a critic's estimates, the penalty and the "
        "gradient norms are computed and logged only on the batches the loggers write (every `log_every_n_steps`)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument(
        "--features", type=int, nargs="+", default=[32, 64], help="G's last and D's first hidden widths to measure"
    )
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50, help="timed batches per run")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches at the start of every run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batches = mnist_batches(args.data_root, args.batch_size, args.warmup + args.steps + 1)
    with tempfile.TemporaryDirectory() as root:
        results = {
            f"{name}@{width}": measure(name, width, args, batches, Path(root))
            for width in args.features
            for name in args.models
        }
        floor = lightning_floor(args, Path(root))
    markdown = "## Lightning overhead\n\n" + table(results, args) + "\n\n" + floor_text(floor)
    print(markdown)
    save_result("overhead", markdown, {"settings": vars(args), **results, "lightning_floor": floor})


if __name__ == "__main__":
    main()
