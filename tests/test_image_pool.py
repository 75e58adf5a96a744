"""CycleGAN's image pool: the paper's rule, vectorised; its state each rank's own (not DDP-broadcast buffers) and
in every checkpoint. The same rank-local state holds ImprovedGAN's historical averages."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from lightning_gans.nn import ImagePool
from lightning_gans.nn.image_pool import RankLocal

REPO = Path(__file__).resolve().parents[1]


def sequential_pool(stored: torch.Tensor, count: int, images: torch.Tensor, coins, slots):
    """The rule one image at a time, as the pool was first written: the reference for the vectorised pool."""
    stored, returned, draw = stored.clone(), [], 0
    for image in images:
        if count < len(stored):
            stored[count], count = image, count + 1
            returned.append(image)
        else:
            if coins[draw] < 0.5:
                slot = int(slots[draw])
                returned.append(stored[slot].clone())
                stored[slot] = image
            else:
                returned.append(image)
            draw += 1
    return torch.stack(returned), stored, count


def draws_of_next_call(pool: ImagePool, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The coins and slots the pool's next call on ``batch`` images will draw, leaving the random stream as is."""
    meeting_a_full_pool = batch - min(batch, pool.size - pool.count)
    state = torch.get_rng_state()
    draws = torch.rand(meeting_a_full_pool), torch.randint(pool.size, (meeting_a_full_pool,))
    torch.set_rng_state(state)
    return draws


@pytest.mark.parametrize(
    ("size", "batch"),
    [(3, 5), (4, 1), (2, 16), (5, 5)],
    ids=["batches-cross-the-fill-boundary", "one-image-at-a-time", "many-repeated-slots", "batch-fills-exactly"],
)
def test_pool_returns_and_stores_what_the_sequential_rule_does_with_the_same_draws(size, batch):
    torch.manual_seed(0)
    pool = ImagePool(size, image_shape=(2, 1, 1))
    repeats = 0
    for step in range(8):
        images = torch.randn(batch, 2, 1, 1)
        coins, slots = draws_of_next_call(pool, batch)
        swapped_slots = slots[coins < 0.5].tolist()
        repeats += len(swapped_slots) - len(set(swapped_slots))
        expected, expected_stored, expected_count = sequential_pool(pool.images, pool.count, images, coins, slots)
        returned = pool(images)
        assert torch.equal(returned, expected), f"step {step}"
        assert torch.equal(pool.images, expected_stored) and pool.count == expected_count == min(
            size, (step + 1) * batch
        )
    if size < batch:  # the case of slots drawn twice in one batch must have come up
        assert repeats > 0


def test_a_slot_drawn_twice_in_a_batch_swaps_in_turn(monkeypatch):
    pool = ImagePool(1, image_shape=(1,))
    pool(torch.tensor([[7.0]]))
    monkeypatch.setattr(torch, "rand", lambda n, device=None: torch.zeros(n, device=device))  # every image swaps
    returned = pool(torch.tensor([[1.0], [2.0], [3.0]]))
    # The first gets the stored 7, the second the first, the third the second; the third stays.
    assert returned.flatten().tolist() == [7.0, 1.0, 2.0] and pool.images.flatten().tolist() == [3.0]


def test_a_full_pool_swaps_half_the_images_into_uniformly_random_slots():
    torch.manual_seed(0)
    pool = ImagePool(4, image_shape=(1,))
    pool(-torch.arange(1.0, 5.0)[:, None])
    swaps, slot_hits = 0, torch.zeros(4)
    for step in range(2000):
        before = pool.images.clone()
        image = torch.tensor([[float(step)]])
        returned = pool(image)
        changed = (pool.images != before).flatten()
        if torch.equal(returned, image):
            assert not changed.any()  # an image returned as is leaves the pool alone
        else:
            swaps += 1
            assert changed.sum() == 1 and pool.images[changed] == image and before[changed] == returned
            slot_hits += changed
    assert 0.45 < swaps / 2000 < 0.55
    assert ((slot_hits / swaps - 0.25).abs() < 0.04).all(), slot_hits


def test_returned_images_keep_their_dtype_and_carry_no_graph():
    pool = ImagePool(2, image_shape=(1,)).double()
    images = torch.randn(5, 1, requires_grad=True)
    returned = pool(images)
    assert returned.dtype == torch.float32 and pool.images.dtype == torch.float64 and not returned.requires_grad


def test_pool_state_is_not_a_buffer_but_is_saved_moved_and_cast_like_one():
    parent = nn.ModuleDict({"A": ImagePool(3, image_shape=(1, 2, 2))})
    pool = parent["A"]
    assert list(parent.buffers()) == []  # so DDP's broadcast_buffers leaves it alone
    torch.manual_seed(0)
    pool(torch.randn(4, 1, 2, 2))
    state = parent.state_dict()
    assert set(state) == {"A.images", "A.count"} and state["A.count"].dtype == torch.long and state["A.count"] == 3
    assert torch.equal(state["A.images"], pool.images)
    original = copy.deepcopy(pool)

    parent.half()
    assert pool.images.dtype == torch.float16 and pool.count == 3
    parent.to(torch.device("meta"))
    assert pool.images.device.type == "meta"

    # A fresh pool that loads the state continues as the saved one would have.
    restored = nn.ModuleDict({"A": ImagePool(3, image_shape=(1, 2, 2))})
    restored.load_state_dict(state)  # strict: raises on missing or unexpected keys
    assert restored["A"].count == 3 and torch.equal(restored["A"].images, original.images)
    after = torch.randn(4, 1, 2, 2)
    torch.manual_seed(1)
    continued = restored["A"](after)
    torch.manual_seed(1)
    assert torch.equal(continued, original(after)) and torch.equal(restored["A"].images, original.images)


def test_pool_load_reports_missing_and_misshapen_state():
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*\"count\""):
        ImagePool(3, (1, 2, 2)).load_state_dict({"images": torch.zeros(3, 1, 2, 2)})
    with pytest.raises(RuntimeError, match=r"size mismatch for images.*\(2, 1, 2, 2\).*\(3, 1, 2, 2\)"):
        ImagePool(3, (1, 2, 2)).load_state_dict({"images": torch.zeros(2, 1, 2, 2), "count": torch.tensor(2)})
    pool = ImagePool(3, (1, 2, 2))
    pool.load_state_dict({"count": torch.tensor(2)}, strict=False)
    assert pool.count == 2


def test_rank_local_state_refuses_what_it_cannot_save():
    module = RankLocal()
    with pytest.raises(ValueError, match="'x' cannot be None or non-persistent"):
        module.register_buffer("x", torch.zeros(1), persistent=False)
    module.register_rank_local("x", torch.zeros(1))
    with pytest.raises(KeyError, match="cannot keep 'x' rank local"):
        module.register_rank_local("x", 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_pool_on_a_gpu_never_waits_for_the_device():
    pool = ImagePool(4, image_shape=(3, 8, 8)).cuda()
    assert pool.images.is_cuda
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # raises on any device-to-host sync
    try:
        for _ in range(4):  # fills, crosses into swapping, then swaps
            returned = pool(torch.randn(3, 3, 8, 8, device="cuda"))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert returned.is_cuda and pool.count == 4


# ---------------------------------------------------------------------------------------------- DDP
@pytest.fixture(scope="module")
def ddp_state(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp_state")
    result = subprocess.run(
        [sys.executable, "-m", "tests.ddp_state_worker", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def ranks(run: Path) -> list[dict]:
    return [torch.load(run / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]


def checkpoint_state(run: Path) -> dict[str, torch.Tensor]:
    (path,) = (run / "checkpoints").glob("*.ckpt")
    return torch.load(path, weights_only=False)["state_dict"]


def test_under_ddp_each_rank_keeps_its_own_image_pool(ddp_state):
    run = ddp_state / "cyclegan"
    states = ranks(run)
    for rank, state in enumerate(states):
        assert not any(key.startswith("image_pools.") for key in state["buffers"])
        for domain in "AB":
            found, left = state["found"][domain], state["left"][domain]
            assert len(found) == len(left) == 3
            # The first step finds the pool the rank filled before DDP wrapped the model, and every later step the
            # pool as the rank's previous step left it: never rank 0's.
            assert (found[0] == rank).all()
            for step in range(1, 3):
                assert torch.equal(found[step], left[step - 1]), f"pool {domain} changed before step {step}"
    for domain in "AB":
        key = f"image_pools.{domain}.images"
        assert not torch.equal(states[0]["state_dict"][key], states[1]["state_dict"][key])
        assert torch.equal(checkpoint_state(run)[key], states[0]["state_dict"][key])  # rank 0 writes it


def test_under_ddp_the_historical_averages_agree_without_being_broadcast(ddp_state):
    run = ddp_state / "improved_gan_all_switches"
    states = ranks(run)
    history = [key for key in states[0]["state_dict"] if key.startswith("history.")]
    assert sorted(history) == [
        f"history.{player}.{name}" for player in ("discriminator", "generator") for name in ("count", "mean")
    ]
    for state in states:
        assert "generator.reference_latents" in state["buffers"]  # DDP broadcasts the true buffers
        assert not any(key.startswith("history.") for key in state["buffers"])
    # The ranks start from different weights (their own seeds): DDP hands out rank 0's, the model its histories.
    for key in history:
        assert torch.equal(states[0]["state_dict"][key], states[1]["state_dict"][key]), key
        assert torch.equal(checkpoint_state(run)[key], states[0]["state_dict"][key])
    assert int(states[0]["state_dict"]["history.discriminator.count"]) == 4  # the initial weights and 3 steps
