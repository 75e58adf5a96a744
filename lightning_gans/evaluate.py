"""``lightning-gans evaluate``: FID, KID and IS of a checkpoint's samples against its training data, measured as the
``GenerativeMetrics`` callback measures them during training (the same extractor, cached real statistics and
sample noise), printed and written as JSON."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from lightning.pytorch import LightningDataModule
from torch import Tensor

from lightning_gans.callbacks import GenerativeMetrics
from lightning_gans.callbacks.metrics import MAX_DEFAULT_SAMPLES
from lightning_gans.metrics import (
    build_feature_extractor,
)
from lightning_gans.models import GANModule, TranslationSource
from lightning_gans.models.checkpoint import check_device, check_finite_images, load_model
from lightning_gans.settings import PositiveInt

#: Where a run's config.yaml is, relative to its checkpoint: LightningCLI writes it into the log folder
#: (lightning_logs/version_N/, or the default_root_dir without a logger) and the checkpoints go to its checkpoints/.
CONFIG_PLACES = (".", "..")


def evaluate(
    ckpt_path: str,
    num_samples: PositiveInt | None = None,
    feature_extractor: Literal["auto", "inception", "digits"] = "auto",
    metrics: Sequence[Literal["fid", "kid", "is"]] = ("fid", "kid", "is"),
    output: str | None = None,
    seed: int = 0,
    device: str = "cpu",
    data_root: str | None = None,
    kid_subset_size: PositiveInt | None = None,
    batch_size: PositiveInt = 250,
    cache_dir: str | None = None,
    inception_weights: str | None = None,
) -> dict[str, float]:
    """Measure FID, KID and IS of a checkpoint's samples against its data, print them and write them as JSON.

    The numbers are those the training's GenerativeMetrics callback logs (val/fid, ...) for the same checkpoint,
    num_samples, seed and settings: the same feature extractor, real images (the validation split when the data
    holds one out, else the training data), cached real statistics and sample noise. The samples come from the EMA
    generator when the checkpoint has one; NaN or infinite samples (a diverged generator) are an error.

    The data is the run's: checkpoints hold the model's settings but not the datamodule's, so it is rebuilt from
    the ``data`` entry of the config.yaml that lightning-gans fit saves in the run's log folder, found beside the
    checkpoint or in the folder above it (``lightning_logs/version_N/`` for ``checkpoints/last.ckpt``).

    Args:
        ckpt_path: a checkpoint written while training a lightning-gans model that draws images from noise.
        num_samples: how many images to generate (None: as many as there are real images, at most 10,000).
        feature_extractor: "inception" (torch-fidelity's Inception-v3; published numbers), "digits" (the
            shipped digit classifier; MNIST and scikit-learn's digits, offline) or "auto" ("digits" for those
            two datamodules, "inception" otherwise).
        metrics: which of fid, kid and is to compute.
        output: the JSON file to write (None: ``<checkpoint name>.evaluation.json`` beside the checkpoint, e.g.
            last.evaluation.json).
        seed: seed of the noise the samples are drawn from; the training's GenerativeMetrics seed gives its samples.
        device: where to run the generator and the feature extractor, e.g. "cpu" or "cuda".
        data_root: the data's folder (the datamodule's root), when it has moved since training.
        kid_subset_size: images per KID subset (None: torch-fidelity's 1000, or fewer when there are fewer
            generated or real images).
        batch_size: images generated and passed through the feature extractor at once.
        cache_dir: folder of the cached real statistics (None: ``~/.cache/lightning_gans/reference_statistics``,
            the training's default).
        inception_weights: path of the Inception weights file (None: the torch hub cache, downloaded once).
    """
    check_device(device)
    if not metrics:
        raise ValueError("--metrics is empty: name at least one of fid, kid and is, e.g. --metrics [fid].")
    model = load_model(ckpt_path, map_location=device)
    if isinstance(model, TranslationSource):
        raise ValueError(
            f"{ckpt_path} holds a {type(model).__name__}, which translates images; evaluate measures samples drawn "
            "from noise."
        )
    datamodule = run_datamodule(ckpt_path, data_root)
    given = {"kid_subset_size": kid_subset_size} if kid_subset_size is not None else {}
    # The callback holds the settings and the parts of its measurement that need no Trainer.
    callback = GenerativeMetrics(
        feature_extractor, metrics, batch_size=batch_size, seed=seed, cache_dir=cache_dir, **given
    )
    name = callback.resolve_extractor(datamodule)
    callback.extractor = build_feature_extractor(name, inception_weights).to(device)
    dataset, split, num_workers = callback.datamodule_reference(datamodule)

    # Checked before the real statistics, which can take minutes (Inception on a CPU).
    real_count = len(dataset)
    callback.sample_count = num_samples or min(real_count, MAX_DEFAULT_SAMPLES)
    if kid_subset_size is None:
        callback.kid_subset_size = min(callback.kid_subset_size, callback.sample_count, real_count)
    callback.check_sample_count(callback.sample_count, world_size=1)

    def announce(batches: Iterable, path: Path) -> Iterable:
        print(f"computing the statistics of {real_count} real images ({split}) under {name!r}, cached in {path}")
        return batches

    # The callback's cache file, so that evaluate and training share it.
    statistics, path = callback.real_statistics(
        dataset, split, num_workers, type(datamodule).__name__, device, announce
    )
    print(f"real statistics: {real_count} images of {type(datamodule).__name__} ({split}) in {path}")
    callback.use_statistics(statistics, device)
    values = callback.measure(FiniteSamples(model, ckpt_path))

    for line in metric_lines(values):
        print(line)
    report = {
        "ckpt_path": str(Path(ckpt_path).resolve()),
        "g_steps": model.g_steps,
        "num_samples": callback.sample_count,
        "seed": seed,
        "feature_extractor": name,
        "data": {"datamodule": type(datamodule).__name__, "split": split, "real_images": real_count},
        "real_statistics": str(path),
        "metrics": values,
    }
    out = Path(output) if output is not None else Path(ckpt_path).with_suffix(".evaluation.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return values


class FiniteSamples:
    """A model's ``sample``, refusing NaN or infinite images: their metrics would be NaN without saying why."""

    def __init__(self, model: GANModule, source: str) -> None:
        self.model, self.source = model, source

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return check_finite_images(self.model.sample(n, generator=generator), self.source)


def run_datamodule(ckpt_path: str, data_root: str | None) -> LightningDataModule:
    """The datamodule of the run that wrote the checkpoint, from its config.yaml, set up for fitting."""
    checkpoint = Path(ckpt_path)
    configs = [checkpoint.parent / place / "config.yaml" for place in CONFIG_PLACES]
    config_path = next((path for path in configs if path.is_file()), None)
    if config_path is None:
        raise ValueError(
            f"{ckpt_path} does not record its data and there is no config.yaml of its run beside it or in the folder "
            "above: put the run's config.yaml (saved by lightning-gans fit in its log folder) there."
        )
    data = (yaml.safe_load(config_path.read_text()) or {}).get("data")
    if not isinstance(data, dict) or "class_path" not in data:
        raise ValueError(f"{config_path} names no datamodule (no data.class_path): it is not a lightning-gans run's.")
    module_name, class_name = data["class_path"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), class_name)
    init_args: dict[str, Any] = dict(data.get("init_args") or {})
    if data_root is not None:
        if "root" not in inspect.signature(cls).parameters:
            raise ValueError(f"--data_root: {class_name} reads no data folder (it has no root setting); drop it.")
        init_args["root"] = data_root
    datamodule = cls(**init_args)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def metric_lines(values: dict[str, float]) -> list[str]:
    """``fid 12.34``, ``kid 0.0123 ± 0.0010``, ``is 2.10 ± 0.05``: those of ``values`` there are."""
    lines = [f"fid {values['fid']:.2f}"] if "fid" in values else []
    if "kid_mean" in values:
        lines.append(f"kid {values['kid_mean']:.4f} ± {values['kid_std']:.4f}")
    if "is_mean" in values:
        lines.append(f"is {values['is_mean']:.2f} ± {values['is_std']:.2f}")
    return lines
