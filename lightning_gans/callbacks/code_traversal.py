"""InfoGAN's figure: one categorical code down the rows, one continuous code swept across the columns."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule
from torch import Tensor
from torchvision.utils import make_grid

from lightning_gans.callbacks.image_grid import ImageGrid
from lightning_gans.models.base import CodeSource
from lightning_gans.settings import AtLeastTwo, NonNegativeInt, PositiveInt, check_settings


class CodeTraversalGrid(ImageGrid):
    """Every ``every_n_steps`` generator steps and/or every ``every_n_epochs`` epochs, and at the end of
    training, draw the latent-code traversal of Chen et al. 2016 (figure 2) and

    - save it as ``<log dir>/code_traversal/step_<generator step>.png``,
    - log it to every attached logger that takes images (W&B, TensorBoard, MLflow) under ``code_traversal``.

    Row r shows value r of categorical code ``categorical_index``; across the ``columns`` columns continuous
    code ``continuous_index`` goes linearly from ``sweep[0]`` to ``sweep[1]`` (the paper sweeps -2 to 2, past
    the training range [-1, 1], to show that the factor extrapolates). Everything else is the same in every
    cell: the noise and the other categorical codes are drawn once from ``seed``, the other continuous codes
    sit at 0, the centre of their range. Works with any LightningModule that follows
    ``lightning_gans.models.CodeSource``.

    Args:
        categorical_index: which categorical code goes down the rows, counting from 0.
        continuous_index: which continuous code is swept across the columns, counting from 0.
        sweep: (first, last) value of the swept code, at the left and right edge.
        columns: values of the sweep, evenly spaced from its first to its last.
        seed: seed of the noise and of the other categorical codes, the same in every cell.
    """

    key = "code_traversal"

    def __init__(
        self,
        categorical_index: NonNegativeInt = 0,
        continuous_index: NonNegativeInt = 0,
        sweep: tuple[float, float] = (-2.0, 2.0),
        columns: AtLeastTwo = 10,
        every_n_steps: PositiveInt | None = None,
        every_n_epochs: PositiveInt | None = 1,
        seed: int = 0,
    ) -> None:
        check_settings(CodeTraversalGrid, locals())
        super().__init__(every_n_steps, every_n_epochs)
        self.categorical_index, self.continuous_index = categorical_index, continuous_index
        self.sweep, self.columns, self.seed = tuple(sweep), columns, seed

    def check_model(self, pl_module: LightningModule) -> None:
        if not isinstance(pl_module, CodeSource):
            raise TypeError(
                f"CodeTraversalGrid needs a model with latent codes (lightning_gans.models.CodeSource: noise_dim, "
                f"categorical_codes, continuous_codes, sample_noise, latent_from_codes, generate), e.g. InfoGAN; "
                f"{type(pl_module).__name__} has none. Use SampleGrid for it."
            )
        for name, index, count, option in (
            ("categorical", self.categorical_index, len(pl_module.categorical_codes), "categorical_codes"),
            ("continuous", self.continuous_index, pl_module.continuous_codes, "continuous_codes"),
        ):
            if index >= count:
                raise ValueError(
                    f"CodeTraversalGrid {name}_index={index} but {type(pl_module).__name__} has {count} {name} "
                    f"code(s) ({option}={getattr(pl_module, option)}). Choose an index below {count}, or give the "
                    f"model {name} codes."
                )

    def grid(self, pl_module: LightningModule) -> Tensor:
        """The traversal as a float image in [0, 1], shape (3, H, W): one row per categorical value."""
        rows = pl_module.categorical_codes[self.categorical_index]
        cells = rows * self.columns
        seeded = torch.Generator().manual_seed(self.seed)
        noise = pl_module.sample_noise(1, generator=seeded).expand(cells, -1)
        fixed = [torch.randint(values, (1,), generator=seeded) for values in pl_module.categorical_codes]
        categorical = torch.stack(fixed, 1).expand(cells, -1).clone()
        categorical[:, self.categorical_index] = torch.arange(rows).repeat_interleave(self.columns)
        continuous = torch.zeros(cells, pl_module.continuous_codes)
        continuous[:, self.continuous_index] = torch.linspace(*self.sweep, self.columns).repeat(rows)
        device = noise.device
        latent = pl_module.latent_from_codes(noise, categorical.to(device), continuous.to(device))
        images = pl_module.generate(latent)
        return make_grid(images.float().cpu(), nrow=self.columns, normalize=True, value_range=(-1, 1))
