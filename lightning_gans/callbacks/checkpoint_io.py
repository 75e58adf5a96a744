"""Checkpoint files that are complete or absent, never half-written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each local checkpoint to a temporary file in its own folder, flushes it to disk, then renames it.

    Lightning's default goes through a temporary file in the system temp folder and moves it; when that folder
    is on another filesystem than the checkpoints (common on clusters) the move is a copy, and a process killed
    during it leaves a truncated checkpoint. A rename within one folder is atomic. Remote paths (s3://, ...)
    keep Lightning's behaviour. A save that fails (a full disk) or is interrupted removes its temporary file.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None) -> None:
        if not isinstance(get_filesystem(path), LocalFileSystem):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A run killed during a save leaves this file behind; the next save of the same name replaces it.
        partial = target.with_name(f".{target.name}.partial")
        try:
            with open(partial, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, target)
        except BaseException:  # a full disk, Ctrl-C: leave no half-written file
            partial.unlink(missing_ok=True)
            raise
