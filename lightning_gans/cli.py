"""The ``lightning-gans`` command: LightningCLI for fit/validate/test/predict, plus ``generate`` and ``translate``.

With no arguments, ``lightning-gans fit`` trains DCGAN on scikit-learn's digits (offline, 32x32)
for the quick start's few epochs. Every run saves its resolved config.yaml in its log folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from jsonargparse import ArgumentParser
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from torchvision.utils import make_grid, save_image

from datamodules import ImageFileDataset, image_transform
from datamodules.image_folder import PIL_MODES
from lightning_gans.callbacks import (
    AtomicCheckpointIO,
    ClassGrid,
    CodeTraversalGrid,
    GenerativeMetrics,
    SampleGrid,
    TrainingHealth,
    TranslationGrid,
)
from lightning_gans.models import CodeSource, ConditionalSource, GANModule, TranslationSource
from lightning_gans.models.checkpoint import check_checkpoint, load_model

QUICK_START = {"model": "lightning_gans.models.DCGAN", "data": "datamodules.DigitsDataModule"}
QUICK_START_EPOCHS = 55
# As a class_path spec, not an instance, so the run's config.yaml can state it.
ATOMIC_CHECKPOINTS = {"class_path": f"{AtomicCheckpointIO.__module__}.{AtomicCheckpointIO.__qualname__}"}


class GANCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The data decides the image geometry; the model is built to match it.
        parser.link_arguments("data.init_args.image_size", "model.init_args.image_size")
        parser.link_arguments(
            "data", "model.init_args.channels", compute_fn=lambda data: data.channels, apply_on="instantiate"
        )
        parser.add_lightning_class_args(SampleGrid, "sample_grid")
        parser.add_lightning_class_args(TranslationGrid, "translation_grid")
        parser.add_lightning_class_args(ClassGrid, "class_grid")
        parser.add_lightning_class_args(CodeTraversalGrid, "code_traversal")
        parser.add_lightning_class_args(TrainingHealth, "health")
        # FID/KID/IS every 10 epochs and at the end; "auto" picks the digit classifier for digits and MNIST.
        parser.add_lightning_class_args(GenerativeMetrics, "generative_metrics")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        # LightningCLI reads --ckpt_path's hyperparameters right after parsing: refuse a damaged file first.
        # "last", "best", ... are Lightning's names for checkpoints it finds itself.
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path is not None and ckpt_path not in ("last", "best", "hpc", "registry"):
            check_checkpoint(ckpt_path)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        # Each grid and the metrics go only to the models they can draw or measure, which their protocols tell.
        model, config = self.model, self.config_init[self.subcommand] if self.subcommand else self.config_init
        translates = isinstance(model, TranslationSource)
        fits = {
            "sample_grid": not translates,
            "generative_metrics": not translates,  # the metrics measure samples drawn from noise
            "translation_grid": translates,
            "class_grid": isinstance(model, ConditionalSource),
            "code_traversal": isinstance(model, CodeSource),
        }
        unfit = [config[key] for key, fit in fits.items() if not fit]
        trainer.callbacks = [callback for callback in trainer.callbacks if all(callback is not u for u in unfit)]
        return trainer

    def before_instantiate_classes(self) -> None:
        trainer = (self.config[self.subcommand] if self.subcommand else self.config).trainer
        # Each player's update leaves the other's parameters without gradients, which plain DDP rejects.
        if trainer.strategy == "auto" and process_count(trainer.accelerator, trainer.devices, trainer.num_nodes) > 1:
            trainer.strategy = "ddp_find_unused_parameters_true"


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


def with_quick_start(args: list[str]) -> list[str]:
    """``args`` plus the quick start's model and data where neither the command line nor a --config names their
    class (``--model.init_args...`` alone only adjusts settings).

    Not parser defaults: when a config switches class_path, jsonargparse keeps the previous class's init_args
    that the new class also takes, so DCGAN's and the digits' defaults would leak into every other config.
    """
    configs = [yaml.safe_load(Path(path).read_text()) or {} for path in config_paths(args)]
    # A config given before the subcommand nests its settings under the subcommand's name.
    sections = [c for config in configs for c in (config, *(v for v in config.values() if isinstance(v, dict)))]

    def named(key: str) -> bool:
        on_command_line = any(arg == f"--{key}" or arg.startswith((f"--{key}=", f"--{key}.class_path")) for arg in args)
        in_config = any(isinstance(s.get(key), str) or "class_path" in (s.get(key) or {}) for s in sections)
        return on_command_line or in_config

    added = [f"--{key}={class_path}" for key, class_path in QUICK_START.items() if not named(key)]
    at = 1 if args[:1] and args[0] in LightningCLI.subcommands() else 0
    return [*args[:at], *added, *args[at:]]


def config_paths(args: list[str]) -> list[str]:
    paths = [value for flag, value in zip(args, args[1:], strict=False) if flag == "--config"]
    return paths + [arg.removeprefix("--config=") for arg in args if arg.startswith("--config=")]


def cli_main(args: list[str] | None = None, run: bool = True) -> GANCLI:
    args = with_quick_start(sys.argv[1:] if args is None else list(args))
    return GANCLI(
        GANModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_defaults={"max_epochs": QUICK_START_EPOCHS, "plugins": [ATOMIC_CHECKPOINTS]},
        # Overwrite: W&B and re-runs in the same folder would otherwise stop on "config.yaml exists".
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def generate(
    ckpt_path: str,
    num_samples: int = 64,
    output_dir: str = "samples",
    nrow: int = 8,
    seed: int = 0,
    device: str = "cpu",
) -> Path:
    """Write ``num_samples`` images from a checkpoint as grid.png and sample_NNNNN.png files.

    Uses the EMA generator when the checkpoint has one.

    Args:
        ckpt_path: a checkpoint written while training a lightning-gans model.
        num_samples: how many images to draw.
        output_dir: folder for grid.png and the individual PNGs (created if missing).
        nrow: images per row of the grid.
        seed: seed of the latent noise, so the same seed gives the same images.
        device: where to run the generator, e.g. "cpu" or "cuda".
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    model = load_model(ckpt_path, map_location=device)
    images = model.sample(num_samples, generator=torch.Generator(device).manual_seed(seed)).float().cpu()
    images = images.add(1).div(2).clamp(0, 1)  # [-1, 1] -> [0, 1]
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(images, nrow=nrow), out / "grid.png")
    for index, image in enumerate(images):
        save_image(image, out / f"sample_{index:05d}.png")
    print(f"wrote {num_samples} samples and grid.png to {out}")
    return out


def translate(
    ckpt_path: str,
    input_dir: str,
    direction: str | None = None,
    output_dir: str = "translations",
    batch_size: int = 16,
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
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model = load_model(ckpt_path, map_location=device)
    if not isinstance(model, TranslationSource):
        raise TypeError(
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


def main(args: list[str] | None = None) -> None:
    args = sys.argv[1:] if args is None else args
    if args[:1] == ["generate"]:
        parser = ArgumentParser(prog="lightning-gans generate", description=generate.__doc__)
        parser.add_function_arguments(generate)
        generate(**parser.parse_args(args[1:]).as_dict())
    elif args[:1] == ["translate"]:
        parser = ArgumentParser(prog="lightning-gans translate", description=translate.__doc__)
        parser.add_function_arguments(translate)
        translate(**parser.parse_args(args[1:]).as_dict())
    else:
        cli_main(args)
