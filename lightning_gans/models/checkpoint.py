"""Loading lightning-gans checkpoints without knowing their class, and refusing damaged ones clearly."""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path

import torch
from torch import Tensor

from lightning_gans.models.base import GANModule

ZIP_MAGIC = b"PK\x03\x04"
#: Where a run's checkpoints are, for messages.
CHECKPOINT_FOLDERS = "lightning_logs/version_N/checkpoints/ under the run's --trainer.default_root_dir"


class NonFiniteImagesError(ValueError):
    """A model drew NaN or infinite images: its weights diverged during training."""


def check_checkpoint(path: str | Path) -> None:
    """Raise a clear error unless ``path`` is a complete PyTorch checkpoint file: not missing, not a folder, not
    empty, truncated or corrupt, not another kind of file or zip archive (checkpoints are zip archives)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.rglob("*.ckpt"), key=lambda file: file.stat().st_mtime, reverse=True)
        listed = f"the newest it holds: {', '.join(map(str, found[:3]))}" if found else "it holds no .ckpt file"
        raise IsADirectoryError(
            f"Checkpoint {path} is a folder; pass a checkpoint file instead ({listed}). Checkpoints are in "
            f"{CHECKPOINT_FOLDERS}."
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"Checkpoint {path} does not exist. Check the path; checkpoints are in {CHECKPOINT_FOLDERS}."
        )
    with open(path, "rb") as file:
        start = file.read(len(ZIP_MAGIC))
    if not start:
        raise ValueError(f"Checkpoint {path} is empty: a save or a copy was interrupted. Use an earlier checkpoint.")
    if start != ZIP_MAGIC:
        raise ValueError(
            f"{path} is not a checkpoint: PyTorch checkpoints are zip archives, and this file starts with {start!r}. "
            f"Pass a .ckpt file written by lightning-gans fit (in {CHECKPOINT_FOLDERS})."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            damaged_member = archive.testzip()
            names = archive.namelist()
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"Checkpoint {path} is truncated or corrupt ({error}); a save or a copy was probably interrupted. "
            "Use an earlier checkpoint."
        ) from error
    if damaged_member is not None:
        raise ValueError(
            f"Checkpoint {path} is corrupt: its part {damaged_member!r} fails its checksum. Use an earlier checkpoint."
        )
    # torch.save writes every entry under one folder, the pickled object as <folder>/data.pkl.
    if not any(name.count("/") == 1 and name.endswith("/data.pkl") for name in names):
        raise ValueError(
            f"{path} is a zip archive but not a PyTorch checkpoint (it holds {', '.join(names[:3]) or 'nothing'}"
            f"{', ...' if len(names) > 3 else ''}; no data.pkl). Pass a .ckpt file written by lightning-gans fit "
            f"(in {CHECKPOINT_FOLDERS})."
        )


def check_device(device: str) -> None:
    """Refuse a CUDA device on a machine without one, before torch's advice about ``map_location``."""
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: this machine has no CUDA GPU that PyTorch can use; pass --device cpu.")


def load_model(ckpt_path: str | Path, map_location: str = "cpu") -> GANModule:
    """Load any lightning-gans checkpoint (the class is recorded inside it), with ``weights_only=True``."""
    check_checkpoint(ckpt_path)
    checkpoint = torch.load(ckpt_path, map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict) or "lightning_gans" not in checkpoint:
        raise ValueError(
            f"{ckpt_path} was not written by a lightning-gans model (no 'lightning_gans' entry). Load it with the "
            "class that wrote it (its load_from_checkpoint), or pass a checkpoint written by lightning-gans fit."
        )
    module_name, class_name = checkpoint["lightning_gans"]["class_path"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.load_from_checkpoint(ckpt_path, map_location=map_location, weights_only=True)


def check_finite_images(images: Tensor, source: str | Path) -> Tensor:
    """``images`` as they are, or a ``NonFiniteImagesError`` if any holds NaN or infinite values (saved as PNGs,
    they would be flat black). ``source`` names what drew them, e.g. the checkpoint's path."""
    bad = images.flatten(1).isfinite().all(dim=1).logical_not().sum().item()
    if bad:
        raise NonFiniteImagesError(
            f"{source} drew {bad} of {len(images)} images with NaN or infinite values: its generator diverged during "
            "training. Use a checkpoint written before it diverged (with TrainingHealth, on by default in "
            "lightning-gans fit, every checkpoint written samples finite images), and train on from it with a lower "
            "learning rate."
        )
    return images
