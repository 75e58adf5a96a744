"""Conditional GAN: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets" (arXiv 1411.1784)."""

from __future__ import annotations

from typing import Literal

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lightning_gans import losses
from lightning_gans.models.base import GANModule, base_settings, eval_mode
from lightning_gans.models.dcgan import DCGAN, DCGAN_ADAM
from lightning_gans.models.gan import generator_loss_fn, generator_turn_this_batch
from lightning_gans.models.ganhacks import GANHacks
from lightning_gans.nn import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator, dcgan_init
from lightning_gans.settings import (
    NonNegativeFloat,
    NonNegativeInt,
    OpenUnitInterval,
    PositiveInt,
    Probability,
    check_settings,
    described,
)

LABELLED_DATAMODULES = (
    "DigitsDataModule, MNISTDataModule and CIFAR10DataModule yield (images, labels) batches; ImageFolderDataModule, "
    "CelebA and LSUN yield images alone"
)


@described(DCGAN)
class ConditionalGAN(GANModule):
    """G and D both see a class label y: G learns p(x | y), and ``sample(n, labels=...)`` asks for classes.

    The paper's game, for each training batch of images x with labels y:

    1. update D by ascending log D(x | y) + log(1 - D(G(z | y') | y')), with y' drawn uniformly from the
       ``num_classes`` classes, ``n_critic`` times (default 1);
    2. update G by ascending log D(G(z | y') | y') (the non-saturating loss; ``generator_loss="minimax"``
       descends log(1 - D(G(z | y') | y')) as written).

    Noise and labels: each batch draws one minibatch of z and of labels y' and runs G on them once. D's update sees
    these fakes (with their y') detached from G; G's update, on the batches where G updates, sees the same fakes
    and labels, through D as it is after D's update. On the other batches (``n_critic`` > 1) G runs without
    building its graph.

    Deviations: the paper's MNIST networks are MLPs (G: ReLU layers of 200 units for z and 1000 for y joined by
    1200; D: maxout layers with dropout 0.5) trained by SGD with momentum and a decaying learning rate. Here the
    networks are DCGAN's convolutions (``lightning_gans.nn.ConditionalDCGANGenerator``/``...Discriminator``)
    with DCGAN's defaults: N(0, 0.02) initialisation, Adam with lr 2e-4 and beta1 0.5, z of 100 dimensions from
    N(0, 1) (the paper's is uniform: ``latent_distribution="uniform"``), batch size 128 (the datamodules'; the
    paper's is 100). Following ganhacks, the label enters through a learned embedding of ``embedding_dim``
    dimensions instead of a one-hot vector: G concatenates it to z; D maps it linearly to an image-sized plane
    stacked on the image as one more channel. 50 dimensions, as the paper's D gives y 50 maxout units. D ends in
    a logit and the losses use BCE-with-logits.

    Defaults fit MNIST resized to 32x32 (``image_size`` is any power of two from 16). ``num_classes`` must match
    the data's labels (checked against a datamodule's ``num_classes`` before training, and on every batch).
    ganhacks switches, all off by default, as in DCGAN: soft, noisy and flipped labels and annealed instance
    noise (``real_label_range``, ``fake_label_range``, ``label_flip_probability``, ``instance_noise_std``,
    ``instance_noise_steps``), dropout in G (``generator_dropout``) and its upsampling (``generator_upsample``).

    Args:
        num_classes: classes of the labels, 0 to num_classes - 1; the data's number (on the command line checked
            against the datamodule's).
        embedding_dim: dimensions of the learned label embedding that G and D take the label through.
    """

    def __init__(
        self,
        image_size: PositiveInt = 32,
        channels: PositiveInt = 1,
        num_classes: PositiveInt = 10,
        embedding_dim: PositiveInt = 50,
        latent_dim: PositiveInt = 100,
        latent_distribution: Literal["normal", "uniform"] = "normal",
        generator_features: PositiveInt = 64,
        discriminator_features: PositiveInt = 64,
        generator_loss: Literal["nonsaturating", "minimax"] = "nonsaturating",
        real_label_range: tuple[float, float] = (1.0, 1.0),
        fake_label_range: tuple[float, float] = (0.0, 0.0),
        label_flip_probability: Probability = 0.0,
        instance_noise_std: NonNegativeFloat = 0.0,
        instance_noise_steps: NonNegativeInt = 0,
        generator_dropout: Probability = 0.0,
        generator_upsample: Literal["transposed", "pixel_shuffle", "resize"] = "transposed",
        optimizer_g: OptimizerCallable = DCGAN_ADAM,
        optimizer_d: OptimizerCallable = DCGAN_ADAM,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        n_critic: PositiveInt = 1,
        ema_decay: OpenUnitInterval | None = None,
        channels_last: bool = False,
        torch_compile: bool = False,
    ) -> None:
        check_settings(ConditionalGAN, locals())
        generator = ConditionalDCGANGenerator(
            latent_dim,
            num_classes,
            embedding_dim,
            channels,
            image_size,
            generator_features,
            upsample=generator_upsample,
            dropout=generator_dropout,
        )
        discriminator = ConditionalDCGANDiscriminator(
            channels, image_size, discriminator_features, num_classes, embedding_dim
        )
        generator.apply(dcgan_init)
        discriminator.apply(dcgan_init)
        super().__init__(
            generator,
            discriminator,
            latent_dim=latent_dim,
            latent_distribution=latent_distribution,
            **base_settings(locals()),
        )
        self.generator_loss = generator_loss_fn(generator_loss)
        self.hacks = GANHacks(
            real_label_range, fake_label_range, label_flip_probability, instance_noise_std, instance_noise_steps
        )

    @property
    def num_classes(self) -> int:
        return self.hparams.num_classes

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        data_classes = getattr(datamodule, "num_classes", None)
        if data_classes is not None and data_classes != self.num_classes:
            raise ValueError(
                f"{type(datamodule).__name__} has {data_classes} classes but {type(self).__name__} was built for "
                f"num_classes={self.num_classes}. Build the model with num_classes={data_classes} (on the command "
                f"line: --model.init_args.num_classes {data_classes})."
            )

    def training_step(self, batch: Tensor | tuple, batch_idx: int) -> None:
        real, labels = self.real_images(batch), self.real_labels(batch)
        opt_d, opt_g = self.optimizers()
        hacks = self.hacks  # ganhacks' tricks on D's inputs and targets; all off by default
        g_turn = generator_turn_this_batch(self)

        # One forward of G per batch; D and G see the same (noisy) images and labels. G's graph only if G updates.
        fake_labels = self.sample_labels(real.size(0))
        with torch.set_grad_enabled(g_turn):
            fake = hacks.instance_noise(self.generator(self.sample_latent(real.size(0)), fake_labels), self.g_steps)
        real = hacks.instance_noise(real, self.g_steps)

        # D: maximise log D(x | y) + log(1 - D(G(z | y') | y')), on the fakes detached from G.
        with self.toggled_optimizer(opt_d):
            real_logits = self.discriminator(real, labels)
            fake_logits = self.discriminator(fake.detach(), fake_labels)
            d_loss = losses.minimax_discriminator_loss(
                real_logits, fake_logits, *hacks.targets(real_logits, fake_logits)
            )
            self.update(opt_d, d_loss)
        self.log_diagnostics(
            {"train/d_real": torch.sigmoid(real_logits).mean(), "train/d_fake": torch.sigmoid(fake_logits).mean()}
        )
        self.log("train/d_loss", d_loss, prog_bar=True)

        # G: after every n_critic D updates, on the same fakes through the updated D. D has no grad under G's toggle.
        if g_turn:
            with self.toggled_optimizer(opt_g):
                g_loss = self.generator_loss(self.discriminator(fake, fake_labels))
                self.update(opt_g, g_loss)
            self.log("train/g_loss", g_loss, prog_bar=True)

    # ------------------------------------------------------------------------------------- labels
    def real_labels(self, batch: Tensor | tuple | list) -> Tensor:
        """The labels of an (images, labels) batch, checked against ``num_classes``."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(
                f"{type(self).__name__} trains on (images, labels) batches, but the data yields images without "
                f"labels. Train it on a labelled datamodule: {LABELLED_DATAMODULES}."
            )
        return self.checked_labels(batch[1], batch[0].size(0), "the batch's labels")

    def checked_labels(self, labels: Tensor, n: int, what: str = "labels") -> Tensor:
        """``labels`` on the model's device, or a ValueError unless they are n class indices in [0, num_classes)."""
        labels = torch.as_tensor(labels, device=self.device)
        if labels.shape != (n,) or labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(
                f"{what} must be a 1-d integer tensor of {n} class indices, one per image; got shape "
                f"{tuple(labels.shape)} and dtype {labels.dtype}."
            )
        if n > 0:
            low, high = torch.aminmax(labels)
            if low < 0 or high >= self.num_classes:
                raise ValueError(
                    f"{what} must lie in [0, {self.num_classes}) (num_classes={self.num_classes}), got values from "
                    f"{int(low)} to {int(high)}. Build the model with the data's number of classes; "
                    f"{LABELLED_DATAMODULES}, each with 10 classes."
                )
        return labels

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n labels drawn uniformly from [0, num_classes); a seeded ``generator`` gives the same labels every time."""
        device = generator.device if generator is not None else self.device
        return torch.randint(self.num_classes, (n,), generator=generator, device=device).to(self.device)

    def generator_inputs(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Latents and uniformly drawn labels, as ``sample`` draws them: the EMA generator's batch-norm statistics
        are those of all classes together."""
        return self.sample_latent(n, generator), self.sample_labels(n, generator)

    # ----------------------------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, labels: Tensor | None = None) -> Tensor:
        """n images in [-1, 1] of the given classes (drawn uniformly with ``generator`` when ``labels`` is None),
        from the EMA generator if there is one, in eval mode."""
        latent = self.sample_latent(n, generator)
        labels = self.sample_labels(n, generator) if labels is None else labels
        return self.generate(latent, labels)

    @torch.no_grad()
    def generate(self, latent: Tensor, labels: Tensor) -> Tensor:
        """Images in [-1, 1] for given latents and labels, from the EMA generator if there is one, in eval mode."""
        labels = self.checked_labels(labels, latent.size(0))
        with eval_mode(self.sampling_generator) as net:
            return net(latent, labels)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.generator(z, labels)
