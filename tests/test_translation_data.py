"""The paired and unpaired datamodules on small data in the real formats, and the two real 32x32 tasks."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from PIL import Image

import datamodules.translation
from benchmarks.translation_tasks import sobel_edges, write_cifar_horse2deer, write_mnist_edges2digits
from datamodules import PairedImageDataModule, UnpairedImageDataModule
from tests.translation_data import pattern, write_paired_layout, write_unpaired_layout


def unpaired(root: Path, **kwargs) -> UnpairedImageDataModule:
    return UnpairedImageDataModule(
        **{"root": str(root), "dataset": "tiny", "download": False, "num_workers": 0} | kwargs
    )


def paired(root: Path, **kwargs) -> PairedImageDataModule:
    return PairedImageDataModule(**{"root": str(root), "dataset": "tiny", "download": False, "num_workers": 0} | kwargs)


def solid(path: Path, value: int, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)


# ----------------------------------------------------------------------------------------------- unpaired
def test_unpaired_batches_hold_an_a_image_and_an_independently_drawn_b_image(tmp_path):
    # A image i has the grey level i, B image j the level 100 + j: each image says where it came from.
    for i in range(6):
        solid(tmp_path / "tiny" / "trainA" / f"{i}.png", i, (12, 12))
    for j in range(9):
        solid(tmp_path / "tiny" / "trainB" / f"{j}.png", 100 + j, (12, 12))
    data = unpaired(tmp_path, channels=1, image_size=8, batch_size=3)
    data.setup("fit")
    a, b = next(iter(data.train_dataloader()))
    assert a.shape == b.shape == (3, 1, 8, 8)

    def levels(images: torch.Tensor) -> list[int]:
        return [round(((image.mean().item() + 1) / 2) * 255) for image in images]

    dataset = data.train_set
    assert len(dataset) == 9  # the larger domain; A cycles
    items = {epoch: [dataset[(epoch, index)] for index in range(9)] for epoch in range(3)}
    a_levels = {epoch: levels(torch.stack([item[0] for item in items[epoch]])) for epoch in items}
    b_levels = {epoch: levels(torch.stack([item[1] for item in items[epoch]])) for epoch in items}
    assert a_levels[0] == a_levels[1] == [0, 1, 2, 3, 4, 5, 0, 1, 2]
    assert all(100 <= level < 109 for epoch in b_levels for level in b_levels[epoch])
    assert b_levels[0] != b_levels[1] != b_levels[2]  # each epoch draws other B images
    assert all(torch.equal(x, y) for x, y in zip(dataset[(1, 4)], dataset[(1, 4)], strict=True))  # reproducible


def test_unpaired_training_images_are_jittered_and_mirrored_and_test_images_are_not(tmp_path):
    write_unpaired_layout(tmp_path, "tiny", n=2, size=40)
    data = unpaired(tmp_path, image_size=32)
    assert data.load_size == 36  # 32 * 286/256, rounded
    data.setup("fit")
    crops = torch.stack([data.train_set[(epoch, 0)][0] for epoch in range(20)])
    assert len({tuple(crop.flatten()[:50].tolist()) for crop in crops}) > 5
    test = data.test_dataset()
    assert len(test) == 3 and torch.equal(test[0][0], test[0][0])
    # Without jitter and flips the training images are the test images.
    plain = unpaired(tmp_path, image_size=32, load_size=32, flip=False)
    plain.setup("fit")
    assert torch.equal(plain.train_set[(5, 1)][0], test[1][0])
    # testA's image i goes with testB's image i (cycling through the smaller domain).
    expected_b = data.test_transform()(Image.open(tmp_path / "tiny" / "testB" / "0002.jpg"))
    assert torch.equal(test[2][1], expected_b)


@pytest.mark.parametrize("image_size, load_size", [(256, 286), (128, 143), (32, 36), (8, 9)])
def test_load_size_keeps_the_papers_proportion(image_size, load_size, tmp_path):
    assert unpaired(tmp_path, image_size=image_size).load_size == load_size


def test_a_missing_domain_folder_is_named_with_the_fix(tmp_path):
    write_unpaired_layout(tmp_path, "tiny", n=2, size=8)
    for subfolder in ("trainB", "testB"):
        for path in (tmp_path / "tiny" / subfolder).iterdir():
            path.unlink()
        (tmp_path / "tiny" / subfolder).rmdir()
    with pytest.raises(FileNotFoundError, match=f"missing {re.escape(str(tmp_path / 'tiny' / 'trainB'))}.*trainA/"):
        unpaired(tmp_path, image_size=8).setup("fit")
    (tmp_path / "tiny" / "trainB").mkdir()
    with pytest.raises(FileNotFoundError, match="No image files in .*trainB"):
        unpaired(tmp_path, image_size=8).setup("fit")


def test_greyscale_or_colour_as_asked(tmp_path):
    write_unpaired_layout(tmp_path, "tiny", n=2, size=8)
    data = unpaired(tmp_path, image_size=8, channels=1, batch_size=2)
    assert data.channels == 1  # known before setup, for the CLI
    data.setup("fit")
    a, b = next(iter(data.train_dataloader()))
    assert a.shape == b.shape == (2, 1, 8, 8)


# ------------------------------------------------------------------------------------------------- paired
def test_paired_halves_get_the_same_crop_and_flip(tmp_path):
    # Both halves hold the same picture, so any difference between A and B is a different crop or flip.
    (tmp_path / "tiny" / "train").mkdir(parents=True)
    for index in range(2):
        half = pattern(index, 20, "RGB")
        pair = Image.new("RGB", (40, 20))
        pair.paste(half, (0, 0))
        pair.paste(half, (20, 0))
        pair.save(tmp_path / "tiny" / "train" / f"{index}.png")
    data = paired(tmp_path, image_size=16)
    data.setup("fit")
    items = [data.train_set[(epoch, 0)] for epoch in range(20)]
    assert all(torch.equal(a, b) for a, b in items)
    assert len({tuple(a.flatten()[:50].tolist()) for a, _ in items}) > 5  # the jitter is on


def test_paired_a_is_the_left_half_and_b_the_right(tmp_path):
    (tmp_path / "tiny" / "train").mkdir(parents=True)
    pair = Image.new("L", (16, 8), 0)
    pair.paste(255, (8, 0, 16, 8))
    pair.save(tmp_path / "tiny" / "train" / "0.png")
    data = paired(tmp_path, image_size=8, channels=1, batch_size=1)
    data.setup("fit")
    a, b = next(iter(data.train_dataloader()))
    assert a.max() == -1 and b.min() == 1


@pytest.mark.parametrize(
    "size, problem",
    [((41, 20), "its width 41 is odd"), ((60, 20), "it is 60x20, so its halves are 30x20, not square")],
)
def test_a_file_that_is_not_two_square_halves_is_refused_by_name(size, problem, tmp_path):
    write_paired_layout(tmp_path, "tiny", n=2, size=20)
    bad = tmp_path / "tiny" / "train" / "0001.jpg"
    Image.new("RGB", size).save(bad)
    data = paired(tmp_path, image_size=16)
    data.setup("fit")  # the first file is fine
    with pytest.raises(ValueError, match=f"{re.escape(str(bad))} is not a pix2pix pair: {problem}"):
        data.train_set[1]
    # A bad first file is refused before training.
    Image.new("RGB", size).save(tmp_path / "tiny" / "train" / "0000.jpg")
    with pytest.raises(ValueError, match=problem):
        paired(tmp_path, image_size=16).setup("fit")


def test_paired_test_split_and_its_absence(tmp_path):
    write_paired_layout(tmp_path, "tiny", n=3, size=12)
    data = paired(tmp_path, image_size=8)
    a, b = data.test_dataset("test")[2]
    assert a.shape == b.shape == (3, 8, 8)
    with pytest.raises(FileNotFoundError, match="val does not exist"):
        data.test_dataset("val")


# ----------------------------------------------------------------------------------- arguments, download
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"channels": 2}, "channels must be 1 .* or 3 .*got 2"),
        ({"load_size": 200}, "load_size must be at least image_size=256.*got 200"),
        ({"dataset": "a/b"}, "dataset must be the name of a folder under root"),
        ({"seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, message, tmp_path):
    for make in (unpaired, paired):
        with pytest.raises(ValueError, match=message):
            make(tmp_path, **kwargs)


@pytest.mark.parametrize(
    "make, name, url, archive_folder",
    [
        (
            UnpairedImageDataModule,
            "horse2zebra",
            "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip",
            "trainA",
        ),
        (
            PairedImageDataModule,
            "facades",
            "https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz",
            "train",
        ),
    ],
)
def test_the_papers_datasets_download_from_the_authors_archive(make, name, url, archive_folder, tmp_path, monkeypatch):
    fetched = []

    def fake_download(address: str, download_root: str, remove_finished: bool) -> None:
        fetched.append(address)
        # What the archive unpacks to, shrunk.
        (write_unpaired_layout if archive_folder == "trainA" else write_paired_layout)(Path(download_root), name, 2, 8)

    monkeypatch.setattr(datamodules.translation, "download_and_extract_archive", fake_download)
    data = make(root=str(tmp_path), dataset=name, image_size=8, num_workers=0, batch_size=2)
    data.prepare_data()
    data.prepare_data()  # the second time, the files are there
    data.setup("fit")
    assert fetched == [url] and len(next(iter(data.train_dataloader()))) == 2


def test_a_failed_download_says_so_with_the_manual_route(tmp_path, monkeypatch):
    def no_network(*args: object, **kwargs: object) -> None:
        raise URLError("no route to host (test)")

    monkeypatch.setattr(datamodules.translation, "download_and_extract_archive", no_network)
    with pytest.raises(RuntimeError, match="(?s)Downloading horse2zebra .* failed.*no route to host.*horse2zebra.zip"):
        UnpairedImageDataModule(root=str(tmp_path)).prepare_data()


def test_own_data_cannot_be_downloaded_and_says_where_to_put_it(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"mine does not hold a folder train/.*'mine' is not one of the datasets.*Put your images in .*mine as",
    ):
        PairedImageDataModule(root=str(tmp_path), dataset="mine").prepare_data()


# ------------------------------------------------------------------------------------ the real 32x32 tasks
def test_cifar_horses_and_deer_in_cyclegans_layout(shared_data, tmp_path):
    folder = write_cifar_horse2deer(
        shared_data / "cifar10-jpeg.tar.gz", tmp_path, train_per_domain=8, test_per_domain=4
    )
    counts = {sub.name: len(list(sub.glob("*.jpg"))) for sub in folder.iterdir()}
    assert counts == {"trainA": 8, "trainB": 8, "testA": 4, "testB": 4}
    data = UnpairedImageDataModule(
        root=str(tmp_path), dataset="cifar_horse2deer", download=False, image_size=32, batch_size=4, num_workers=0
    )
    data.setup("fit")
    a, b = next(iter(data.train_dataloader()))
    assert a.shape == b.shape == (4, 3, 32, 32) and a.std() > 0.1


def test_mnist_edges_and_digits_side_by_side(shared_data, tmp_path):
    folder = write_mnist_edges2digits(shared_data, tmp_path, n_train=8, n_test=4)
    pair = np.array(Image.open(folder / "train" / "00000.png"))
    assert pair.shape == (28, 56)
    edges, digit = pair[:, :28], pair[:, 28:]
    assert edges[digit == 0].max() < 255 and edges.max() > 200  # strong edges at the strokes' borders
    assert np.array_equal(edges, sobel_edges(digit[None])[0])
    data = PairedImageDataModule(
        root=str(tmp_path), dataset="mnist_edges2digits", download=False, channels=1, image_size=32, num_workers=0
    )
    x, y = data.test_dataset()[0]
    assert x.shape == y.shape == (1, 32, 32)


def test_sobel_edges_of_a_step_are_full_and_flat_regions_are_zero():
    step = np.zeros((1, 8, 8), np.uint8)
    step[:, :, 4:] = 255
    edges = sobel_edges(step)[0]
    assert (edges[2:6, 3:5] == 255).all() and (edges[2:6, :2] == 0).all() and (edges[2:6, 6:] == 0).all()
