"""Every setting is described, and a value outside its range is refused: at parse time on the command line (the
setting and its range named, the range shown in --help) and with a ValueError in Python."""

from __future__ import annotations

import inspect
import re

import pytest

import datamodules
from lightning_gans import callbacks, models
from lightning_gans.cli import cli_main
from lightning_gans.models.base import adam
from lightning_gans.settings import Ranged, ranged_parameters

MODELS = ["GAN", "DCGAN", "ImprovedGAN", "WGAN", "WGANGP", "BEGAN", "ProGAN", "CycleGAN", "Pix2Pix", "ConditionalGAN"]
MODELS.append("InfoGAN")
DATAMODULES = [
    name
    for name in datamodules.__all__
    if inspect.isclass(cls := getattr(datamodules, name))
    and issubclass(cls, datamodules.ImageDataModule)
    and not inspect.isabstract(cls)
]
CALLBACKS = ["SampleGrid", "TranslationGrid", "ClassGrid", "CodeTraversalGrid", "TrainingHealth", "GenerativeMetrics"]
CALLBACKS.append("LatentWalk")
CLASSES = [
    *(getattr(models, name) for name in MODELS),
    *(getattr(datamodules, name) for name in DATAMODULES),
    *(getattr(callbacks, name) for name in CALLBACKS),
]
TINY = ["--model.init_args.generator_features=4", "--model.init_args.discriminator_features=4"]


def command_line(capsys, *args: str) -> tuple[str, str]:
    """What ``lightning-gans`` prints (stdout, stderr) for ``args`` when it exits while parsing them."""
    with pytest.raises(SystemExit):
        cli_main(list(args), run=False)
    captured = capsys.readouterr()
    return captured.out, captured.err


def described_options(help_text: str, group: str) -> dict[str, str]:
    """``--{group}.NAME`` -> the text that help gives it before its "(type: ...)"."""
    entries = re.split(rf"\n  (?=--{group}\.)", help_text.split("\nHelp for", 1)[1])[1:]
    options = {}
    for entry in entries:
        option, _, text = entry.partition(" ")
        if not option.endswith(".help"):
            options[option.removeprefix(f"--{group}.")] = " ".join(text.split(maxsplit=1)[1:]).split("(type:")[0]
    return options


@pytest.mark.parametrize(
    "group, name", [*(("model", name) for name in MODELS), *(("data", name) for name in DATAMODULES)]
)
def test_help_describes_every_setting(group, name, capsys):
    out, _ = command_line(capsys, f"--{group}.help", name)
    options = described_options(out, group)
    cls = getattr(models if group == "model" else datamodules, name)
    assert set(options) == set(inspect.signature(cls.__init__).parameters) - {"self"}
    undescribed = [option for option, text in options.items() if len(text.strip()) < 10]
    assert not undescribed, f"{name} --help gives no description for {undescribed}"


def test_help_shows_the_allowed_range_as_the_type(capsys):
    out, _ = command_line(capsys, "--model.help", "DCGAN")
    options = {
        option: " ".join(text.split())
        for option, text in re.findall(r"\n  --model\.(\w+) (.*?)(?=\n  --|$)", out, re.S)
    }
    assert "(type: int >= 1, default: 1)" in options["n_critic"]
    assert "(type: float in (0, 1) | null, default: null)" in options["ema_decay"]


@pytest.mark.parametrize(
    "argument, setting, allowed",
    [
        ("--model.init_args.ema_decay=2", "ema_decay", "a number in (0, 1), got '2'"),
        ("--model.init_args.n_critic=0", "n_critic", "an integer >= 1, got '0'"),
        ("--model.init_args.n_critic=1.5", "n_critic", "an integer >= 1, got '1.5'"),
        ("--data.init_args.batch_size=0", "batch_size", "an integer >= 1, got '0'"),
        ("--data.init_args.image_size=0", "image_size", "an integer >= 1, got '0'"),
        ("--health.num_samples=1", "num_samples", "an integer >= 2, got '1'"),
    ],
)
def test_out_of_range_values_are_refused_while_parsing_naming_setting_and_range(argument, setting, allowed, capsys):
    _, err = command_line(capsys, argument)
    assert re.search(
        rf"error: --(model\.init_args\.|data\.init_args\.|health\.){setting}: expected {re.escape(allowed)}", err
    )
    assert len(err.strip().splitlines()) == 1, err
    print(f"{argument}: {len(err.splitlines())} lines on stderr")  # -s shows what a user reads


def test_settings_that_no_range_can_state_are_refused_before_training(tmp_path):
    # A power of two is no range: DCGAN's networks refuse 48 while the model is built, before any training.
    with pytest.raises(ValueError, match="image_size=48 is not supported.*power of two"):
        cli_main(["--data.init_args.image_size=48", *TINY, f"--trainer.default_root_dir={tmp_path}"], run=False)


def test_values_reach_the_model_as_plain_numbers(tmp_path):
    # Plain ints and floats in the hyperparameters keep checkpoints loadable with weights_only=True.
    cli = cli_main(
        [
            "--data.init_args.image_size=16",
            *TINY,
            "--model.init_args.n_critic=2",
            "--model.init_args.ema_decay=0.5",
            "--model.init_args.instance_noise_std=1",
            "--model.init_args.instance_noise_steps=10",
            f"--trainer.default_root_dir={tmp_path}",
        ],
        run=False,
    )
    hparams = cli.model.hparams
    assert [type(hparams[name]) for name in ("n_critic", "ema_decay", "instance_noise_std")] == [int, float, float]
    assert type(cli.datamodule.batch_size) is int


def test_a_negative_learning_rate_names_its_optimizer_before_the_first_step(tmp_path):
    cli = cli_main(
        [
            "--data.init_args.image_size=16",
            *TINY,
            "--model.init_args.optimizer_g.init_args.lr=-1",
            "--trainer.logger=false",
            "--trainer.enable_checkpointing=false",
            "--trainer.enable_progress_bar=false",
            f"--trainer.default_root_dir={tmp_path}",
        ],
        run=False,
    )
    with pytest.raises(ValueError, match=r"DCGAN optimizer_g was given an invalid argument: Invalid learning rate: -1"):
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.model.d_steps == cli.model.g_steps == 0
    # A class_path/init_args spec from Python, for the other player.
    model = models.DCGAN(image_size=16, generator_features=4, discriminator_features=4, optimizer_d=adam(-1, (0, 0)))
    with pytest.raises(ValueError, match="DCGAN optimizer_d was given an invalid argument: Invalid learning rate"):
        model.configure_optimizers()


def outside(number_type: type[Ranged]) -> int | float:
    """A value of the type's kind just outside its range."""
    comparison, limit = number_type.limits[0]
    step = 1 if number_type.kind is int else 0.5
    return {">=": limit - step, ">": limit, "<=": limit + step, "<": limit}[comparison]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_python_callers_get_a_value_error_naming_class_setting_and_range(cls):
    ranged = ranged_parameters(cls.__init__)
    assert ranged, f"{cls.__name__} declares no ranges"
    for name, (number_type, optional, sequence) in ranged.items():
        bad = outside(number_type)
        with pytest.raises(ValueError) as error:
            cls(**{name: (bad,) if sequence else bad})
        allowed = number_type.allowed(plural=sequence) + (" or None" if optional else "")
        assert str(error.value).startswith(f"{cls.__name__} {name} must be "), error.value
        assert allowed in str(error.value) and f"got {(bad,) if sequence else bad!r}." in str(error.value)


def test_the_complaint_describes_the_setting_and_refuses_the_wrong_kind():
    with pytest.raises(ValueError, match=r"^DCGAN n_critic must be an integer >= 1, got 1\.5\. n_critic: discrimin"):
        models.DCGAN(n_critic=1.5)
    with pytest.raises(ValueError, match="TrainingHealth num_samples must be an integer >= 2, got True"):
        callbacks.TrainingHealth(num_samples=True)
