"""Feature extractors for the metrics: images in [-1, 1] -> features, or (features, class logits).

- ``"inception"``: torch-fidelity's TF-compatible Inception-v3, the network of published FID/KID/IS numbers;
- ``"digits"``: the shipped :class:`~lightning_gans.metrics.digit_classifier.DigitClassifier` (MNIST and
  scikit-learn's digits, offline);
- any ``nn.Module`` that maps a batch of images to a (batch, features) matrix, or to ``(features, logits)`` to
  allow IS as well.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.hub import download_url_to_file, get_dir
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3, FeatureExtractorInceptionV3

from lightning_gans.metrics.digit_classifier import pretrained_digit_classifier

INCEPTION_FILE = URL_INCEPTION_V3.rsplit("/", 1)[-1]
BUILT_IN = ("inception", "digits")


def to_uint8(images: Tensor) -> Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255], rounded exactly as ``torchvision.utils.save_image`` writes PNGs.

    So the features of generated images equal those torch-fidelity reads from the PNG files of the same images.
    """
    return images.float().add(1).div(2).clamp(0, 1).mul(255).add(0.5).clamp(0, 255).to(torch.uint8)


def inception_weights(path: str | Path | None = None) -> Path:
    """The torch-fidelity Inception-v3 weights file: ``path`` if given, else the torch hub cache (downloaded once).

    Raises a FileNotFoundError naming the file, its URL and where to put it when it is missing and cannot be
    downloaded.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"Inception weights not found at {path} (inception_weights). Download {URL_INCEPTION_V3} and pass "
                "its path, or leave inception_weights unset to use the torch hub cache."
            )
        return path
    cached = Path(get_dir()) / "checkpoints" / INCEPTION_FILE
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The name carries the first hex digits of the file's SHA-256; torch checks them.
        download_url_to_file(URL_INCEPTION_V3, str(cached), hash_prefix=Path(INCEPTION_FILE).stem.rsplit("-", 1)[-1])
    except (OSError, RuntimeError) as error:  # URLError is an OSError; a hash mismatch a RuntimeError
        raise FileNotFoundError(
            f"The Inception-v3 weights for FID/KID/IS ({INCEPTION_FILE}) are not in the torch hub cache and "
            f"downloading them failed ({type(error).__name__}: {error}). On a machine with internet access, "
            f"download {URL_INCEPTION_V3} and put it at {cached} (the torch hub cache, $TORCH_HOME/hub/checkpoints), "
            "or pass its path as inception_weights. Offline on MNIST or scikit-learn's digits, "
            "feature_extractor='digits' needs no download; metrics=[] (--generative_metrics.metrics []) turns the "
            "metrics off."
        ) from error
    return cached


class InceptionV3Features(nn.Module):
    """torch-fidelity's TF-compatible Inception-v3 on images in [-1, 1] (1 or 3 channels, any size).

    Returns the 2048 pool features (FID, KID) and the 1008 unbiased logits (IS), the layers torch-fidelity uses.
    Images are quantised to uint8 first (:func:`to_uint8`) and grey images repeated to RGB, as torch-fidelity does
    when it reads image files; the network then resizes them to 299x299 with its TensorFlow-1 bilinear resize.
    """

    def __init__(self, weights_path: str | Path | None = None) -> None:
        super().__init__()
        self.net = FeatureExtractorInceptionV3(
            "inception-v3-compat",
            ["2048", "logits_unbiased"],
            feature_extractor_weights_path=str(inception_weights(weights_path)),
        )
        # Channels-last convolutions: the same result (to float round-off) at about twice the speed on CPU.
        self.net.to(memory_format=torch.channels_last)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(
                f"Inception reads (batch, 1 or 3 channels, height, width) images, got {tuple(images.shape)}"
            )
        pixels = to_uint8(images).expand(-1, 3, -1, -1)
        return self.net(pixels)


def build_feature_extractor(name: str | nn.Module, inception_weights_path: str | Path | None = None) -> nn.Module:
    """``"inception"``, ``"digits"`` or a user module, in eval mode with gradients off."""
    if isinstance(name, nn.Module):
        module = name
    elif name == "inception":
        module = InceptionV3Features(inception_weights_path)
    elif name == "digits":
        module = pretrained_digit_classifier()
    else:
        raise ValueError(f"feature_extractor must be one of {BUILT_IN} or an nn.Module, got {name!r}")
    return module.eval().requires_grad_(False)


def extract(extractor: nn.Module, images: Tensor) -> tuple[Tensor, Tensor | None]:
    """(features, logits or None) of ``images`` in float32 with autocast off, whatever the training precision."""
    with torch.autocast(images.device.type, enabled=False):
        output = extractor(images.float())
    features, logits = output if isinstance(output, (tuple, list)) else (output, None)
    if features.dim() != 2 or len(features) != len(images):
        raise ValueError(
            f"The feature extractor {type(extractor).__name__} returned features of shape {tuple(features.shape)} "
            f"for {len(images)} images; it must return a (batch, features) matrix, or a (features, logits) pair."
        )
    return features.float(), None if logits is None else logits.float()


def module_fingerprint(module: nn.Module) -> str:
    """SHA-256 of a module's class and weights: a retrained or swapped extractor never reuses cached statistics."""
    digest = hashlib.sha256(f"{type(module).__module__}.{type(module).__qualname__}".encode())
    for key, value in module.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
