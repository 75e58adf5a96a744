"""The GPU recipe's options (``channels_last``, ``torch_compile``) on every image model, checked on CPU.

``torch_compile`` is tested with the ``aot_eager`` backend: it runs dynamo and AOTAutograd, where a model's code
can fail (graph breaks, double backward), without inductor's C++ build, which takes about a minute per model on
CPU. Inductor itself is exercised by ``python -m benchmarks.throughput``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from torch import nn

from lightning_gans import losses
from lightning_gans.models import GANModule, load_model
from tests.registry import VARIANTS

IMAGE_MODELS = sorted(name for name, variant in VARIANTS.items() if variant.protocol in ("sample", "translation"))
# Adam and RMSprop move every weight by about lr whatever the size of its gradient, so a gradient that is zero up to
# rounding (a bias just before a normalisation) moves by a different ~lr in each memory layout. Plain SGD keeps
# rounding differences at rounding size, and a small rate keeps them from growing, so layouts compare tightly.
SGD = {"class_path": "torch.optim.SGD", "init_args": {"lr": 1e-4}}
# Dropout masks and noise drawn by *_like follow the memory layout: the same random stream lands on other
# elements in NHWC. Such runs agree in distribution, not value by value, so the comparison switches them off.
LAYOUT_DEPENDENT_DRAWS = {
    "dcgan_ganhacks": {"generator_dropout": 0.0, "instance_noise_std": 0.0},
    "pix2pix": {"dropout": 0.0},
}
# The tiny CycleGAN instance-normalises 2x2 maps of near-zero variance, which magnifies rounding differences a
# thousandfold; a layout mistake would still show as differences the size of the updates (~1e-2).
ABSOLUTE_TOLERANCE = {"cyclegan": 5e-4}


def rebuilt(model: GANModule, **options: Any) -> GANModule:
    """``model`` built again through its class's ``__init__`` from its recorded arguments, plus ``options``."""
    parameters = inspect.signature(type(model).__init__).parameters
    factories = {
        f"{kind}_{player}": getattr(model, f"{kind}_factories")[player]
        for kind in ("optimizer", "scheduler")
        for player in ("g", "d")
    }
    recorded = {**model.hparams, **factories, **options}
    return type(model)(**{name: recorded[name] for name in parameters if name in recorded})


def fit(name: str, model: GANModule, root: Path) -> GANModule:
    Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=2,  # with n_critic 2 (the registry's WGANs), a G step
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=root,
    ).fit(model, datamodule=VARIANTS[name].make_data())
    return model


def trained(name: str, root: Path, **options: Any) -> GANModule:
    """The registry's model with ``options``, trained for 2 batches from seed 0."""
    seed_everything(0)
    template = VARIANTS[name].make_model()
    seed_everything(0)
    return fit(name, rebuilt(template, **options), root)


@pytest.fixture
def cheap_compile(monkeypatch):
    compile_module = nn.Module.compile
    monkeypatch.setattr(nn.Module, "compile", lambda self, **kwargs: compile_module(self, backend="aot_eager"))


def assert_close_states(a: nn.Module, b: nn.Module, atol: float = 1e-6) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key, value in sa.items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, sb[key], rtol=1e-5, atol=atol, msg=lambda m, key=key: f"{key}: {m}")


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_every_image_model_takes_the_recipe_options_off_by_default(name):
    model = VARIANTS[name].make_model()
    parameters = inspect.signature(type(model).__init__).parameters
    for option in ("channels_last", "torch_compile"):
        assert parameters[option].default is False and parameters[option].annotation == "bool"
        assert rebuilt(model, **{option: True}).hparams[option] is True


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_channels_last_trains_to_the_same_weights_in_nhwc(name, tmp_path):
    options = {"optimizer_g": SGD, "optimizer_d": SGD, **LAYOUT_DEPENDENT_DRAWS.get(name, {})}
    default = trained(name, tmp_path / "default", **options)
    nhwc = trained(name, tmp_path / "nhwc", **options, channels_last=True)
    assert nhwc.g_steps == default.g_steps > 0
    assert_close_states(nhwc, default, atol=ABSOLUTE_TOLERANCE.get(name, 1e-6))
    conv_weights = [p for p in nhwc.parameters() if p.dim() == 4]
    if name == "gan":  # fully connected networks: the option only changes the batches' layout
        assert not conv_weights
        return
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in conv_weights)
    assert any(not p.is_contiguous() for p in conv_weights)  # really converted, not just 1x1 kernels


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_torch_compile_compiles_every_network_of_both_players(name):
    model = rebuilt(VARIANTS[name].make_model(), torch_compile=True)
    model.configure_model()
    compiled = [net for net in model.modules() if net._compiled_call_impl is not None]
    assert compiled
    inside_compiled = {id(p) for net in compiled for p in net.parameters()}
    for player in (model.generator, model.discriminator):
        assert all(id(p) in inside_compiled for p in player.parameters())
    first = [net._compiled_call_impl for net in compiled]
    model.configure_model()  # Lightning calls it again on every fit/validate: keep the compiled code
    assert [net._compiled_call_impl for net in compiled] == first


@pytest.mark.parametrize("name", ["dcgan", "cyclegan"])  # a plain pair of networks, and ModuleDicts of them
def test_compiled_training_matches_eager_and_its_checkpoint_loads_uncompiled(name, tmp_path, cheap_compile):
    compiled = trained(name, tmp_path / "compiled", torch_compile=True)
    eager = trained(name, tmp_path / "eager")
    assert compiled.g_steps == eager.g_steps > 0
    assert_close_states(compiled, eager)

    ckpt = tmp_path / "compiled.ckpt"
    compiled.trainer.save_checkpoint(ckpt)
    assert_close_states(load_model(ckpt), compiled)
    # The weights go into a model built without compiling, under the same names.
    uncompiled = rebuilt(VARIANTS[name].make_model())
    uncompiled.load_state_dict(torch.load(ckpt, weights_only=True)["state_dict"])
    assert not any(net._compiled_call_impl is not None for net in uncompiled.modules())
    assert_close_states(uncompiled, compiled)


def test_gradient_penalty_through_a_compiled_critic(cheap_compile):
    # Compiled graphs have no double backward; the penalty runs the critic eagerly and must give the same gradients.
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 8 * 8, 1))
    real, fake = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    gradients = []
    for compile_it in (False, True):
        if compile_it:
            critic.compile()
        critic.zero_grad()
        torch.manual_seed(1)
        (critic(real).mean() - critic(fake).mean() + losses.gradient_penalty(critic, real, fake)).backward()
        gradients.append([p.grad.clone() for p in critic.parameters()])
    assert critic._compiled_call_impl is not None
    for eager_grad, compiled_grad in zip(*gradients, strict=True):
        torch.testing.assert_close(compiled_grad, eager_grad)
