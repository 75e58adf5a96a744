"""Image files read by their real bit depth and transparency, and bad files named, before training when possible."""

from __future__ import annotations

import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datamodules import ImageFolderDataModule, PairedImageDataModule, UnpairedImageDataModule
from datamodules.image_folder import LISTED_BAD_FILES
from tests.translation_data import write_paired_layout, write_unpaired_layout

SIZE = 8
#: A mid-grey ramp from a quarter to three quarters of the range, one value a column.
RAMP = np.tile(np.linspace(0.25, 0.75, SIZE), (SIZE, 1))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png16(
    path: Path, values: np.ndarray, claimed_size: tuple[int, int] | None = None, extra: bytes = b""
) -> None:
    """A 16-bit PNG of ``values`` (height, width[, channels]), which PIL cannot write: grey, grey+alpha, RGB or
    RGBA by the channel count. ``claimed_size`` (width, height) goes into the header instead of the real one;
    ``extra`` are chunks before the pixel data."""
    height, width = values.shape[:2]
    channels = 1 if values.ndim == 2 else values.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", *(claimed_size or (width, height)), 16, colour_type, 0, 0, 0)
    # Each row: filter type 0 (none), then the big-endian samples.
    rows = b"".join(b"\0" + row.tobytes() for row in values.astype(">u2").reshape(height, -1))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def folder_module(root: Path, **kwargs) -> ImageFolderDataModule:
    return ImageFolderDataModule(**{"root": str(root), "image_size": SIZE, "batch_size": 1, "num_workers": 0} | kwargs)


def images_of(root: Path, channels: int, **kwargs) -> list:
    """Every image of the folder, as ImageFolderDataModule yields them, in path order."""
    datamodule = folder_module(root, channels=channels, **kwargs)
    datamodule.setup("fit")
    return [datamodule.train_set[index] for index in range(len(datamodule.train_set))]


def write_good(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(n):
        Image.new("RGB", (SIZE, SIZE), (10 * index, 100, 200)).save(folder / f"good{index}.png")


def write_bad_files(folder: Path) -> dict[str, Path]:
    """A truncated PNG, a text file named .png and a PNG whose header claims 20000x20000 pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    bad = {name: folder / f"{name}.png" for name in ("truncated", "text", "bomb")}
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(bad["truncated"])
    bad["truncated"].write_bytes(bad["truncated"].read_bytes()[:-40])
    bad["text"].write_text("these are notes, not pixels")
    write_png16(bad["bomb"], np.zeros((2, 2)), claimed_size=(20000, 20000))
    return bad


REASONS = {
    "truncated": "OSError: .*The file is corrupt, truncated or not really an image; remove or replace it",
    "text": "UnidentifiedImageError.*remove or replace it",
    "bomb": r"PIL refuses it as a possible decompression bomb: Image size \(400000000 pixels\).*raise the limit.*"
    "MAX_IMAGE_PIXELS",
}


# ------------------------------------------------------------------------------------------- bit depth
@pytest.mark.parametrize("channels", [1, 3])
def test_a_16_bit_grey_png_has_the_mean_of_its_8_bit_version(tmp_path, channels):
    Image.fromarray((RAMP * 255).round().astype(np.uint8)).save(tmp_path / "a8.png")
    Image.fromarray((RAMP * 65535).round().astype(np.uint16)).save(tmp_path / "b16.png")
    with Image.open(tmp_path / "b16.png") as reloaded:
        assert reloaded.mode == "I;16"
    eight, sixteen = images_of(tmp_path, channels)
    assert abs(float(sixteen.mean() - eight.mean())) < 1 / 255
    np.testing.assert_allclose(sixteen.numpy(), eight.numpy(), atol=2 / 255)


@pytest.mark.filterwarnings("ignore:.*transparent colour")  # the opaque alpha channel of the RGBA ones
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("bands", [3, 4])
def test_16_bit_rgb_and_rgba_pngs_have_the_means_of_their_8_bit_versions(tmp_path, channels, bands):
    colour = np.stack([RAMP, RAMP[::-1], np.full_like(RAMP, 0.5)], axis=-1)
    if bands == 4:
        colour = np.concatenate([colour, np.ones_like(RAMP)[..., None]], axis=-1)
    Image.fromarray((colour * 255).round().astype(np.uint8)).save(tmp_path / "a8.png")
    write_png16(tmp_path / "b16.png", (colour * 65535).round())
    with Image.open(tmp_path / "b16.png") as reloaded:
        assert reloaded.mode == ("RGB", "RGBA")[bands - 3]
    eight, sixteen = images_of(tmp_path, channels)
    # PIL keeps a 16-bit colour value's high byte, one 8-bit level off rounding at most.
    assert abs(float(sixteen.mean() - eight.mean())) < 1 / 255
    np.testing.assert_allclose(sixteen.numpy(), eight.numpy(), atol=2 / 255 + 1e-6)


def test_32_bit_float_images_are_refused_by_name(tmp_path):
    path = tmp_path / "depth.tiff"
    Image.fromarray(RAMP.astype(np.float32)).save(path)
    with pytest.raises(OSError, match=f"{re.escape(str(path))}: its pixels are 32-bit floats .*save it as"):
        folder_module(tmp_path).setup("fit")


# ------------------------------------------------------------------------------------------ transparency
def write_transparent(path: Path, kind: str) -> None:
    """An image whose left half is transparent (storing black) and right half opaque mid-grey."""
    grey = np.full((SIZE, SIZE), 128, np.uint8)
    grey[:, : SIZE // 2] = 0
    alpha = np.where(grey == 0, 0, 255).astype(np.uint8)
    if kind == "RGBA":
        Image.fromarray(np.stack([grey, grey, grey, alpha], axis=-1)).save(path)
    elif kind == "LA":
        Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)]).save(path)
    elif kind in ("P", "L"):
        # Colour-key transparency: palette entry 0, or grey level 0, is transparent (a tRNS chunk).
        image = Image.fromarray(grey)
        (image.convert("P") if kind == "P" else image).save(path, transparency=0)
    else:  # a 16-bit grey PNG whose grey level 0 is transparent
        write_png16(path, grey.astype(np.uint16) * 257, extra=png_chunk(b"tRNS", struct.pack(">H", 0)))


@pytest.mark.parametrize("kind", ["RGBA", "LA", "P", "L", "I;16"])
@pytest.mark.parametrize("channels", [1, 3])
def test_transparent_pixels_are_composited_on_white(tmp_path, kind, channels):
    write_transparent(tmp_path / "a.png", kind)
    with pytest.warns(UserWarning, match="1 of the 1 image files .* transparent pixels become white"):
        (image,) = images_of(tmp_path, channels)
    left, right = image[:, :, : SIZE // 2], image[:, :, SIZE // 2 :]
    assert bool((left == 1).all())
    np.testing.assert_allclose(right.numpy(), 128 / 255 * 2 - 1, atol=1e-6)


def transparency_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(warning.message) for warning in record if "transparent colour" in str(warning.message)]


@pytest.mark.parametrize("check_images", [None, 100])
def test_transparency_is_announced_once_per_folder_naming_an_example(tmp_path, check_images):
    write_good(tmp_path, 2)
    for name in ("t1.png", "t2.png"):
        write_transparent(tmp_path / name, "RGBA")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        images_of(tmp_path, 3, check_images=check_images)
        images_of(tmp_path, 3, check_images=check_images)[2]  # a second dataset announces again
    first = re.escape(str(tmp_path / "t1.png"))
    count = "2 of the 4 image files" if check_images else "Image files"
    assert len(transparency_warnings(record)) == 2
    assert all(re.match(f"{count} in .* e\\.g\\. {first}\\.", text) for text in transparency_warnings(record))


# ------------------------------------------------------------------------------------------------ bad files
def test_the_folder_check_lists_every_bad_file_with_its_reason_before_the_first_batch(tmp_path):
    write_good(tmp_path, 2)
    bad = write_bad_files(tmp_path)
    datamodule = folder_module(tmp_path)
    with pytest.raises(OSError, match="3 of the 5 image files under .* cannot be read") as raised:
        datamodule.setup("fit")
    lines = str(raised.value).splitlines()[1:]
    assert len(lines) == 3
    for name, path in bad.items():
        assert any(re.search(f"{re.escape(str(path))}: .*{REASONS[name]}", line) for line in lines), name
    assert datamodule.train_set is None


@pytest.mark.parametrize("name", list(REASONS))
@pytest.mark.parametrize("check_images", [0, None])
def test_without_the_check_a_bad_file_is_named_when_it_is_loaded(tmp_path, name, check_images):
    write_good(tmp_path, 2)
    path = write_bad_files(tmp_path / "bad")[name]
    for other in (tmp_path / "bad").iterdir():
        if other != path:
            other.unlink()
    datamodule = folder_module(tmp_path, check_images=check_images)
    datamodule.setup("fit")
    index = datamodule.train_set.paths.index(path)
    with pytest.raises(OSError, match=f"Cannot read image {re.escape(str(path))}: {REASONS[name]}"):
        datamodule.train_set[index]


def test_a_decompression_bomb_warning_made_an_error_names_the_file(tmp_path, monkeypatch):
    # 64 pixels, above a limit of 40 but below twice it: PIL warns, and an "error" filter raises the warning.
    Image.new("L", (SIZE, SIZE)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(OSError, match=r"big.png: PIL refuses it .*\(64 pixels\).*MAX_IMAGE_PIXELS"):
            folder_module(tmp_path).setup("fit")


def test_the_error_lists_the_first_bad_files_and_counts_the_rest(tmp_path):
    for index in range(LISTED_BAD_FILES + 3):
        (tmp_path / f"{index:03d}.png").write_text("not an image")
    with pytest.raises(OSError) as raised:
        folder_module(tmp_path).setup("fit")
    lines = str(raised.value).splitlines()
    assert len(lines) == 1 + LISTED_BAD_FILES + 1 and lines[-1] == "  ... and 3 more."


def test_a_folder_larger_than_check_images_is_not_checked_and_says_so(tmp_path, caplog):
    write_good(tmp_path, 2)
    (tmp_path / "text.png").write_text("not an image")
    with caplog.at_level("INFO"):
        folder_module(tmp_path, check_images=2).setup("fit")
    assert "holds 3 image files, more than check_images=2: they are not checked" in caplog.text


def test_check_images_must_not_be_negative():
    with pytest.raises(ValueError, match="check_images must be an integer >= 0 or None, got -1"):
        ImageFolderDataModule(check_images=-1)


# -------------------------------------------------------------------------------------- translation folders
def test_the_unpaired_folders_are_checked_before_training(tmp_path):
    write_unpaired_layout(tmp_path, "tiny", n=2, size=SIZE)
    text = tmp_path / "tiny" / "trainB" / "notes.png"
    text.write_text("not an image")
    data = UnpairedImageDataModule(root=str(tmp_path), dataset="tiny", download=False, image_size=SIZE)
    with pytest.raises(OSError, match=f"1 of the 4 image files .*\n  Cannot read image {re.escape(str(text))}: "):
        data.setup("fit")


@pytest.mark.parametrize("check_images", [0, 100])
def test_a_bad_first_pix2pix_pair_is_named(tmp_path, check_images):
    write_paired_layout(tmp_path, "tiny", n=2, size=SIZE)
    train = tmp_path / "tiny" / "train"
    bad = write_bad_files(train)
    for other in ("truncated", "text"):
        bad[other].unlink()
    # Sorted before 0000.jpg, so the first file, whose size the paired dataset reads when it is built.
    bomb = bad["bomb"].rename(train / "0.png")
    data = PairedImageDataModule(
        root=str(tmp_path), dataset="tiny", download=False, image_size=SIZE, check_images=check_images
    )
    with pytest.raises(OSError, match=f"{re.escape(str(bomb))}: {REASONS['bomb']}"):
        data.setup("fit")
