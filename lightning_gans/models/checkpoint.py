"""Loading lightning-gans checkpoints without knowing their class, and refusing damaged ones clearly."""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path

import torch

from lightning_gans.models.base import GANModule


def check_checkpoint(path: str | Path) -> None:
    """Raise a clear error if ``path`` is missing, truncated or corrupt (checkpoints are zip archives)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint {path} does not exist.")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged_member = archive.testzip()
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"Checkpoint {path} is truncated or corrupt ({error}); a save or a copy was probably interrupted. "
            "Use an earlier checkpoint."
        ) from error
    if damaged_member is not None:
        raise ValueError(
            f"Checkpoint {path} is corrupt: its part {damaged_member!r} fails its checksum. Use an earlier checkpoint."
        )


def load_model(ckpt_path: str | Path, map_location: str = "cpu") -> GANModule:
    """Load any lightning-gans checkpoint (the class is recorded inside it), with ``weights_only=True``."""
    check_checkpoint(ckpt_path)
    checkpoint = torch.load(ckpt_path, map_location=map_location, weights_only=True)
    if "lightning_gans" not in checkpoint:
        raise ValueError(f"{ckpt_path} was not written by a lightning-gans model (no 'lightning_gans' entry)")
    module_name, class_name = checkpoint["lightning_gans"]["class_path"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.load_from_checkpoint(ckpt_path, map_location=map_location, weights_only=True)
