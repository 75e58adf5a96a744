"""One process of the two in tests/test_metrics.py's DDP check (a module of its own: spawned processes import it)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist

from lightning_gans.metrics import FidelityMetrics, ReferenceStatistics


def update_with_my_share(
    rank: int, init_file: str, fake: torch.Tensor, logits: torch.Tensor, real: torch.Tensor, out: str
):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    metric = FidelityMetrics(ReferenceStatistics.from_features(real), kid_subsets=4, kid_subset_size=30)
    share = slice(rank * len(fake) // 2, (rank + 1) * len(fake) // 2)
    metric.update(fake[share], logits[share])
    torch.save(metric.compute(), Path(out) / f"rank{rank}.pt")
    dist.destroy_process_group()
