from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real data beside the checkout (../shared/data); absent in a user's clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it ships beside the checkout in CI only)")
    return SHARED_DATA


@pytest.fixture
def offline_wandb(monkeypatch):
    """W&B offline, quiet, with no account; the run is finished afterwards, as Lightning's WandbLogger leaves it
    open and a later WandbLogger in the same process would log into it instead of starting its own."""
    import wandb

    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    yield
    wandb.finish()
