"""A weights file for torch-fidelity's Inception-v3 with random values: the real one cannot be downloaded here.

Same architecture and shapes, so the same cost and code path; He-normal convolutions keep the activations at a
sensible scale through the 94 layers, so that the features and logits are not degenerate.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import torch
from torch import nn
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3


def write_random_inception_weights(path: Path, seed: int = 0) -> Path:
    empty = path.with_suffix(".empty")
    torch.save({}, empty)
    # Build the network without loading anything into it, then give it random weights.
    with mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None):
        network = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=empty)
    empty.unlink()
    generator = torch.Generator().manual_seed(seed)
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.weight[0].numel()
            module.weight.data = torch.randn(module.weight.shape, generator=generator) * (2 / fan_in) ** 0.5
        elif isinstance(module, nn.Linear):
            # Rows of zero mean: the logits then follow how the features vary between images, not their common
            # level, and IS is not stuck at 1.
            weight = torch.randn(module.weight.shape, generator=generator) * 2
            module.weight.data = weight - weight.mean(dim=1, keepdim=True)
            module.bias.data = torch.randn(module.bias.shape, generator=generator)
    torch.save(network.state_dict(), path)
    return path
