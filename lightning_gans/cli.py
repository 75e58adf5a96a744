"""The ``lightning-gans`` command: LightningCLI for fit/validate/test/predict, plus ``generate``.

With no arguments, ``lightning-gans fit`` trains DCGAN on scikit-learn's digits (offline, 32x32)
for the quick start's few epochs. Every run saves its resolved config.yaml in its log folder.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch
from jsonargparse import ArgumentParser
from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from torchvision.utils import make_grid, save_image

from lightning_gans.callbacks import SampleGrid
from lightning_gans.models import GANModule

QUICK_START_EPOCHS = 55


class GANCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The data decides the image geometry; the model is built to match it.
        parser.link_arguments("data.init_args.image_size", "model.init_args.image_size")
        parser.link_arguments(
            "data", "model.init_args.channels", compute_fn=lambda data: data.channels, apply_on="instantiate"
        )
        parser.add_lightning_class_args(SampleGrid, "sample_grid")
        parser.set_defaults(
            {
                "model": {"class_path": "lightning_gans.models.DCGAN"},
                "data": {"class_path": "datamodules.DigitsDataModule"},
            }
        )

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


def cli_main(args: list[str] | None = None, run: bool = True) -> GANCLI:
    return GANCLI(
        GANModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_defaults={"max_epochs": QUICK_START_EPOCHS},
        # Overwrite: W&B and re-runs in the same folder would otherwise stop on "config.yaml exists".
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def load_model(ckpt_path: str | Path, map_location: str = "cpu") -> GANModule:
    """Load any lightning-gans checkpoint; its class is recorded inside it."""
    checkpoint = torch.load(ckpt_path, map_location=map_location, weights_only=True)
    if "lightning_gans" not in checkpoint:
        raise ValueError(f"{ckpt_path} was not written by a lightning-gans model (no 'lightning_gans' entry)")
    module_name, class_name = checkpoint["lightning_gans"]["class_path"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.load_from_checkpoint(ckpt_path, map_location=map_location, weights_only=True)


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


def main(args: list[str] | None = None) -> None:
    args = sys.argv[1:] if args is None else args
    if args[:1] == ["generate"]:
        parser = ArgumentParser(prog="lightning-gans generate", description=generate.__doc__)
        parser.add_function_arguments(generate)
        generate(**parser.parse_args(args[1:]).as_dict())
    else:
        cli_main(args)
