"""Faults and bad input through ``lightning-gans``, as a careless user or a cluster scheduler causes them.

Every case runs the real command in-process and asserts its exit status (2: the command line or a config does not
parse; 1: a user error; 143: SIGTERM), that stderr is a short message without a traceback that says what is wrong,
and what is on disk afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from torchvision.io import read_image

from lightning_gans.callbacks import AtomicCheckpointIO
from lightning_gans.cli import SIGTERM_STATUS, main
from lightning_gans.models import load_model
from tests.test_datamodules import write_solid_image

TINY = [
    "--model.init_args.generator_features=4",
    "--model.init_args.discriminator_features=4",
    "--data.init_args.image_size=16",
    "--generative_metrics.metrics=[]",
    "--trainer.enable_progress_bar=false",
]
MAX_MESSAGE_LINES = 10


class Interrupt(Callback):
    """Stops a run as a scheduler (SIGTERM) or a person (Ctrl-C) does, after batch ``at_batch``."""

    def __init__(self, at_batch: int = 1, how: str = "sigterm") -> None:
        self.at_batch, self.how = at_batch, how

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if batch_idx == self.at_batch:
            if self.how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise KeyboardInterrupt


def run(args: list[str], capsys) -> tuple[int, str]:
    """``lightning-gans ARGS``'s exit status and stderr."""
    try:
        main(args)
        status = 0
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
    return status, capsys.readouterr().err


def assert_short_message(err: str, pattern: str) -> None:
    assert "Traceback" not in err, err
    assert re.search(pattern, err, flags=re.S), err
    assert len(err.strip().splitlines()) <= MAX_MESSAGE_LINES, err


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """A tiny DCGAN and cGAN checkpoint, a NaN one, and damaged files."""
    root = tmp_path_factory.mktemp("checkpoints")
    made = {}
    for name, model in (("dcgan", "DCGAN"), ("cgan", "ConditionalGAN")):
        main(["fit", f"--model={model}", *TINY, "--trainer.max_steps=2", f"--trainer.default_root_dir={root / name}"])
        made[name] = next((root / name / "lightning_logs" / "version_0" / "checkpoints").glob("*.ckpt"))
    checkpoint = torch.load(made["dcgan"], weights_only=True)
    for key, value in checkpoint["state_dict"].items():
        if key.startswith("generator") and value.is_floating_point():  # the live and the EMA generator
            checkpoint["state_dict"][key] = torch.full_like(value, float("nan"))
    torch.save(checkpoint, made.setdefault("nan", root / "nan.ckpt"))
    (root / "empty.ckpt").touch()
    made["empty"] = root / "empty.ckpt"
    made["truncated"] = root / "truncated.ckpt"
    made["truncated"].write_bytes(made["dcgan"].read_bytes()[:1000])
    made["text"] = root / "text.ckpt"
    made["text"].write_text("not a checkpoint")
    made["zip"] = root / "other.zip"
    with zipfile.ZipFile(made["zip"], "w") as archive:
        archive.writestr("readme.txt", "hello")
    made["foreign"] = root / "foreign.ckpt"
    torch.save({"state_dict": {}}, made["foreign"])
    made["folder"] = made["dcgan"].parent
    return made


@dataclass
class Case:
    args: list[str]
    status: int
    message: str
    #: Checks what is on disk afterwards, given the working folder.
    on_disk: Callable[[Path], bool] = field(default=lambda cwd: True)


def finite(ckpt: Path) -> bool:
    return all(value.isfinite().all() for value in torch.load(ckpt, weights_only=True)["state_dict"].values())


def nothing_written(cwd: Path) -> bool:
    return not (cwd / "lightning_logs").exists() and not (cwd / "samples").exists()


def fit(*args: str) -> list[str]:
    """A two-step tiny fit with ``args`` first, so that a class they name comes before its settings."""
    return ["fit", *args, *TINY, "--trainer.max_steps=2"]


FIT = fit()
# Settings that the type refuses when the command line is parsed: exit 2, naming the flag and the range.
PARSE_ERRORS = {
    "ema_decay=2": (["--model.init_args.ema_decay=2"], r"--model.init_args.ema_decay: expected a number in \(0, 1\)"),
    "ema_decay=0": (["--model.init_args.ema_decay=0"], r"ema_decay: expected a number in \(0, 1\)"),
    "n_critic=0": (["--model.init_args.n_critic=0"], r"--model.init_args.n_critic: expected an integer >= 1"),
    "wgan n_critic=-1": (["--model=WGAN", "--model.init_args.n_critic=-1"], r"n_critic: expected an integer >= 1"),
    "batch_size=0": (["--data.init_args.batch_size=0"], r"--data.init_args.batch_size: expected an integer >= 1"),
    "batch_size=-3": (["--data.init_args.batch_size=-3"], r"batch_size: expected an integer >= 1"),
    "num_workers=-1": (["--data.init_args.num_workers=-1"], r"num_workers: expected an integer >= 0"),
    "val_fraction=1": (["--data.init_args.val_fraction=1.0"], r"val_fraction: expected a number in \[0, 1\)"),
    "image_size=0": (["--data.init_args.image_size=0"], r"image_size: expected an integer >= 1"),
    "latent_dim=0": (["--model.init_args.latent_dim=0"], r"latent_dim: expected an integer >= 1"),
    "generator_features=0": (["--model.init_args.generator_features=0"], r"generator_features: expected an integer"),
    "label_flip=1.5": (["--model.init_args.label_flip_probability=1.5"], r"label_flip_probability: expected"),
    "instance_noise=-1": (["--model.init_args.instance_noise_std=-1"], r"instance_noise_std: expected a number >= 0"),
    "penalty_weight=-1": (
        ["--model=WGANGP", "--model.init_args.penalty_weight=-1"],
        r"penalty_weight: expected a number >= 0",
    ),
    "metrics num_samples=0": (["--generative_metrics.num_samples=0"], r"num_samples: expected an integer >= 1"),
    "max_steps=abc": (["--trainer.max_steps=abc"], r"--trainer.max_steps: .*abc"),
    "unknown model": (["--model=NoSuchGAN"], r"NoSuchGAN"),
    "unknown data": (["--data=NoSuchDataModule"], r"NoSuchDataModule"),
    "unknown setting": (["--model.init_args.no_such_setting=1"], r"no_such_setting"),
    "--optimizer": (["--optimizer=torch.optim.SGD"], r"unrecognized arguments: --optimizer"),
    "--lr_scheduler": (["--lr_scheduler=torch.optim.lr_scheduler.StepLR"], r"unrecognized arguments: --lr_scheduler"),
    "latent_distribution": (["--model.init_args.latent_distribution=cauchy"], r"latent_distribution"),
    "health on_collapse": (["--health.on_collapse=ignore"], r"on_collapse"),
}
CASES = {
    f"fit {name}": Case(fit(*extra), 2, message, nothing_written) for name, (extra, message) in PARSE_ERRORS.items()
}
CASES |= {
    # Refused when the classes are built, before training: exit 1.
    "fit image_size=48": Case(
        ["fit", "--data.init_args.image_size=48", "--trainer.max_steps=2"], 1, r"image_size=48 .*power of two"
    ),
    "fit negative lr": Case(
        [*FIT, "--model.init_args.optimizer_g.init_args.lr=-1"], 1, r"optimizer_g was given an invalid argument"
    ),
    "fit bad betas": Case(
        [*FIT, "--model.init_args.optimizer_d.init_args.betas=[2.0,0.9]"], 1, r"optimizer_d was given an invalid"
    ),
    "cyclegan image_size=30": Case(
        ["fit", "--model=CycleGAN", "--data=DigitsDataModule", "--data.init_args.image_size=30"], 1, "multiple of 4"
    ),
    "cyclegan on labelled data": Case(
        [
            "fit",
            "--model=CycleGAN",
            "--data=DigitsDataModule",
            "--data.init_args.image_size=32",
            "--trainer.max_steps=2",
            "--model.init_args.generator_features=4",
            "--model.init_args.discriminator_features=4",
            "--model.init_args.residual_blocks=1",
            "--trainer.enable_progress_bar=false",
        ],
        1,
        r"CycleGAN.*(UnpairedImageDataModule|two domains)",
    ),
    "progan batch_sizes missing": Case(
        ["fit", "--model=ProGAN", "--data.init_args.image_size=16", "--model.init_args.batch_sizes={{4: 8}}"],
        1,
        r"batch_sizes has no batch size for the resolutions",
    ),
    # Files named on the command line.
    "config missing": Case(["fit", "--config=nope.yaml"], 2, r"--config nope.yaml: no such file"),
    "config not yaml": Case(["fit", "--config={bad_yaml}"], 2, r"bad.yaml is not valid YAML"),
    "mnist missing": Case(
        [*fit("--data=MNISTDataModule"), "--data.init_args.root={cwd}", "--data.init_args.download=false"],
        1,
        r"MNIST not found.*download",
    ),
    "cifar missing": Case(
        [*fit("--data=CIFAR10DataModule"), "--data.init_args.root={cwd}", "--data.init_args.download=false"],
        1,
        r"CIFAR-10 not found",
    ),
    "image folder missing": Case(fit("--data=ImageFolderDataModule", "--data.init_args.root={cwd}/none"), 1, "none"),
    "image folder empty": Case(fit("--data=ImageFolderDataModule", "--data.init_args.root={empty}"), 1, "empty"),
    "corrupt image": Case(
        fit("--data=ImageFolderDataModule", "--data.init_args.root={corrupt}", "--data.init_args.channels=1"),
        1,
        r"broken\.png",
    ),
    # Checkpoints.
    **{
        f"generate {name} checkpoint": Case(["generate", f"--ckpt_path={{{name}}}"], 1, message, nothing_written)
        for name, message in {
            "folder": r"is a folder; pass a checkpoint file",
            "empty": r"empty",
            "truncated": r"(truncated|corrupt)",
            "text": r"not a (PyTorch )?checkpoint",
            "zip": r"not a (PyTorch )?checkpoint",
            "foreign": r"not written by a lightning-gans model",
            "nan": r"NaN or infinite values: its generator diverged",
        }.items()
    },
    "generate missing checkpoint": Case(["generate", "--ckpt_path={cwd}/nope.ckpt"], 1, r"does not exist"),
    "fit resume missing checkpoint": Case([*FIT, "--ckpt_path={cwd}/nope.ckpt"], 1, r"does not exist"),
    "fit resume from a folder": Case([*FIT, "--ckpt_path={folder}"], 1, r"is a folder"),
    "fit resume another model": Case(
        ["fit", "--model=GAN", "--trainer.max_steps=4", "--ckpt_path={dcgan}"], 1, r"other model settings.*GAN"
    ),
    "fit resume another width": Case(
        [*FIT[:-1], "--model.init_args.generator_features=8", "--trainer.max_steps=4", "--ckpt_path={dcgan}"],
        1,
        r"generator_features: 4 in place of 8",
    ),
    "generate nrow=0": Case(["generate", "--ckpt_path={dcgan}", "--nrow=0"], 2, r"--nrow: expected an integer >= 1"),
    "generate num_samples=0": Case(["generate", "--ckpt_path={dcgan}", "--num_samples=0"], 2, r"num_samples"),
    "generate labels for dcgan": Case(["generate", "--ckpt_path={dcgan}", "--labels=3"], 1, r"without classes"),
    "generate labels count": Case(
        ["generate", "--ckpt_path={cgan}", "--num_samples=4", "--labels=1,2"], 1, r"gives 2 values for --num_samples 4"
    ),
    "generate labels range": Case(["generate", "--ckpt_path={cgan}", "--labels=10"], 1, r"must lie in \[0, 10\)"),
    "generate labels text": Case(["generate", "--ckpt_path={cgan}", "--labels=seven"], 1, r"integers separated"),
    "translate a noise model": Case(
        ["translate", "--ckpt_path={dcgan}", "--input_dir={cwd}"], 1, r"holds a DCGAN.*generate"
    ),
    "evaluate missing checkpoint": Case(["evaluate", "--ckpt_path={cwd}/nope.ckpt"], 1, r"does not exist"),
    "evaluate a translation flag": Case(["evaluate", "--no_such_flag=1"], 2, r"no_such_flag"),
    # Divergence: the network whose weights blew up is named, and no checkpoint holds the blown-up state.
    **{
        f"diverged {name}": Case(
            [
                *FIT[:-1],
                "--trainer.max_steps=300",
                *(f"--model.init_args.optimizer_{net}.init_args.lr={lr}" for net in nets),
            ],
            1,
            message,
            lambda cwd: all(finite(path) for path in cwd.rglob("*.ckpt")),
        )
        for name, nets, lr, message in (
            ("generator", "g", "1e30", r"Training stopped: .*the generator.*diverged.*optimizer_g"),
            ("discriminator", "d", "1e30", r"Training stopped: .*the discriminator diverged.*optimizer_d"),
            ("both", "gd", "1e6", r"the generator and the discriminator have grown more than max_weight_growth"),
        )
    },
    # The command itself.
    "unknown command": Case(["train"], 2, r"unknown command 'train'"),
    "validate is not offered": Case(["validate"], 2, r"unknown command 'validate'"),
    "test is not offered": Case(["test"], 2, r"unknown command 'test'"),
    "predict is not offered": Case(["predict"], 2, r"unknown command 'predict'"),
}
if not torch.cuda.is_available():
    CASES["generate on a missing GPU"] = Case(
        ["generate", "--ckpt_path={dcgan}", "--device=cuda"], 1, r"no CUDA GPU.*--device cpu"
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gets_a_short_message_and_the_right_status(name, checkpoints, tmp_path, monkeypatch, capsys):
    case = CASES[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt").mkdir()
    for index in range(3):
        write_solid_image(tmp_path / "corrupt" / f"{index}.png", (16, 16))
    (tmp_path / "corrupt" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (tmp_path / "bad.yaml").write_text("model: [\n")
    places = {name: str(path) for name, path in checkpoints.items()}
    places |= {"cwd": str(tmp_path), "empty": str(tmp_path / "empty"), "corrupt": str(tmp_path / "corrupt")}
    places["bad_yaml"] = str(tmp_path / "bad.yaml")
    args = [arg.format(**places) for arg in case.args]
    status, err = run(args, capsys)
    assert status == case.status, err
    assert_short_message(err, case.message)
    assert case.on_disk(tmp_path)


def test_debug_shows_the_traceback(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="power of two"):
        main(["fit", "--data.init_args.image_size=48", "--debug"])
    monkeypatch.setenv("LIGHTNING_GANS_DEBUG", "1")
    with pytest.raises(ValueError, match="power of two"):
        main(["fit", "--data.init_args.image_size=48"])


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_an_interrupted_run_saves_a_resumable_checkpoint_says_where_and_fails(how, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sigint = signal.getsignal(signal.SIGINT)  # Lightning ignores further Ctrl-C while it shuts down
    interrupt = ["--trainer.callbacks+=tests.test_battery.Interrupt", f"--trainer.callbacks.how={how}"]
    try:
        status, err = run([*FIT[:-1], "--trainer.max_steps=100", *interrupt], capsys)
    finally:
        signal.signal(signal.SIGINT, sigint)
    assert status == (SIGTERM_STATUS if how == "sigterm" else 1)
    saved = tmp_path / "lightning_logs" / "version_0" / "checkpoints" / "interrupted.ckpt"
    assert saved.is_file() and load_model(saved).g_steps == 2  # batches 0 and 1 ran
    assert "Traceback" not in err
    killed_save = saved.with_name(".last.ckpt.partial")  # what a save killed with -9 leaves
    killed_save.write_bytes(b"PK\x03\x04")
    status, err = run([*FIT[:-1], "--trainer.max_steps=6", f"--ckpt_path={saved}"], capsys)
    assert status == 0, err
    assert not killed_save.exists()
    assert load_model(tmp_path / "lightning_logs" / "version_1" / "checkpoints" / "last.ckpt").g_steps == 3


def test_a_save_that_fails_leaves_no_partial_file(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        AtomicCheckpointIO().save_checkpoint({"x": 1}, tmp_path / "last.ckpt")
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_run_takes_the_learning_rates_it_is_given(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(FIT, capsys)[0] == 0
    saved = tmp_path / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    lower = ["--model.init_args.optimizer_g.init_args.lr=1e-5", "--model.init_args.optimizer_d.init_args.lr=1e-5"]
    status, err = run([*FIT[:-1], "--trainer.max_steps=4", *lower, f"--ckpt_path={saved}"], capsys)
    assert status == 0, err
    resumed = torch.load(tmp_path / "lightning_logs" / "version_1" / "checkpoints" / "last.ckpt", weights_only=True)
    assert [group["lr"] for state in resumed["optimizer_states"] for group in state["param_groups"]] == [1e-5, 1e-5]


def test_fit_help_fits_a_few_screens(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    help_text = capsys.readouterr().out
    assert len(help_text.splitlines()) <= 400 and "--model.init_args" not in help_text
    assert "(type: int >= 1" in help_text  # ranges show in the help


def test_the_command_lists_its_subcommands_and_classes(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    assert all(f"  {command} " in out for command in ("fit", "generate", "translate", "evaluate", "list"))
    main(["list"])
    out = capsys.readouterr().out
    assert "WGANGP" in out and "MNISTDataModule" in out and not re.search(r"\bImageDataModule\b", out)


def test_generate_draws_the_requested_classes(checkpoints, tmp_path, capsys):
    status, err = run(
        [
            "generate",
            f"--ckpt_path={checkpoints['cgan']}",
            "--num_samples=3",
            "--labels=3,3,7",
            f"--output_dir={tmp_path}",
        ],
        capsys,
    )
    assert status == 0, err
    model = load_model(checkpoints["cgan"])
    expected = model.sample(3, generator=torch.Generator().manual_seed(0), labels=torch.tensor([3, 3, 7]))
    written = [read_image(str(tmp_path / f"sample_{index:05d}.png")) for index in range(3)]
    assert len(list(tmp_path.glob("sample_*.png"))) == 3
    for image, drawn in zip(written, expected.add(1).div(2).clamp(0, 1), strict=True):
        assert (image.float() / 255 - drawn.expand_as(image)).abs().max() <= 1 / 255  # the classes asked for
