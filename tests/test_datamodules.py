"""The datamodules on small data written in each dataset's real on-disk format, and on the real MNIST."""

from __future__ import annotations

import io
import os
import pickle
import re
import shutil
import struct
import sys
from pathlib import Path
from urllib.error import URLError

import lightning as L
import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2 import functional as F

import datamodules.lsun
from datamodules import (
    CelebADataModule,
    CIFAR10DataModule,
    DigitsDataModule,
    ImageFolderDataModule,
    LSUNDataModule,
    MNISTDataModule,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CELEBA_SAMPLES = SHARED_DATA / "celeba-sample" / "img_align_celeba"
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
SOLID_COLOUR = (200, 40, 90)


# ------------------------------------------------------------------ small data in the real formats
def mnist_pattern(label: int) -> np.ndarray:
    """The 28x28 uint8 image that write_mnist_idx stores for ``label``: distinct per label, spans 0..255."""
    rows, cols = np.mgrid[0:28, 0:28]
    return ((label * 25 + rows * 9 + cols * 4) % 256).astype(np.uint8)


def write_mnist_idx(root: Path, n_train: int, n_test: int) -> None:
    """Write the four uncompressed MNIST IDX files under ``root/MNIST/raw/``, as torchvision keeps them.

    Image i has label i % 10 and looks like ``mnist_pattern(label)``.
    """
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = np.array([mnist_pattern(int(label)) for label in labels], np.uint8).reshape(n, 28, 28)
        # IDX: big-endian magic (2051 images, 2049 labels), the dimensions, then the raw uint8 values.
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())


def cifar10_pattern(label: int) -> np.ndarray:
    """The 32x32x3 (HWC) uint8 image that write_cifar10_batches stores: red encodes the label, green the
    row, blue the column, so a wrong channel order or transposition shows."""
    rows, cols = np.mgrid[0:32, 0:32]
    return np.stack([np.full((32, 32), label * 25), rows * 8, cols * 8], axis=-1).astype(np.uint8)


def write_cifar10_batches(root: Path, n: int) -> None:
    """Write ``root/cifar-10-batches-py/`` as in the real download: n training images spread over
    data_batch_1..5, 10 test images in test_batch, and batches.meta.

    Image i has label i % 10 and looks like ``cifar10_pattern(label)``. The real pickles were written by
    Python 2, whose str keys torchvision reads back (encoding="latin1") as str, so the keys here are str.
    torchvision checks the files' MD5 sums, which these fail: use ``accept_fake_checksums``.
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)

    def write_batch(name: str, labels: list[int]) -> None:
        # Each row is 1024 red, then 1024 green, then 1024 blue values, each plane row-major.
        planes = [cifar10_pattern(label).transpose(2, 0, 1) for label in labels]
        data = np.array(planes, np.uint8).reshape(len(labels), 3072)
        batch = {
            "batch_label": name,
            "labels": labels,
            "data": data,
            "filenames": [f"image_{k}.png" for k in range(len(labels))],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))

    for index, chunk in enumerate(np.array_split(np.arange(n), 5), start=1):
        write_batch(f"data_batch_{index}", [int(i) % 10 for i in chunk])
    write_batch("test_batch", list(range(10)))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    meta = {"num_cases_per_batch": 10000, "label_names": names, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))


def celeba_attributes(index: int) -> list[int]:
    """The 40 attributes (-1 or 1, as in list_attr_celeba.txt) write_celeba_layout gives image ``index``."""
    return [1 if (index + j) % 3 == 0 else -1 for j in range(len(CELEBA_ATTRIBUTES))]


def write_celeba_layout(root: Path, n: int) -> list[str]:
    """Write ``root/celeba/`` as torchvision expects it: n training images plus one validation and one test
    image in ``img_align_celeba/``, and the five annotation files in their real text formats.

    The images are the real samples in ../shared/data when present, else 178x218 JPEGs made here.
    Returns the training file names in order. torchvision checks the text files' MD5 sums, which these
    fail: use ``accept_fake_checksums``.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}: torchvision's CelebA fails on a one-image split")
    folder = root / "celeba"
    images = folder / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    samples = sorted(CELEBA_SAMPLES.glob("*.jpg")) if CELEBA_SAMPLES.is_dir() else []
    names = [f"{i + 1:06d}.jpg" for i in range(n + 2)]
    for i, name in enumerate(names):
        if i < len(samples):
            shutil.copyfile(samples[i], images / name)
        else:
            rows, cols = np.mgrid[0:218, 0:178]
            pixels = np.stack([rows, cols, np.full_like(rows, i * 37)], axis=-1) % 256
            Image.fromarray(pixels.astype(np.uint8)).save(images / name, quality=95)
    # Partition 0 is train, 1 valid, 2 test; the last two images are the valid and test ones.
    partitions = [0] * n + [1, 2]

    def write(file_name: str, rows: list[str], header: str | None = None) -> None:
        # Files with a header start with the number of images, then the column names, then one row each.
        lines = [str(len(names)), header] if header is not None else []
        (folder / file_name).write_text("\n".join(lines + rows) + "\n")

    write("list_eval_partition.txt", [f"{name} {p}" for name, p in zip(names, partitions, strict=True)])
    write("identity_CelebA.txt", [f"{name} {1000 + i}" for i, name in enumerate(names)])
    write(
        "list_bbox_celeba.txt",
        [f"{name}    95  71 226 313" for name in names],
        "image_id x_1 y_1 width height",
    )
    write(
        "list_landmarks_align_celeba.txt",
        [f"{name} 69  109  106  113   77  142   73  152  108  154" for name in names],
        "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y",
    )
    attribute_rows = [f"{name} " + " ".join(f"{a:2d}" for a in celeba_attributes(i)) for i, name in enumerate(names)]
    write("list_attr_celeba.txt", attribute_rows, " ".join(CELEBA_ATTRIBUTES))
    return names[:n]


def accept_fake_checksums(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let torchvision's CIFAR-10 and CelebA accept files that exist whatever their MD5 sum.

    Patching ``CIFAR10._check_integrity`` is not enough: ``CIFAR10._load_meta`` checks batches.meta's MD5 with
    the module-level ``check_integrity`` itself, so that is what is replaced (for CelebA too).
    """
    for module in (torchvision.datasets.cifar, torchvision.datasets.celeba):
        monkeypatch.setattr(module, "check_integrity", lambda path, md5=None: os.path.isfile(path))


def write_lsun_lmdb(root: Path, category: str, n: int) -> None:
    """Write ``root/{category}_train_lmdb/`` as LSUN stores it: an lmdb database of encoded images keyed by
    hexadecimal ids; here solid SOLID_COLOUR images, alternately WebP (as LSUN) and JPEG."""
    import lmdb

    env = lmdb.open(str(root / f"{category}_train_lmdb"), map_size=1 << 24)
    with env.begin(write=True) as transaction:
        for i in range(n):
            encoded = io.BytesIO()
            Image.new("RGB", (80, 60), SOLID_COLOUR).save(encoded, format="WEBP" if i % 2 else "JPEG")
            transaction.put(f"{i:040x}".encode(), encoded.getvalue())
    env.close()


def write_solid_image(path: Path, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, SOLID_COLOUR).save(path)


def first_batch(datamodule: L.LightningDataModule) -> Tensor | list[Tensor]:
    datamodule.prepare_data()
    datamodule.setup("fit")
    return next(iter(datamodule.train_dataloader()))


def normalised(value: float | np.ndarray) -> float | np.ndarray:
    return np.asarray(value, dtype=np.float32) / 255 * 2 - 1


# ------------------------------------------------------------------ arguments and the shared base
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: DigitsDataModule(batch_size=0), "batch_size must be an integer >= 1, got 0"),
        (lambda: DigitsDataModule(image_size=0), "image_size must be an integer >= 1, got 0"),
        (lambda: DigitsDataModule(num_workers=-1), "num_workers must be an integer >= 0, got -1"),
        (lambda: DigitsDataModule(val_fraction=1.0), r"val_fraction must be a number in \[0, 1\), got 1.0"),
        (lambda: DigitsDataModule(val_fraction=-0.1), r"val_fraction must be a number in \[0, 1\)"),
        (lambda: ImageFolderDataModule(channels=2), "channels must be 1 .* or 3 .*got 2"),
        (lambda: CelebADataModule(crop_size=179), r"crop_size must be an integer in \[1, 178\], got 179"),
        (lambda: LSUNDataModule(category="bedrooms"), "category must be one of .*church_outdoor.*'bedrooms'"),
    ],
)
def test_bad_arguments_fail_at_construction_naming_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_channels_and_image_size_are_known_before_setup():
    # The CLI links both into the model when it builds it, before any data is read.
    expected = [
        (DigitsDataModule(), 1, 32),
        (MNISTDataModule(root="absent"), 1, 32),
        (CIFAR10DataModule(root="absent"), 3, 32),
        (CelebADataModule(root="absent"), 3, 64),
        (ImageFolderDataModule(root="absent", channels=1), 1, 64),
        (ImageFolderDataModule(root="absent"), 3, 64),
    ]
    for datamodule, channels, image_size in expected:
        assert (datamodule.channels, datamodule.image_size) == (channels, image_size), type(datamodule)


def test_asking_for_a_loader_before_setup_says_to_call_setup():
    with pytest.raises(RuntimeError, match=r"setup\(\) has not run yet"):
        DigitsDataModule().train_dataloader()


def test_training_batches_are_full_and_reshuffled_every_epoch():
    datamodule = DigitsDataModule(image_size=8, batch_size=500)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()

    def epoch_labels(epoch: int) -> list[torch.Tensor]:
        datamodule.trainer = L.Trainer(logger=False)
        datamodule.trainer.fit_loop.epoch_progress.current.processed = epoch  # what a Trainer at this epoch shows
        return [labels for _, labels in loader]

    first_epoch, second_epoch, first_again = epoch_labels(0), epoch_labels(1), epoch_labels(0)
    # 1797 images give three full batches; the 297 left over are dropped.
    assert [len(labels) for labels in first_epoch] == [500, 500, 500]
    assert not torch.equal(first_epoch[0], second_epoch[0])
    # The order is a function of seed and epoch alone, which is what makes resumed runs exact.
    assert all(torch.equal(a, b) for a, b in zip(first_epoch, first_again, strict=True))
    other_seed = DigitsDataModule(image_size=8, batch_size=500, seed=1)
    other_seed.setup("fit")
    assert not torch.equal(next(iter(other_seed.train_dataloader()))[1], first_epoch[0])


def test_a_batch_size_larger_than_the_data_is_refused_with_the_fix():
    datamodule = DigitsDataModule(batch_size=1800)
    datamodule.setup("fit")
    with pytest.raises(ValueError, match="1797 images, fewer than batch_size=1800.*Lower batch_size"):
        datamodule.train_dataloader()


# ------------------------------------------------------------------ digits
def test_digits_batches_are_labelled_single_channel_images_spanning_minus_one_to_one():
    images, labels = first_batch(DigitsDataModule(batch_size=64))
    assert images.shape == (64, 1, 32, 32) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    # Background is exactly -1 and the strokes reach close to 1: the whole range is used.
    assert images.min() == -1 and images.max() > 0.9
    assert labels.shape == (64,) and labels.dtype == torch.int64
    assert set(labels.tolist()) <= set(range(10)) and len(set(labels.tolist())) > 5


def test_the_validation_split_is_sized_disjoint_and_fixed_by_the_seed():
    def split(seed: int) -> tuple[list[int], list[int]]:
        datamodule = DigitsDataModule(val_fraction=0.2, seed=seed)
        datamodule.setup("fit")
        return datamodule.train_set.indices, datamodule.val_set.indices

    train, val = split(seed=0)
    assert (len(train), len(val)) == (1438, 359)
    assert set(train).isdisjoint(val) and len(set(train) | set(val)) == 1797
    assert split(seed=0) == (train, val)
    assert split(seed=1)[1] != val


def test_validation_loader_exists_only_with_a_validation_fraction():
    without = DigitsDataModule()
    without.setup("fit")
    assert without.val_dataloader() == []

    with_val = DigitsDataModule(val_fraction=0.1, batch_size=500)
    with_val.setup("fit")
    images, _ = next(iter(with_val.val_dataloader()))
    assert images.shape == (180, 1, 32, 32)  # all 180 held-out images; no batch is dropped


def test_a_validation_fraction_that_leaves_no_validation_image_is_refused():
    datamodule = DigitsDataModule(val_fraction=0.0001)
    with pytest.raises(ValueError, match="leaves 1797 for training and 0 for validation"):
        datamodule.setup("fit")


class CountingModule(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(64, 1)
        self.validation_batches = 0

    def training_step(self, batch: list[Tensor], batch_idx: int) -> Tensor:
        return self.layer(batch[0].flatten(1)).mean()

    def validation_step(self, batch: list[Tensor], batch_idx: int) -> None:
        self.validation_batches += 1

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


# Lightning warns once that the empty validation list has length zero; that is the intended skip.
@pytest.mark.filterwarnings("ignore:Total length of `list` across ranks is zero")
@pytest.mark.parametrize(("val_fraction", "validation_batches"), [(0.0, 0), (0.1, 2)])
def test_the_trainer_validates_only_when_there_is_a_validation_fraction(val_fraction, validation_batches):
    model = CountingModule()
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=2,
        num_sanity_val_steps=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=DigitsDataModule(image_size=8, batch_size=32, val_fraction=val_fraction))
    assert model.validation_batches == validation_batches


# ------------------------------------------------------------------ MNIST
def test_mnist_reads_the_idx_files_and_round_trips_the_pixels(tmp_path):
    write_mnist_idx(tmp_path, n_train=30, n_test=10)
    # image_size 28 keeps the pixels as stored, so each value can be checked.
    datamodule = MNISTDataModule(root=str(tmp_path), download=False, image_size=28, batch_size=8, num_workers=0)
    images, labels = first_batch(datamodule)
    assert len(datamodule.train_set) == 30
    assert images.shape == (8, 1, 28, 28)
    for image, label in zip(images, labels, strict=True):
        expected = torch.from_numpy(normalised(mnist_pattern(int(label))))
        torch.testing.assert_close(image[0], expected, atol=1e-6, rtol=0)


def test_mnist_is_upsampled_to_32_by_default(tmp_path):
    write_mnist_idx(tmp_path, n_train=16, n_test=4)
    images, _ = first_batch(MNISTDataModule(root=str(tmp_path), download=False, batch_size=4, num_workers=0))
    assert images.shape == (4, 1, 32, 32)
    assert images.min() >= -1 and images.max() <= 1 and images.max() - images.min() > 1.9


def test_mnist_download_is_skipped_when_the_files_are_there(tmp_path, monkeypatch):
    write_mnist_idx(tmp_path, n_train=16, n_test=4)
    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", no_network)
    images, _ = first_batch(MNISTDataModule(root=str(tmp_path), download=True, batch_size=4, num_workers=0))
    assert images.shape == (4, 1, 32, 32)


def test_the_real_mnist_loads(shared_data):
    datamodule = MNISTDataModule(root=str(shared_data), download=False, batch_size=64, num_workers=0)
    images, labels = first_batch(datamodule)
    assert len(datamodule.train_set) == 60000
    assert set(datamodule.train_set.targets.tolist()) == set(range(10))
    assert images.shape == (64, 1, 32, 32) and labels.shape == (64,)
    # Mostly black background with white strokes.
    assert images.min() == -1 and images.max() > 0.9 and images.median() == -1


def test_missing_mnist_without_download_says_where_it_looked_and_how_to_fix_it(tmp_path):
    datamodule = MNISTDataModule(root=str(tmp_path), download=False, num_workers=0)
    datamodule.prepare_data()
    expected_file = re.escape(str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"))
    with pytest.raises(FileNotFoundError, match=f"{expected_file}.*--data.init_args.download true"):
        datamodule.setup("fit")


def no_network(*args: object, **kwargs: object) -> None:
    raise URLError("no route to host (test)")


def make_lsun(root: str) -> LSUNDataModule:
    pytest.importorskip("lmdb", reason="LSUN needs the lmdb package: pip install lmdb")
    return LSUNDataModule(root=root, download=True)


@pytest.mark.parametrize(
    ("make", "network_module", "function", "name"),
    [
        (MNISTDataModule, torchvision.datasets.mnist, "download_and_extract_archive", "MNIST"),
        (CIFAR10DataModule, torchvision.datasets.cifar, "download_and_extract_archive", "CIFAR-10"),
        (CelebADataModule, torchvision.datasets.celeba, "download_file_from_google_drive", "CelebA"),
        (make_lsun, datamodules.lsun, "download_and_extract_archive", "LSUN bedroom"),
    ],
)
def test_a_failed_download_says_so_with_the_cause_and_the_manual_route(
    make, network_module, function, name, tmp_path, monkeypatch
):
    monkeypatch.setattr(network_module, function, no_network)
    datamodule = make(root=str(tmp_path))
    with pytest.raises(RuntimeError, match=f"Downloading {name} into .* failed") as failure:
        datamodule.prepare_data()
    message = str(failure.value)
    assert "no route to host (test)" in message
    assert str(tmp_path) in message and "--data.init_args.download false" in message


# ------------------------------------------------------------------ CIFAR-10
def test_cifar10_reads_the_pickled_batches_in_channel_order(tmp_path, monkeypatch):
    write_cifar10_batches(tmp_path, n=20)
    accept_fake_checksums(monkeypatch)
    datamodule = CIFAR10DataModule(root=str(tmp_path), download=False, batch_size=5, num_workers=0)
    images, labels = first_batch(datamodule)
    assert len(datamodule.train_set) == 20
    assert images.shape == (5, 3, 32, 32)
    for image, label in zip(images, labels, strict=True):
        expected = torch.from_numpy(normalised(cifar10_pattern(int(label)))).permute(2, 0, 1)
        torch.testing.assert_close(image, expected, atol=1e-6, rtol=0)


def test_cifar10_files_that_fail_the_checksum_are_reported_as_corrupt(tmp_path):
    write_cifar10_batches(tmp_path, n=20)
    datamodule = CIFAR10DataModule(root=str(tmp_path), download=False, num_workers=0)
    with pytest.raises(RuntimeError, match="(?s)exist but torchvision rejected them.*Delete them and download again"):
        datamodule.setup("fit")


# ------------------------------------------------------------------ CelebA
def test_celeba_reads_the_training_split_with_attributes(tmp_path, monkeypatch):
    train_names = write_celeba_layout(tmp_path, n=5)
    accept_fake_checksums(monkeypatch)
    datamodule = CelebADataModule(root=str(tmp_path), download=False, batch_size=4, num_workers=0)
    images, attributes = first_batch(datamodule)
    assert len(datamodule.train_set) == len(train_names) == 5  # the valid and test images are left out
    assert images.shape == (4, 3, 64, 64) and images.min() >= -1 and images.max() <= 1
    assert attributes.shape == (4, 40)
    # torchvision maps the file's -1/1 attributes to 0/1.
    first_attributes = (torch.tensor(celeba_attributes(0)) + 1) // 2
    assert torch.equal(datamodule.train_set[0][1], first_attributes)


def test_celeba_crops_the_centre_before_resizing(tmp_path, monkeypatch):
    write_celeba_layout(tmp_path, n=3)
    accept_fake_checksums(monkeypatch)
    # With image_size equal to crop_size the resize does nothing, so the crop alone can be checked.
    datamodule = CelebADataModule(root=str(tmp_path), download=False, crop_size=100, image_size=100)
    datamodule.setup("fit")
    with Image.open(tmp_path / "celeba" / "img_align_celeba" / "000001.jpg") as image:
        expected = F.center_crop(F.pil_to_tensor(image.convert("RGB")), [100, 100])
    torch.testing.assert_close(datamodule.train_set[0][0], expected.float() / 255 * 2 - 1, atol=1e-6, rtol=0)


# ------------------------------------------------------------------ LSUN
def test_lsun_reads_an_lmdb_database_of_encoded_images(tmp_path, monkeypatch):
    pytest.importorskip("lmdb", reason="LSUN needs the lmdb package: pip install lmdb")
    # torchvision writes a key cache file into the working directory.
    monkeypatch.chdir(tmp_path)
    write_lsun_lmdb(tmp_path, "church_outdoor", n=6)
    datamodule = LSUNDataModule(
        root=str(tmp_path), category="church_outdoor", image_size=32, batch_size=6, num_workers=0
    )
    images, labels = first_batch(datamodule)
    assert images.shape == (6, 3, 32, 32) and labels.tolist() == [0] * 6
    channel_means = images.mean(dim=(0, 2, 3)).numpy()
    np.testing.assert_allclose(channel_means, normalised(SOLID_COLOUR), atol=0.05)


def test_lsun_without_its_database_says_how_to_get_it(tmp_path):
    pytest.importorskip("lmdb", reason="LSUN needs the lmdb package: pip install lmdb")
    datamodule = LSUNDataModule(root=str(tmp_path), category="tower")
    datamodule.prepare_data()  # download=False by default: the archives are tens of GB
    with pytest.raises(FileNotFoundError, match=r"tower_train_lmdb/data\.mdb.*dl\.yf\.io/lsun/scenes"):
        datamodule.setup("fit")


def test_lsun_without_the_lmdb_package_says_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "lmdb", None)  # makes `import lmdb` fail
    with pytest.raises(ImportError, match="pip install lmdb"):
        LSUNDataModule()


# ------------------------------------------------------------------ image folder
@pytest.mark.parametrize("channels", [1, 3])
def test_image_folder_finds_nested_images_and_yields_unlabelled_tensors(tmp_path, channels):
    for relative, size in (("a/one.png", (40, 30)), ("a/b/two.png", (20, 50)), ("three.PNG", (64, 64))):
        write_solid_image(tmp_path / relative, size)
    (tmp_path / "notes.txt").write_text("not an image")
    datamodule = ImageFolderDataModule(
        root=str(tmp_path), channels=channels, image_size=16, batch_size=3, num_workers=0
    )
    images = first_batch(datamodule)
    assert datamodule.train_set.paths == sorted(datamodule.train_set.paths) and len(datamodule.train_set) == 3
    assert isinstance(images, Tensor) and images.shape == (3, channels, 16, 16)
    # PIL's "L" conversion weights red, green and blue 299:587:114.
    red, green, blue = SOLID_COLOUR
    grey = round((red * 299 + green * 587 + blue * 114) / 1000)
    expected = [grey] if channels == 1 else list(SOLID_COLOUR)
    np.testing.assert_allclose(images.mean(dim=(0, 2, 3)).numpy(), normalised(expected), atol=1e-5)


def test_an_image_folder_without_images_names_the_folder_and_the_extensions(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    datamodule = ImageFolderDataModule(root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"No image files in {re.escape(str(tmp_path))}.*\\.jpg"):
        datamodule.setup("fit")


def test_a_missing_image_folder_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=f"{re.escape(str(missing))} does not exist"):
        ImageFolderDataModule(root=str(missing)).setup("fit")


@pytest.mark.parametrize("num_workers", [0, 1])
def test_a_corrupt_image_is_named_even_from_a_worker_process(tmp_path, num_workers):
    for name in ("a.png", "b.png"):
        write_solid_image(tmp_path / name, (8, 8))
    corrupt = tmp_path / "c.jpg"
    corrupt.write_bytes(b"definitely not a jpeg")
    # check_images=0: found by the loader, not by setup()'s check of the folder (tests/test_image_files.py).
    datamodule = ImageFolderDataModule(
        root=str(tmp_path), image_size=8, batch_size=3, num_workers=num_workers, check_images=0
    )
    with pytest.raises(OSError, match=f"Cannot read image {re.escape(str(corrupt))}.*remove or replace it"):
        first_batch(datamodule)
