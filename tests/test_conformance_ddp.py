"""Every registered variant trains under DDP: 2 CPU processes (gloo), launched once for all variants."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.registry import VARIANTS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    result = subprocess.run(
        [sys.executable, "-m", "tests.ddp_worker", str(out), *sorted(VARIANTS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_ddp_ranks_end_with_identical_parameters_and_write_once(ddp_runs, name):
    run = ddp_runs / name
    ranks = [json.loads((run / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks) and ranks[0]["steps"] == ranks[1]["steps"]
    assert ranks[0]["steps"]["d"] == 3

    parameters = [torch.load(run / f"parameters_rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    assert any(key.startswith("generator.") for key in parameters[0])
    assert any(key.startswith("discriminator.") for key in parameters[0])
    for key, value in parameters[0].items():
        assert torch.equal(value, parameters[1][key]), f"{key} differs between ranks"

    assert len(list((run / "checkpoints").glob("*.ckpt"))) == 1
    assert len(list(run.glob("logs/version_*"))) == 1
    grids = "translations" if VARIANTS[name].protocol == "translation" else "samples"
    assert len(list(run.glob(f"logs/version_0/{grids}/*.png"))) == 1
