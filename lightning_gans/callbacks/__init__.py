"""Callbacks (talking to models through ``lightning_gans.models.SampleSource``) and training plugins."""

from lightning_gans.callbacks.checkpoint_io import AtomicCheckpointIO
from lightning_gans.callbacks.class_grid import ClassGrid
from lightning_gans.callbacks.code_traversal import CodeTraversalGrid
from lightning_gans.callbacks.health import TrainingHealth, TrainingHealthError
from lightning_gans.callbacks.interrupt import InterruptCheckpoint
from lightning_gans.callbacks.latent_walk import LatentWalk
from lightning_gans.callbacks.metrics import GenerativeMetrics
from lightning_gans.callbacks.run_folder import run_folder
from lightning_gans.callbacks.sample_grid import SampleGrid
from lightning_gans.callbacks.steps import GeneratorStepCheckpoint, GeneratorStepLimit
from lightning_gans.callbacks.translation_grid import TranslationGrid

__all__ = [
    "AtomicCheckpointIO",
    "ClassGrid",
    "CodeTraversalGrid",
    "GenerativeMetrics",
    "GeneratorStepCheckpoint",
    "GeneratorStepLimit",
    "InterruptCheckpoint",
    "LatentWalk",
    "SampleGrid",
    "TrainingHealth",
    "TrainingHealthError",
    "TranslationGrid",
    "run_folder",
]
