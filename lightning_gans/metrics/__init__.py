"""FID, KID and IS that agree with torch-fidelity (feature extractors, cached real statistics), and ProGAN's SWD.

The training-time callback is ``lightning_gans.callbacks.GenerativeMetrics``; this package is its machinery and
works on its own (see ``FidelityMetrics`` and ``reference_statistics``).
"""

from lightning_gans.metrics.digit_classifier import DigitClassifier, pretrained_digit_classifier
from lightning_gans.metrics.extractors import (
    InceptionV3Features,
    build_feature_extractor,
    extract,
    inception_weights,
    to_uint8,
)
from lightning_gans.metrics.fidelity import METRICS, FidelityMetrics
from lightning_gans.metrics.functional import (
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    mean_and_covariance,
    polynomial_mmd,
)
from lightning_gans.metrics.reference import (
    ReferenceStatistics,
    default_cache_dir,
    images_of,
    reference_batches,
    reference_loader,
    reference_statistics,
)
from lightning_gans.metrics.swd import SlicedWassersteinDistance

__all__ = [
    "METRICS",
    "DigitClassifier",
    "FidelityMetrics",
    "InceptionV3Features",
    "ReferenceStatistics",
    "SlicedWassersteinDistance",
    "build_feature_extractor",
    "default_cache_dir",
    "extract",
    "frechet_distance",
    "images_of",
    "inception_score",
    "inception_weights",
    "kernel_inception_distance",
    "mean_and_covariance",
    "polynomial_mmd",
    "pretrained_digit_classifier",
    "reference_batches",
    "reference_loader",
    "reference_statistics",
    "to_uint8",
]
