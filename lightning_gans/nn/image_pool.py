"""The history of generated images that CycleGAN's discriminators learn from (Shrivastava et al. 2017)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RankLocal(nn.Module):
    """A module whose state each process keeps for itself, out of DDP's buffer broadcast.

    DDP copies rank 0's buffers to every rank when it wraps the model and, with ``broadcast_buffers=True``, before
    forwards, which is wrong for state that is each rank's own (an image pool) and a waste for state the ranks
    already agree on. Here ``register_rank_local`` (and ``register_buffer``, so that subclassing a module with
    buffers makes them rank local) keeps a tensor or an int as a plain attribute instead: not among ``buffers()``,
    but, like a buffer, moved and cast by ``.to()`` (tensors), saved in ``state_dict`` under its own name (ints as
    0-d tensors) and loaded back, so checkpoints look as they would with buffers.
    """

    _rank_local: tuple[str, ...] = ()

    def register_rank_local(self, name: str, value: Tensor | int) -> None:
        if "." in name or not name or hasattr(self, name):
            raise KeyError(f"cannot keep {name!r} rank local: it must be a new attribute name without dots")
        self._rank_local += (name,)
        setattr(self, name, value)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        if tensor is None or not persistent:
            raise ValueError(f"rank-local state is always a saved tensor; {name!r} cannot be None or non-persistent")
        self.register_rank_local(name, tensor)

    def _apply(self, fn, recurse: bool = True):
        for name in self._rank_local:
            value = getattr(self, name)
            if isinstance(value, Tensor):
                setattr(self, name, fn(value))
        return super()._apply(fn, recurse)

    def _save_to_state_dict(self, destination, prefix: str, keep_vars: bool) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for name in self._rank_local:
            value = getattr(self, name)
            if isinstance(value, int):
                destination[prefix + name] = torch.tensor(value)
            else:
                destination[prefix + name] = value if keep_vars else value.detach()

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        for name in self._rank_local:
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            if key in unexpected_keys:  # nn.Module flags every key that is not a parameter or buffer
                unexpected_keys.remove(key)
            saved, value = state_dict[key], getattr(self, name)
            if isinstance(value, int):
                setattr(self, name, int(saved))
            elif saved.shape != value.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a tensor with shape {tuple(saved.shape)} from checkpoint, "
                    f"the shape in current model is {tuple(value.shape)}."
                )
            elif local_metadata.get("assign_to_params_buffers", False):
                setattr(self, name, saved)
            else:
                with torch.no_grad():
                    value.copy_(saved)


class ImagePool(RankLocal):
    """Up to ``size`` earlier generated images, each process's own, kept in its checkpoints.

    ``pool(images)`` returns a batch for the discriminator, as if the images went in one after the other:
    while the pool has free slots, an image is stored and returned as is; once it is full, each image is, with
    probability 1/2, swapped for the one in a uniformly random slot (which is returned, the new one stored in
    its place) and otherwise returned as is. Two images of a batch that draw the same slot swap in turn: the
    second gets the first. ``size=0`` returns the images unchanged.

    The pool is rank local (see ``RankLocal``): under DDP each rank keeps the translations of its own batches,
    and no pool crosses the network. The fill count is a Python int, so no step waits on the device to read it.
    A batch draws, for the images that meet a full pool, one coin each (``torch.rand``) and then one slot each
    (``torch.randint``, also for those that keep their image), on their device, from torch's random stream.
    """

    def __init__(self, size: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        if size < 0:
            raise ValueError(f"the image pool size must be >= 0 (0 for no pool), got {size}")
        self.size = size
        self.register_rank_local("images", torch.zeros(size, *image_shape))
        self.register_rank_local("count", 0)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        images = images.detach()
        if self.size == 0:
            return images
        stored = min(self.size - self.count, len(images))
        self.images[self.count : self.count + stored] = images[:stored]
        self.count += stored
        if stored == len(images):
            return images
        return torch.cat([images[:stored], self._swap(images[stored:])])

    def _swap(self, images: Tensor) -> Tensor:
        """What a full pool returns for ``images``, storing the swapped ones, in one pass without host syncs."""
        n = len(images)
        swap = torch.rand(n, device=images.device) < 0.5
        slot = torch.randint(self.size, (n,), device=images.device)
        order = torch.arange(n, device=images.device)
        # into_same_slot[j, i]: image i swaps into image j's slot.
        into_same_slot = (slot[:, None] == slot[None, :]) & swap[None, :]
        # In sequence, image j takes what the last swap into its slot before it stored, else the pool's image.
        previous = torch.where(into_same_slot & (order[None, :] < order[:, None]), order, -1).amax(1)
        # And the slot ends with the last image swapped into it: every image writes that, so repeats agree.
        last = torch.where(into_same_slot, order, -1).amax(1)

        def per_image(mask: Tensor) -> Tensor:
            return mask.view(n, *(1,) * (images.dim() - 1))

        in_slot = self.images[slot]
        handed_back = torch.where(per_image(previous >= 0), images[previous.clamp(min=0)], in_slot.to(images.dtype))
        final = torch.where(per_image(last >= 0), images[last.clamp(min=0)].to(in_slot.dtype), in_slot)
        self.images.index_copy_(0, slot, final)
        return torch.where(per_image(swap), handed_back, images)
