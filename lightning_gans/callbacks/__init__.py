"""Callbacks that talk to models through ``lightning_gans.models.SampleSource``."""

from lightning_gans.callbacks.sample_grid import SampleGrid

__all__ = ["SampleGrid"]
