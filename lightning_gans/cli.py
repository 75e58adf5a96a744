"""The ``lightning-gans`` command: ``fit`` (LightningCLI), ``generate``, ``translate``, ``evaluate`` and ``list``.

``lightning-gans fit`` without a model, data or config trains the quick start: DCGAN on scikit-learn's digits
(offline, 32x32) for a few epochs. Every run saves its resolved config.yaml and keeps ``last.ckpt`` in its log
folder. User errors (bad settings, missing files, diverged runs) print a short message and exit with status 1
(2 for a command line or config that does not parse); ``--debug`` or ``LIGHTNING_GANS_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import warnings
from argparse import SUPPRESS, Action
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import torch
import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, DefaultHelpFormatter, Namespace
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import MisconfigurationException, SIGTERMException
from torchvision.utils import make_grid, save_image

import datamodules
from datamodules import ImageFileDataset, image_transform
from datamodules.image_folder import PIL_MODES
from lightning_gans import models
from lightning_gans.callbacks import (
    AtomicCheckpointIO,
    ClassGrid,
    CodeTraversalGrid,
    GenerativeMetrics,
    GeneratorStepCheckpoint,
    GeneratorStepLimit,
    InterruptCheckpoint,
    SampleGrid,
    TrainingHealth,
    TrainingHealthError,
    TranslationGrid,
    run_folder,
)
from lightning_gans.models import CodeSource, ConditionalSource, GANModule, TranslationSource
from lightning_gans.models.checkpoint import check_checkpoint, check_device, check_finite_images, load_model
from lightning_gans.settings import PositiveInt

QUICK_START = {"model": "lightning_gans.models.DCGAN", "data": "datamodules.DigitsDataModule"}
QUICK_START_EPOCHS = 55
# As a class_path spec, not an instance, so the run's config.yaml can state it.
ATOMIC_CHECKPOINTS = {"class_path": f"{AtomicCheckpointIO.__module__}.{AtomicCheckpointIO.__qualname__}"}
DEBUG_VARIABLE = "LIGHTNING_GANS_DEBUG"


class CommandLineError(ValueError):
    """The command line names something that cannot be read (exit status 2, like a value that does not parse)."""


#: Errors that mean "the input is wrong", not "the code is wrong": shown as their message alone.
USER_ERRORS = (ValueError, OSError, TrainingHealthError, MisconfigurationException)
#: Exit status of a run stopped by SIGTERM, as a shell reports a process killed by it (128 + 15).
SIGTERM_STATUS = 143
PROJECT_FOLDERS = (Path(models.__file__).parents[1], Path(datamodules.__file__).parent)
# Lightning warnings about choices the project makes on purpose: the CLI passes its own argument list (the quick
# start's defaults), and the datamodules offer a validation split that the metrics callback reads, not a loop.
EXPECTED_WARNINGS = (
    "LightningCLI's args parameter is intended to run from within Python",
    "You passed in a `val_dataloader` but have no `validation_step`",
)


def debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


class ShortErrors:
    """A jsonargparse parser whose errors name the setting, what it accepts and where to look, in a few lines
    instead of the usage text and every subtype of the union jsonargparse tried."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if debugging() or not self.exit_on_error:
            super().error(message, ex)
        sys.stderr.write(f"{self.prog.replace(' [options]', '')}: error: {short_parse_error(message)}\n")
        sys.exit(2)


class ShortHelpFormatter(DefaultHelpFormatter):
    """``--help`` that fits a few screens: each option's first sentence, type and default. Not the usage line of
    every option, nor the list of every importable subclass of a class-typed option (``--KEY.help CLASS`` shows a
    class's settings)."""

    def _format_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> str:
        return f"{'usage: ' if prefix is None else prefix}{self._prog.replace(' [options]', '')} [options]\n\n"

    def _get_help_string(self, action: Action) -> str:
        if getattr(action, "_jsonargparse_preexpanded_help", False) or isinstance(action, ActionConfigFile):
            return super()._get_help_string(action)
        # The first sentence; Lightning's docstrings sometimes lack the space after its full stop.
        text = re.split(r"(?<=\.)\s|(?<=[a-z]\.)(?=[A-Z])", " ".join((action.help or "").split()), maxsplit=1)[0]
        if text.startswith("Show the help for the given subclass"):  # --KEY.help
            return "Show the settings of a class and exit."
        details = ["required"] if action.required else []
        type_name = self._get_type_str(action)
        if type_name is not None and len(type_name) <= 60:  # longer ones repeat what the sentence lists
            details.append("type: %(type)s")
        if action.default is not SUPPRESS and (action.default is not None or not action.required):
            details.append("default: %(default)s")
        return f"{text} ({', '.join(details)})" if details else text


class GANArgumentParser(ShortErrors, LightningArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{"formatter_class": ShortHelpFormatter, **kwargs})

    def dump(self, cfg: Namespace, *args: Any, **kwargs: Any) -> str:
        """The config as YAML (``--print_config``, the run's config.yaml) without the callbacks that do not apply
        to its model."""
        class_path = cfg.get("model.class_path") if isinstance(cfg, Namespace) else None
        if isinstance(class_path, str):
            module, _, name = class_path.rpartition(".")
            cfg = cfg.clone()
            for key in callbacks_that_do_not_apply(getattr(importlib.import_module(module), name)):
                cfg.pop(key, None)
        return super().dump(cfg, *args, **kwargs)


class CommandParser(ShortErrors, ArgumentParser):
    pass


def short_parse_error(message: str) -> str:
    """jsonargparse's nested error message reduced to the setting it is about and the innermost reason."""
    keys = re.findall(r'Parser key "([^"]+)"', message)
    classes = re.findall(r"given class_path '([^']+)'", message)
    structure = (
        "Parser key",
        "Does not validate against any of the Union subtypes",
        "Subtypes:",
        "Errors:",
        "- Problem with given class_path",
        "- Expected a <class 'NoneType'>",
        "Given value type:",
        "Given value:",
    )
    reasons = [line.strip() for line in message.splitlines() if line.strip() and not line.strip().startswith(structure)]
    reason = " ".join(re.sub(r"^(- )?Not of type [^:]+: ", "", line) for line in reasons[:3]) or message.strip()
    if not keys:
        return reason
    setting = ".init_args.".join(keys) if classes else ".".join(keys)
    where = f" See the settings with: --{keys[0]}.help {classes[0].rsplit('.', 1)[-1]}" if classes else ""
    return f"--{setting}: {reason}.{where}".replace("..", ".")


class RunConfig(SaveConfigCallback):
    """The resolved config as ``config.yaml`` in the run's own folder (``run_folder``: beside its checkpoints and
    grids, also for W&B, whose ``log_dir`` all runs share), and as the whole config of the W&B run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "save_to_log_dir": False})

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        folder = run_folder(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, folder / self.config_filename, skip_none=False, overwrite=True)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                resolved = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
                logger.experiment.config.update(resolved, allow_val_change=True)


class GANCLI(LightningCLI):
    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        # validate/test/predict need loops the models do not have; evaluate and generate are their commands.
        return {"fit": LightningCLI.subcommands()["fit"]}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The data decides the image geometry; the model is built to match it.
        parser.link_arguments("data.init_args.image_size", "model.init_args.image_size")
        parser.link_arguments("data", "model.init_args.channels", compute_fn=data_channels, apply_on="instantiate")
        parser.add_lightning_class_args(SampleGrid, "sample_grid")
        parser.add_lightning_class_args(TranslationGrid, "translation_grid")
        parser.add_lightning_class_args(ClassGrid, "class_grid")
        parser.add_lightning_class_args(CodeTraversalGrid, "code_traversal")
        parser.add_lightning_class_args(TrainingHealth, "health")
        # FID/KID/IS every 10 epochs and at the end; "auto" picks the digit classifier for digits and MNIST.
        parser.add_lightning_class_args(GenerativeMetrics, "generative_metrics")
        parser.add_argument(
            "--max_generator_steps",
            type=PositiveInt | None,
            default=None,
            help="Train for this many generator updates, in place of --trainer.max_epochs and max_steps.",
        )

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        # LightningCLI reads --ckpt_path's hyperparameters right after parsing: refuse a damaged file first.
        # "last", "best", ... are Lightning's names for checkpoints it finds itself.
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path is not None and ckpt_path not in ("last", "best", "hpc", "registry"):
            check_checkpoint(ckpt_path)
            check_resumed_settings(ckpt_path, self.config[subcommand].model)
            remove_half_written_checkpoints(Path(ckpt_path).parent)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        callbacks = list(config["trainer"].get("callbacks") or [])
        if config["trainer"].get("enable_checkpointing") is not False:
            # last.ckpt, which README's generate and resume commands name; a ModelCheckpoint of the user's replaces it.
            if not any(isinstance(callback, ModelCheckpoint) for callback in callbacks):
                callbacks.append(GeneratorStepCheckpoint(save_last=True))
            callbacks.append(InterruptCheckpoint())
        if config.get("max_generator_steps") is not None:
            callbacks.append(GeneratorStepLimit(config["max_generator_steps"]))
            kwargs |= {"max_epochs": -1, "max_steps": -1}
        trainer = super().instantiate_trainer(callbacks=callbacks, **kwargs)
        unfit = [config[key] for key in callbacks_that_do_not_apply(type(self.model))]
        trainer.callbacks = [callback for callback in trainer.callbacks if all(callback is not u for u in unfit)]
        return trainer

    def before_instantiate_classes(self) -> None:
        trainer = (self.config[self.subcommand] if self.subcommand else self.config).trainer
        # Each player's update leaves the other's parameters without gradients, which plain DDP rejects.
        if trainer.strategy == "auto" and process_count(trainer.accelerator, trainer.devices, trainer.num_nodes) > 1:
            trainer.strategy = "ddp_find_unused_parameters_true"


def remove_half_written_checkpoints(folder: Path) -> None:
    """A save that was killed (kill -9, a node lost) leaves AtomicCheckpointIO's hidden temporary file behind; the
    run that resumes from that folder removes them."""
    for partial in folder.glob(".*.ckpt.partial"):
        partial.unlink(missing_ok=True)
        rank_zero_info(f"Removed {partial}, a checkpoint whose writing was interrupted")


def check_resumed_settings(ckpt_path: str, model: Any) -> None:
    """Refuse to resume a checkpoint whose model settings differ from this command's: LightningCLI would train on
    with the checkpoint's and ignore the user's. Optimizer and scheduler settings are not model hyperparameters;
    a resumed run applies them (``GANModule.apply_optimizer_settings``)."""
    # mmap: only the hyperparameters are read, not the tensors.
    saved = torch.load(ckpt_path, weights_only=True, map_location="cpu", mmap=True).get("hyper_parameters", {})
    wanted = namespace_values(model)
    if saved.get("_class_path", wanted["class_path"]) != wanted["class_path"]:
        differences = [f"the model: {saved['_class_path']} in place of {wanted['class_path']}"]
    else:
        # channels comes from the data only when the classes are built, so the command line's is not final yet.
        differences = [
            f"{key}: {saved[key]!r} in place of {wanted['init_args'][key]!r}"
            for key in saved
            if not key.startswith("_") and key != "channels" and key in wanted["init_args"]
            if namespace_values(saved[key]) != wanted["init_args"][key]
        ]
    if differences:
        raise ValueError(
            f"--ckpt_path {ckpt_path} was trained with other model settings than this command's, and resuming "
            f"would train with the checkpoint's: {'; '.join(differences)}. Resume with the run's own settings "
            "(lightning-gans fit --config <its log folder>/config.yaml --ckpt_path ...), or start a new run. "
            "Optimizer settings (e.g. learning rates) may differ: a resumed run takes this command's."
        )


def namespace_values(value: Any) -> Any:
    """A parsed config value as plain dicts and lists, comparable with a checkpoint's hyperparameters."""
    if isinstance(value, Namespace):
        value = value.as_dict()
    if isinstance(value, dict):
        return {key: namespace_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [namespace_values(item) for item in value]
    return value


def callbacks_that_do_not_apply(model_class: type) -> list[str]:
    """The CLI's grid and metrics callbacks that cannot draw or measure this kind of model, by the methods of the
    protocols they use (``TranslationSource.translate``, ``ConditionalSource.sample(..., labels)``,
    ``CodeSource.latent_from_codes``): such a callback is neither run nor listed in the printed and saved config."""
    translates = callable(getattr(model_class, "translate", None))
    sample = getattr(model_class, "sample", None)
    fits = {
        "sample_grid": not translates,
        "generative_metrics": not translates,  # the metrics measure samples drawn from noise
        "translation_grid": translates,
        "class_grid": callable(sample) and "labels" in inspect.signature(sample).parameters,
        "code_traversal": callable(getattr(model_class, "latent_from_codes", None)),
    }
    return [key for key, fit in fits.items() if not fit]


def data_channels(data: LightningDataModule) -> int:
    return data.channels


def process_count(accelerator: str, devices: int | str | list[int], num_nodes: int) -> int:
    """How many training processes a Trainer with these settings starts."""
    if isinstance(devices, (list, tuple)):
        per_node = len(devices)
    elif str(devices).strip() in ("auto", "-1"):
        gpus = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
        per_node = torch.cuda.device_count() if gpus else 1
    elif "," in str(devices):
        per_node = len([index for index in str(devices).split(",") if index.strip()])
    else:
        per_node = int(devices)
    return per_node * num_nodes


def with_quick_start(args: list[str], configs: list[dict]) -> list[str]:
    """``args`` plus the quick start's model and data where neither the command line nor a --config names their
    class (``--model.init_args...`` alone only adjusts settings; ``--config configs/wandb.yaml`` alone adds W&B
    to the quick start).

    Not parser defaults: when a config switches class_path, jsonargparse keeps the previous class's init_args
    that the new class also takes, so DCGAN's and the digits' defaults would leak into every other config.
    ``configs`` are the --config files' contents (``read_config_files``).
    """
    # A config given before the subcommand nests its settings under the subcommand's name.
    sections = [c for config in configs for c in (config, *(v for v in config.values() if isinstance(v, dict)))]

    def named(key: str) -> bool:
        on_command_line = any(arg == f"--{key}" or arg.startswith((f"--{key}=", f"--{key}.class_path")) for arg in args)
        in_config = any(isinstance(s.get(key), str) or "class_path" in (s.get(key) or {}) for s in sections)
        return on_command_line or in_config

    added = [f"--{key}={class_path}" for key, class_path in QUICK_START.items() if not named(key)]
    at = 1 if args[:1] and args[0] in GANCLI.subcommands() else 0
    return [*args[:at], *added, *args[at:]]


def config_paths(args: list[str]) -> list[str]:
    paths = [value for flag, value in zip(args, args[1:], strict=False) if flag in ("--config", "-c")]
    return paths + [arg.removeprefix("--config=") for arg in args if arg.startswith("--config=")]


def read_config_files(args: list[str]) -> list[dict]:
    """The contents of the --config files, naming one that is missing or not YAML (jsonargparse reports either as
    unrecognized arguments)."""
    configs = []
    for path in config_paths(args):
        if not Path(path).is_file():
            raise CommandLineError(f"--config {path}: no such file (the shipped configs are in configs/)")
        try:
            with open(path) as file:  # from the file, so that the message names it
                configs.append(yaml.safe_load(file) or {})
        except yaml.YAMLError as error:
            raise CommandLineError(f"--config {path} is not valid YAML: {' '.join(str(error).split())}") from None
    return configs


def cli_main(args: list[str] | None = None, run: bool = True) -> GANCLI:
    args = sys.argv[1:] if args is None else list(args)
    args = with_quick_start(args, read_config_files(args))
    with warnings.catch_warnings():
        for expected in EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=re.escape(expected))
        return GANCLI(
            GANModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            parser_class=GANArgumentParser,
            parser_kwargs={"prog": "lightning-gans"},
            # A fixed default, so that a run without --seed_everything repeats (and says no "No seed found").
            seed_everything_default=0,
            trainer_defaults={"max_epochs": QUICK_START_EPOCHS, "plugins": [ATOMIC_CHECKPOINTS]},
            # Optimizers are the models' optimizer_g/optimizer_d; LightningCLI's --optimizer does not fit two players.
            auto_configure_optimizers=False,
            save_config_callback=RunConfig,
            args=args,
            run=run,
        )


def parse_labels(labels: str | None, num_samples: int) -> list[int] | None:
    """``"3,3,7"`` as [3, 3, 7], ``"7"`` as num_samples 7s, None as None."""
    if labels is None:
        return None
    try:
        values = [int(value) for value in str(labels).split(",") if value.strip()]
    except ValueError:
        raise ValueError(f"--labels must be integers separated by commas, e.g. 3,3,7, got {labels!r}") from None
    if len(values) == 1:
        return values * num_samples
    if len(values) != num_samples:
        raise ValueError(
            f"--labels gives {len(values)} values for --num_samples {num_samples}: give one value for all, or one per "
            "sample."
        )
    return values


def generate(
    ckpt_path: str,
    num_samples: PositiveInt = 64,
    output_dir: str = "samples",
    nrow: PositiveInt = 8,
    seed: int = 0,
    device: str = "cpu",
    labels: str | None = None,
) -> Path:
    """Write ``num_samples`` images from a checkpoint as grid.png and sample_NNNNN.png files.

    Uses the EMA generator when the checkpoint has one. NaN or infinite samples (a diverged generator) are an error.

    Args:
        ckpt_path: a checkpoint written while training a lightning-gans model.
        num_samples: how many images to draw.
        output_dir: folder for grid.png and the individual PNGs (created if missing).
        nrow: images per row of the grid.
        seed: seed of the latent noise, so the same seed gives the same images.
        device: where to run the generator, e.g. "cpu" or "cuda".
        labels: conditional models (cGAN): the class of each sample, e.g. 3,3,7, or one class for all; InfoGAN:
            the value of its first categorical code. By default drawn at random.
    """
    check_device(device)
    requested = parse_labels(labels, num_samples)
    model = load_model(ckpt_path, map_location=device)
    noise = torch.Generator(device).manual_seed(seed)
    if requested is None:
        images = model.sample(num_samples, generator=noise)
    elif isinstance(model, ConditionalSource):
        images = model.sample(num_samples, generator=noise, labels=torch.tensor(requested, device=device))
    elif isinstance(model, CodeSource) and model.categorical_codes:
        images = sample_with_code(model, requested, noise)
    else:
        raise ValueError(
            f"{ckpt_path} holds a {type(model).__name__}, which draws images without classes or codes; drop --labels."
        )
    images = check_finite_images(images.float().cpu(), ckpt_path).add(1).div(2).clamp(0, 1)  # [-1, 1] -> [0, 1]
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(images, nrow=nrow), out / "grid.png")
    for index, image in enumerate(images):
        save_image(image, out / f"sample_{index:05d}.png")
    print(f"wrote {num_samples} samples and grid.png to {out}")
    return out


def sample_with_code(model: CodeSource, values: list[int], noise: torch.Generator) -> torch.Tensor:
    """InfoGAN samples whose first categorical code takes ``values``; the other codes and the noise are drawn."""
    n, levels = len(values), model.categorical_codes[0]
    if not all(0 <= value < levels for value in values):
        raise ValueError(f"--labels must lie in [0, {levels}): the model's first categorical code has {levels} values")
    device = noise.device
    categorical = torch.stack(
        [torch.randint(count, (n,), generator=noise, device=device) for count in model.categorical_codes], dim=1
    )
    categorical[:, 0] = torch.tensor(values, device=device)
    continuous = torch.rand(n, model.continuous_codes, generator=noise, device=device) * 2 - 1
    return model.generate(model.latent_from_codes(model.sample_noise(n, noise), categorical, continuous))


def translate(
    ckpt_path: str,
    input_dir: str,
    direction: str | None = None,
    output_dir: str = "translations",
    batch_size: PositiveInt = 16,
    seed: int = 0,
    device: str = "cpu",
) -> Path:
    """Translate every image in a folder with a pix2pix or CycleGAN checkpoint, one PNG per image.

    Args:
        ckpt_path: a checkpoint written while training a lightning-gans image-to-image model.
        input_dir: folder of images of the input domain (subfolders are searched too). They are converted to
            the model's channels, their short side resized to its image size and the centre cropped.
        direction: "AtoB" or "BtoA"; by default the model's first (for pix2pix the one it learned).
        output_dir: folder for the translations, each at its input's relative path with the suffix .png
            (created if missing).
        batch_size: images translated at once.
        seed: seed of pix2pix's dropout noise, so the same seed gives the same images.
        device: where to run the generator, e.g. "cpu" or "cuda".
    """
    check_device(device)
    model = load_model(ckpt_path, map_location=device)
    if not isinstance(model, TranslationSource):
        raise ValueError(
            f"{ckpt_path} holds a {type(model).__name__}, which generates images from noise instead of translating "
            "them; use lightning-gans generate."
        )
    direction = direction or model.directions[0]
    channels, image_size = model.hparams.channels, model.hparams.image_size
    images = ImageFileDataset(Path(input_dir), PIL_MODES[channels], image_transform(image_size, channels))
    out = Path(output_dir)
    torch.manual_seed(seed)
    for start in range(0, len(images), batch_size):
        indices = range(start, min(start + batch_size, len(images)))
        batch = torch.stack([images[index] for index in indices]).to(device)
        translated = model.translate(batch, direction).float().cpu().add(1).div(2).clamp(0, 1)
        for index, image in zip(indices, translated, strict=True):
            path = out / images.paths[index].relative_to(input_dir).with_suffix(".png")
            path.parent.mkdir(parents=True, exist_ok=True)
            save_image(image, path)
    print(f"wrote {len(images)} translations ({direction}) to {out}")
    return out


def list_classes() -> None:
    """Print the variants (``--model``) and datamodules (``--data``) by the short names the command line takes."""
    variants = [name for name in models.__all__ if isinstance(getattr(models, name), type)]
    variants = [name for name in variants if issubclass(getattr(models, name), GANModule) and name != "GANModule"]
    data = [name for name in datamodules.__all__ if name.endswith("DataModule")]
    data = [name for name in data if not inspect.isabstract(getattr(datamodules, name))]
    print("models (--model NAME):", ", ".join(variants))
    print("datamodules (--data NAME):", ", ".join(data))
    print("e.g. lightning-gans fit --model WGANGP --data MNISTDataModule; --model.help NAME lists a model's settings")


def function_command(function: Callable[..., Any]) -> Callable[[list[str]], Any]:
    def run(args: list[str]) -> Any:
        parser = CommandParser(prog=f"lightning-gans {function.__name__}", description=function.__doc__)
        parser.add_function_arguments(function)
        return function(**parser.parse_args(args).as_dict())

    return run


def evaluate_command(args: list[str]) -> Any:
    from lightning_gans.evaluate import evaluate  # Inception and torch-fidelity only when asked for

    return function_command(evaluate)(args)


COMMANDS: dict[str, tuple[Callable[[list[str]], Any], str]] = {
    "fit": (cli_main, "train a model, e.g. --config configs/dcgan_mnist.yaml (alone: DCGAN on digits, offline)"),
    "generate": (function_command(generate), "draw samples from a checkpoint: --ckpt_path CKPT [--labels 3,3,7]"),
    "translate": (function_command(translate), "translate a folder of images with a pix2pix or CycleGAN checkpoint"),
    "evaluate": (evaluate_command, "FID, KID and IS of a checkpoint against its data, printed and written as JSON"),
    "list": (lambda args: list_classes(), "the models and datamodules, by the short names --model and --data take"),
}


def usage() -> str:
    lines = [f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(
        [
            "usage: lightning-gans COMMAND [options]",
            "",
            "commands:",
            *lines,
            "",
            "lightning-gans COMMAND --help lists a command's options. --debug (or LIGHTNING_GANS_DEBUG=1) shows the",
            "traceback of an error.",
        ]
    )


def shown_error(error: BaseException) -> BaseException | None:
    """What of ``error`` to show a user, or None for a bug (shown with its traceback). jsonargparse and Lightning
    wrap a class's own error in theirs: the first exception in the chain that this project raised says it best;
    else the innermost, e.g. the OSError of a missing file."""
    chain = [error]
    while chain[-1].__cause__ is not None or (chain[-1].__context__ and not chain[-1].__suppress_context__):
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    ours = [exception for exception in chain if raised_in(exception, PROJECT_FOLDERS)]
    shown = ours[0] if ours else chain[-1]
    return shown if isinstance(shown, USER_ERRORS) else None


def raised_in(error: BaseException, folders: tuple[Path, ...]) -> bool:
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return False
    path = Path(frame.tb_frame.f_code.co_filename).resolve()
    return any(path.is_relative_to(folder) for folder in folders)


@contextmanager
def debug_mode() -> Iterator[None]:
    """LIGHTNING_GANS_DEBUG=1 for the duration of a command (``--debug``), as it was afterwards."""
    before = os.environ.get(DEBUG_VARIABLE)
    os.environ[DEBUG_VARIABLE] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[DEBUG_VARIABLE]
        else:
            os.environ[DEBUG_VARIABLE] = before


def main(args: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if args is None else args)
    if "--debug" in args:
        args.remove("--debug")
        with debug_mode():
            main(args)
        return
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return
    if args[0] not in COMMANDS and "fit" in args:  # LightningCLI's options before the subcommand
        args = ["fit", *args]
    if args[0] not in COMMANDS:
        sys.stderr.write(
            f"lightning-gans: error: unknown command {args[0]!r}; the commands are {', '.join(COMMANDS)} "
            "(lightning-gans --help says what each does)\n"
        )
        sys.exit(2)
    command, _ = COMMANDS[args[0]]
    try:
        command(args if args[0] == "fit" else args[1:])
    except SIGTERMException:
        sys.stderr.write("lightning-gans: stopped by SIGTERM\n")
        sys.exit(SIGTERM_STATUS)
    except Exception as error:
        shown = shown_error(error)
        if debugging() or shown is None:
            raise
        sys.stderr.write(f"lightning-gans {args[0]}: error: {shown}\n(--debug shows the traceback)\n")
        sys.exit(2 if isinstance(shown, CommandLineError) else 1)
