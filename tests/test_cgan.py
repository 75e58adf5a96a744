"""ConditionalGAN and the ClassGrid callback: sampling by class, label checks, grid layout, learning the condition."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from torch.utils.data import DataLoader, TensorDataset
from torchvision.utils import make_grid

from datamodules import DigitsDataModule
from lightning_gans.callbacks import ClassGrid, SampleGrid
from lightning_gans.cli import cli_main
from lightning_gans.metrics import pretrained_digit_classifier
from lightning_gans.models import DCGAN, ConditionalGAN, ConditionalSource


def tiny_cgan(**overrides) -> ConditionalGAN:
    tiny = {"image_size": 16, "channels": 1, "latent_dim": 8, "embedding_dim": 4}
    return ConditionalGAN(**{**tiny, "generator_features": 4, "discriminator_features": 4, **overrides})


def fit_one_batch(model: ConditionalGAN, loader_or_data) -> Trainer:
    trainer = Trainer(
        accelerator="cpu",
        fast_dev_run=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    if isinstance(loader_or_data, DataLoader):
        trainer.fit(model, train_dataloaders=loader_or_data)
    else:
        trainer.fit(model, datamodule=loader_or_data)
    return trainer


def test_follows_the_conditional_protocol_and_samples_requested_classes():
    model = tiny_cgan()
    assert isinstance(model, ConditionalSource) and model.num_classes == 10
    samples = model.sample(6, labels=torch.tensor([0, 1, 2, 7, 8, 9]))
    assert samples.shape == (6, 1, 16, 16)
    assert samples.min() >= -1 and samples.max() <= 1
    assert model.sample(3).shape == (3, 1, 16, 16)  # labels drawn uniformly


def test_seeded_sampling_draws_latent_then_labels_from_the_same_generator():
    model = tiny_cgan()
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    generator = torch.Generator().manual_seed(3)
    latent = model.sample_latent(5, generator)
    assert torch.equal(a, model.generate(latent, model.sample_labels(5, generator)))


def test_the_label_changes_the_image_for_the_same_latent():
    model = tiny_cgan()
    latent = model.sample_latent(4, torch.Generator().manual_seed(0))
    zeros, sevens = (model.generate(latent, torch.full((4,), digit)) for digit in (0, 7))
    assert (zeros - sevens).abs().amax(dim=(1, 2, 3)).min() > 1e-4


def test_generate_uses_the_ema_generator_with_the_labels():
    model = tiny_cgan(ema_decay=0.9)
    with torch.no_grad():  # make the trained generator differ from its average
        model.generator.embedding.weight.add_(1.0)
    latent, labels = model.sample_latent(2), torch.tensor([3, 4])
    model.update_ema_statistics()  # what generate does first: the averaged weights' own batch-norm statistics
    with torch.no_grad():
        averaged = model.generator_ema.module.eval()(latent, labels)
        trained = model.generator.eval()(latent, labels)
    assert torch.equal(model.generate(latent, labels), averaged) and not torch.equal(averaged, trained)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (torch.tensor([0, 10]), r"must lie in \[0, 10\).*from 0 to 10"),
        (torch.tensor([-1, 2]), r"must lie in \[0, 10\)"),
        (torch.tensor([0.0, 1.0]), "integer tensor of 2 class indices"),
        (torch.tensor([0, 1, 2]), "integer tensor of 2 class indices"),
    ],
)
def test_bad_requested_labels_are_refused(labels, message):
    with pytest.raises(ValueError, match=message):
        tiny_cgan().sample(2, labels=labels)


def test_a_batch_without_labels_is_refused_naming_the_labelled_datamodules():
    images = DataLoader(torch.rand(8, 1, 16, 16) * 2 - 1, batch_size=4)  # bare tensors, as ImageFolderDataModule
    with pytest.raises(ValueError, match="images without labels.*MNISTDataModule"):
        fit_one_batch(tiny_cgan(), images)


def test_batch_labels_outside_the_classes_are_refused():
    batches = DataLoader(TensorDataset(torch.zeros(4, 1, 16, 16), torch.tensor([0, 3, 12, 5])), batch_size=4)
    with pytest.raises(ValueError, match=r"batch's labels must lie in \[0, 10\).*to 12"):
        fit_one_batch(tiny_cgan(), batches)


def test_a_datamodule_with_other_classes_is_refused_before_training():
    model = tiny_cgan(num_classes=5)
    with pytest.raises(ValueError, match="DigitsDataModule has 10 classes.*num_classes=5.*num_classes 10"):
        fit_one_batch(model, DigitsDataModule(image_size=16, batch_size=4))
    assert model.d_steps == 0


class LabelPainter:
    """A ConditionalSource whose image shows its label (top half) and its latent (bottom half)."""

    g_steps, num_classes = 0, 3

    def sample(self, n, generator=None, labels=None):
        raise AssertionError("ClassGrid must use sample_latent and generate")

    def sample_latent(self, n, generator=None):
        return torch.rand(n, 2, generator=generator)

    def generate(self, latent, labels):
        top = (labels.float() / self.num_classes).view(-1, 1, 1, 1).expand(-1, 1, 2, 4)
        bottom = latent[:, :1].view(-1, 1, 1, 1).expand(-1, 1, 2, 4)
        return torch.cat([top, bottom], dim=2) * 2 - 1


def test_class_grid_has_a_row_per_class_and_the_same_noise_down_each_column():
    callback = ClassGrid(samples_per_class=5, seed=1)
    painter = LabelPainter()
    callback.check_model(painter)
    grid = callback.grid(painter)
    columns = painter.sample_latent(5, torch.Generator().manual_seed(1))
    rows = [painter.generate(columns, torch.full((5,), label)) for label in range(3)]
    expected = make_grid(torch.cat(rows), nrow=5, normalize=True, value_range=(-1, 1))
    assert grid.shape == (3, 3 * (4 + 2) + 2, 5 * (4 + 2) + 2)
    assert torch.allclose(grid, expected)

    model_grid = ClassGrid(samples_per_class=4).grid(tiny_cgan())
    assert model_grid.shape == (3, 10 * (16 + 2) + 2, 4 * (16 + 2) + 2)  # 10 rows of 16-pixel digits


def test_class_grid_refuses_an_unconditional_model():
    model = DCGAN(image_size=16, channels=1, latent_dim=8, generator_features=4, discriminator_features=4)
    with pytest.raises(TypeError, match="ConditionalSource.*SampleGrid"):
        ClassGrid().check_model(model)


def test_cli_adds_the_class_grid_for_conditional_models_only(tmp_path):
    tiny = ["--model.init_args.generator_features=4", "--model.init_args.discriminator_features=4"]
    root = f"--trainer.default_root_dir={tmp_path}"
    cgan = cli_main(["--model=lightning_gans.models.ConditionalGAN", *tiny, root], run=False)
    assert {ClassGrid, SampleGrid} <= {type(callback) for callback in cgan.trainer.callbacks}
    dcgan = cli_main([*tiny, root], run=False)
    assert not any(isinstance(callback, ClassGrid) for callback in dcgan.trainer.callbacks)


@pytest.fixture
def one_thread():
    """One CPU thread: the same float sums, so the same run, on any machine (and tiny nets gain nothing from more)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_short_training_on_digits_draws_the_requested_digits_more_often_than_chance(one_thread):
    seed_everything(0)
    fast_adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 1e-3, "betas": [0.5, 0.999]}}
    width = {"latent_dim": 16, "embedding_dim": 16, "generator_features": 8, "discriminator_features": 8}
    model = tiny_cgan(**width, optimizer_g=fast_adam, optimizer_d=fast_adam)
    Trainer(
        accelerator="cpu",
        max_steps=2 * 200,  # D and G steps
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
    ).fit(model, datamodule=DigitsDataModule(image_size=16, batch_size=32))
    labels = torch.arange(10).repeat_interleave(20)
    samples = model.sample(len(labels), generator=torch.Generator().manual_seed(0), labels=labels)
    # The classifier reads any size (it resizes to its 32x32 inside).
    accuracy = (pretrained_digit_classifier().predict(samples) == labels).float().mean().item()
    assert accuracy > 0.3  # chance is 0.1; about 0.8 after these 200 steps
