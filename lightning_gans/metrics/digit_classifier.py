"""A small digit classifier: the feature network for FID/KID/IS on MNIST and scikit-learn's digits, offline.

Its weights ship inside the package (``weights/digit_classifier.pt``, trained by
``benchmarks/train_digit_classifier.py`` on MNIST's training set and 80% of scikit-learn's digits).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

WEIGHTS = Path(__file__).resolve().parent / "weights" / "digit_classifier.pt"


class DigitClassifier(nn.Module):
    """Grey digit images in [-1, 1], any size (resized to 32x32 inside) -> 128 features and 10 class logits.

    Four 3x3 conv blocks (16-32-64-128 channels, batch norm, ReLU, 2x2 max pooling between them), then global
    average pooling gives the features, and a linear layer the logits. ``forward`` returns
    ``(features, logits)``, the pair the metrics read; ``predict`` returns the labels.
    """

    input_size = 32
    num_classes = 10
    feature_dim = 128

    def __init__(self) -> None:
        super().__init__()
        widths = (1, 16, 32, 64, self.feature_dim)
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(pairwise(widths)):
            if index > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(width_in, width_out, 3, padding=1, bias=False), nn.BatchNorm2d(width_out), nn.ReLU()]
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(self.feature_dim, self.num_classes)
        # Channels-last convolutions and pooling: the same features (to float round-off) in about 60% of the CPU
        # time. Loaded weights keep this layout, and state_dict values (the cache key) are unchanged.
        self.to(memory_format=torch.channels_last)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images.dim() != 4 or images.shape[1] != 1:
            raise ValueError(
                f"The digit classifier reads grey images of shape (batch, 1, height, width), got "
                f"{tuple(images.shape)}. It is trained on MNIST and scikit-learn's digits only; for colour or other "
                "data use feature_extractor='inception' (or your own nn.Module)."
            )
        if images.shape[-2:] != (self.input_size, self.input_size):
            images = F.interpolate(
                images, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False, antialias=True
            )
        features = self.body(images.contiguous(memory_format=torch.channels_last))
        return features, self.head(features)

    def logits(self, images: Tensor) -> Tensor:
        return self(images)[1]

    def predict(self, images: Tensor) -> Tensor:
        """The predicted digit (0-9) of each image."""
        return self.logits(images).argmax(dim=1)


def pretrained_digit_classifier(path: str | Path = WEIGHTS) -> DigitClassifier:
    """The shipped classifier (or one trained by the script, at ``path``) in eval mode, without gradients."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No digit classifier weights at {path}. The package ships them as lightning_gans/metrics/weights/"
            "digit_classifier.pt; reinstall the package, or train them with "
            "`python -m benchmarks.train_digit_classifier --mnist_root <folder with MNIST/raw>`."
        )
    model = DigitClassifier()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval().requires_grad_(False)
