"""Behaviour of the base module and the GAN/DCGAN variants beyond the conformance suite, and the rule that the
minimax-game variants run G once per batch."""

from __future__ import annotations

import csv

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans.models import DCGAN, GAN, ConditionalGAN, GANModule, ImprovedGAN, InfoGAN
from lightning_gans.nn import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator


def tiny_dcgan(**kwargs) -> DCGAN:
    defaults = dict(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)
    return DCGAN(**{**defaults, **kwargs})


def loader(shape=(1, 16, 16), n=32, batch_size=8) -> DataLoader:
    images = torch.rand(n, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return DataLoader(TensorDataset(images, torch.zeros(n)), batch_size=batch_size)


def fit(model, data, tmp_path, **trainer_kwargs) -> Trainer:
    settings = dict(
        accelerator="cpu",
        max_epochs=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
        logger=False,
    )
    trainer = Trainer(**{**settings, **trainer_kwargs})
    trainer.fit(model, data)
    return trainer


@pytest.mark.parametrize("image_size, blocks", [(16, 2), (32, 3), (64, 4), (128, 5)])
def test_dcgan_networks_follow_the_paper_for_every_power_of_two(image_size, blocks):
    generator = DCGANGenerator(latent_dim=10, channels=3, image_size=image_size, features=8)
    discriminator = DCGANDiscriminator(channels=3, image_size=image_size, features=8)
    z = torch.randn(2, 10)
    images = generator(z)
    assert images.shape == (2, 3, image_size, image_size)
    assert discriminator(images).shape == (2,)
    batch_norms = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(batch_norms) == blocks  # every block but the output layer
    assert isinstance(generator.net[-1], torch.nn.Tanh)
    assert not isinstance(discriminator.body[1], torch.nn.BatchNorm2d)  # none on D's input layer
    assert not any(isinstance(m, (torch.nn.Linear, torch.nn.MaxPool2d)) for m in discriminator.modules())


def test_dcgan_initialisation_is_normal_with_std_0_02():
    model = DCGAN(image_size=64, channels=3)
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, torch.nn.Conv2d)])
    assert weights.mean().abs() < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.02)


@pytest.mark.parametrize("image_size", [8, 24, 48, 100])
def test_dcgan_rejects_sizes_it_cannot_build(image_size):
    with pytest.raises(ValueError, match=f"image_size={image_size} is not supported.*power of two"):
        tiny_dcgan(image_size=image_size)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_critic": 0}, "n_critic"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"latent_distribution": "cauchy"}, "latent_distribution"),
        ({"generator_loss": "wasserstein"}, "generator_loss"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_dcgan(**kwargs)


def test_grayscale_data_into_a_colour_model_fails_before_any_update(tmp_path):
    model = tiny_dcgan(channels=3)
    before = {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    with pytest.raises(ValueError, match=r"shape \(1, 16, 16\).*built for \(3, 16, 16\).*channels=1"):
        fit(model, loader(shape=(1, 16, 16)), tmp_path)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items() if isinstance(v, torch.Tensor))


def test_default_latent_distributions():
    assert GAN(image_size=8, generator_hidden=(4,), discriminator_hidden=(4,)).sample_latent(4000).abs().max() <= 1
    z = tiny_dcgan().sample_latent(4000)
    assert z.std().item() == pytest.approx(1.0, rel=0.05) and z.abs().max() > 2


def test_each_step_logs_losses_discriminator_outputs_and_gradient_norms(tmp_path):
    logger = CSVLogger(tmp_path)
    fit(tiny_dcgan(), loader(), tmp_path, logger=logger, log_every_n_steps=1)
    with open(logger.log_dir + "/metrics.csv") as f:
        columns = set(next(csv.reader(f)))
    expected = {
        "train/d_loss",
        "train/g_loss",
        "train/d_real",
        "train/d_fake",
        "train/d_grad_norm",
        "train/g_grad_norm",
    }
    assert expected <= columns


def test_losses_are_logged_every_batch_and_diagnostics_only_when_the_loggers_write(tmp_path, monkeypatch):
    model = tiny_dcgan()
    logged = []
    log = model.log
    monkeypatch.setattr(model, "log", lambda name, *args, **kwargs: (logged.append(name), log(name, *args, **kwargs)))
    fit(model, loader(), tmp_path, limit_train_batches=4, log_every_n_steps=2)
    assert logged.count("train/d_loss") == logged.count("train/g_loss") == 4
    assert logged.count("train/d_real") == logged.count("train/d_fake") == logged.count("train/d_grad_norm") == 2


def test_n_critic_sets_discriminator_updates_per_generator_update(tmp_path):
    model = tiny_dcgan(n_critic=3)
    trainer = fit(model, loader(n=96), tmp_path)  # 12 batches
    assert model.d_steps == 12 and model.g_steps == 4
    assert trainer.global_step == 16  # Lightning counts both players' optimizer steps


def test_ema_generator_tracks_the_generator_and_is_used_for_samples(tmp_path):
    seed_everything(0)
    model = tiny_dcgan(ema_decay=0.5)
    fit(model, loader(), tmp_path)
    ema_weights = dict(model.generator_ema.module.named_parameters())
    live_weights = dict(model.generator.named_parameters())
    assert not any(p.requires_grad for p in ema_weights.values())
    assert any(not torch.equal(ema_weights[k], live_weights[k]) for k in live_weights)
    z = model.sample_latent(4)
    model.generator_ema.eval()
    assert torch.equal(model.generate(z), model.generator_ema(z))


def test_lr_schedulers_step_once_per_epoch(tmp_path):
    model = tiny_dcgan(
        scheduler_d={"class_path": "torch.optim.lr_scheduler.StepLR", "init_args": {"step_size": 1, "gamma": 0.1}}
    )
    trainer = fit(model, loader(), tmp_path, max_epochs=2)
    d_lr, g_lr = (opt.param_groups[0]["lr"] for opt in trainer.optimizers)
    assert d_lr == pytest.approx(2e-6) and g_lr == pytest.approx(2e-4)


def test_python_optimizer_callables_work_too(tmp_path):
    model = tiny_dcgan(optimizer_d=lambda params: torch.optim.SGD(params, lr=0.01))
    trainer = fit(model, loader(), tmp_path)
    assert isinstance(trainer.optimizers[0], torch.optim.SGD)
    assert "optimizer_d" not in model.hparams  # code stays out of the checkpoint's hyperparameters


TINY_CONV = dict(image_size=16, channels=1, generator_features=4, discriminator_features=4)
ONE_FORWARD_VARIANTS = {
    "gan": lambda: GAN(
        image_size=16, channels=1, latent_dim=8, generator_hidden=(16,), discriminator_hidden=(8,), maxout_pieces=2
    ),
    "dcgan_ganhacks": lambda: DCGAN(
        **TINY_CONV, latent_dim=8, real_label_range=(0.7, 1.2), instance_noise_std=0.1, instance_noise_steps=10
    ),
    "cgan": lambda: ConditionalGAN(**TINY_CONV, latent_dim=8, embedding_dim=4),
    "infogan": lambda: InfoGAN(**TINY_CONV, noise_dim=4, categorical_codes=(3,), continuous_codes=1, q_hidden=8),
    "improved_gan_all_switches": lambda: ImprovedGAN(
        **TINY_CONV,
        latent_dim=8,
        feature_matching=True,
        minibatch_kernels=3,
        historical_averaging=0.5,
        virtual_batch_norm=True,
        reference_batch_size=4,
        ema_decay=0.5,
    ),
    "dcgan_n_critic_2": lambda: DCGAN(**TINY_CONV, latent_dim=8, n_critic=2),
}


class PlayerRecorder:
    """Records, batch by batch, G's outputs and what D reads (its images, whether they carry G's graph, whether D
    is the player being trained), and checks at every update that the other player's gradients stay untouched."""

    def __init__(self, model: GANModule) -> None:
        self.model = model
        self.batches: list[dict[str, list]] = []
        model.generator.register_forward_hook(self.generator_ran)
        # D's convolutional body where it has one: InfoGAN and feature matching read it without D's head.
        getattr(model.discriminator, "body", model.discriminator).register_forward_pre_hook(self.discriminator_reads)
        self.update = model.update
        model.update = self.checked_update

    def generator_ran(self, module, args, output) -> None:
        self.batches.append({"generator_outputs": [output.detach().clone()], "d_step": [], "g_step": []})
        self.batches[-1]["graph"] = output.requires_grad

    def discriminator_reads(self, module, args) -> None:
        d_trains = any(p.requires_grad for p in self.model.discriminator.parameters())
        images = args[0]
        labels = args[1].clone() if len(args) > 1 else None  # cGAN's D reads (images, labels)
        read = (images.detach().clone(), images.requires_grad, labels)
        self.batches[-1]["d_step" if d_trains else "g_step"].append(read)

    def checked_update(self, optimizer, loss) -> None:
        name = self.model._optimizer_name(optimizer)
        other = self.model.generator if name == "d" else self.model.discriminator
        before = [None if p.grad is None else p.grad.clone() for p in other.parameters()]
        self.update(optimizer, loss)
        after = [p.grad for p in other.parameters()]
        assert all(b is a is None or torch.equal(b, a) for b, a in zip(before, after, strict=True)), (
            f"the {name} update changed the other player's gradients"
        )


@pytest.mark.parametrize("name", list(ONE_FORWARD_VARIANTS))
def test_one_generator_forward_per_batch_serves_d_detached_and_g_the_same_fakes(name, tmp_path):
    seed_everything(0)
    model = ONE_FORWARD_VARIANTS[name]()
    recorder = PlayerRecorder(model)
    images = torch.rand(32, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    labels = torch.randint(10, (32,), generator=torch.Generator().manual_seed(1))
    fit(model, DataLoader(TensorDataset(images, labels), batch_size=8), tmp_path)

    n_critic = model.hparams.n_critic
    generator_runs = len(recorder.batches)
    assert model.d_steps == 4 and generator_runs == 4, f"G ran {generator_runs} times in 4 batches"
    assert model.g_steps == 4 // n_critic
    for index, batch in enumerate(recorder.batches):
        generator_updates = (index + 1) % n_critic == 0
        assert batch["graph"] == generator_updates  # G's graph is built only for G's own update
        # D's update reads no image that carries G's graph: the fakes come detached.
        assert not any(requires_grad for _, requires_grad, _ in batch["d_step"])
        with_graph = [read for read in batch["g_step"] if read[1]]
        assert len(with_graph) == int(generator_updates)
        if generator_updates:  # G's update reads the very fakes (and labels) D's update read, through D
            fake, _, labels = with_graph[0]
            assert any(
                torch.equal(fake, seen) and (labels is None or torch.equal(labels, seen_labels))
                for seen, _, seen_labels in batch["d_step"]
            )
    if model.generator_ema is not None:  # averaged after every G update, as before
        assert model.generator_ema.n_averaged.item() == model.g_steps


def test_gan_discriminator_drops_the_authors_shares_of_inputs_and_hidden_units():
    torch.manual_seed(0)
    discriminator = GAN(image_size=16, channels=1, discriminator_hidden=(64, 64), maxout_pieces=2).discriminator
    dropped = []

    def record(module, args, output):
        dropped.append(((output == 0) & (args[0] != 0)).float().mean().item())

    for layer in discriminator.modules():
        if isinstance(layer, torch.nn.Dropout):
            layer.register_forward_hook(record)
    discriminator.train()(torch.rand(500, 1, 16, 16) + 0.1)
    # The authors' mnist.yaml: D keeps 80% of its inputs and 50% of the units of each later layer.
    assert dropped == pytest.approx([0.2, 0.5, 0.5], abs=0.02)


@pytest.mark.parametrize("setting", ["dropout", "input_dropout"])
def test_gan_and_its_discriminator_refuse_dropout_outside_zero_to_one(setting):
    with pytest.raises(ValueError, match=rf"{setting}\b.*\[0, 1\).*got 1\.0"):
        GAN(image_size=8, generator_hidden=(4,), discriminator_hidden=(4,), **{setting: 1.0})
    rates = {"dropout": 0.5, "input_dropout": 0.2, setting: 1.0}
    with pytest.raises(ValueError, match=rf"{setting}\b.*\[0, 1\).*got 1\.0"):
        MLPDiscriminator(1, 8, (4,), 2, **rates)
