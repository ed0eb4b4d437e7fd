"""PDQ reference mode against the hashes Meta's C++ `pdq-photo-hasher` printed (tests/data/pdq/README.md).

Every row must match bit for bit: a near miss here means a bank hashed with Meta's tool can miss a match.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tutela.signals.pdq.reference import reference_hash, reference_pixels

DATA = Path(__file__).parent / "data" / "pdq"
DIHEDRAL_COLUMNS = (
    "orig",
    "rot90_ccw",
    "rot180",
    "rot270_ccw",
    "flipx_topbottom",
    "flipy_leftright",
    "flip_plus1_transpose",
    "flip_minus1_antitranspose",
)
# Image.transpose operations in the tool's dihedral order (Pillow's ROTATE_90 is counter-clockwise).
TRANSPOSES = (
    None,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="") as f:
        return list(csv.DictReader(f))


@functools.cache
def _hashed(relative_path: str) -> tuple[str, int, tuple[str, ...]]:
    """Hash each reference image once: both CSVs check the same images."""
    with Image.open(DATA / "images" / relative_path) as image:
        digest, quality, dihedral = reference_hash(image)
    return digest.hex(), quality, tuple(d.hex() for d in dihedral)


PLAIN = _rows("pdq_reference.csv")
DIHEDRAL = _rows("pdq_reference_dihedral.csv")


@pytest.mark.parametrize("row", PLAIN, ids=[r["relative_path"] for r in PLAIN])
def test_hash_and_quality_match_reference_tool(row: dict[str, str]) -> None:
    digest, quality, _ = _hashed(row["relative_path"])
    assert (digest, quality) == (row["pdq_hex"], int(row["quality"]))


@pytest.mark.parametrize("row", DIHEDRAL, ids=[r["relative_path"] for r in DIHEDRAL])
def test_dihedral_hashes_match_reference_tool(row: dict[str, str]) -> None:
    _, quality, dihedral = _hashed(row["relative_path"])
    assert quality == int(row["quality"])
    assert dict(zip(DIHEDRAL_COLUMNS, dihedral, strict=True)) == {c: row[c] for c in DIHEDRAL_COLUMNS}


def test_reference_data_covers_every_image() -> None:
    on_disk = {p.relative_to(DATA / "images").as_posix() for p in (DATA / "images").rglob("*.*")}
    assert {r["relative_path"] for r in PLAIN} == on_disk
    assert {r["relative_path"] for r in DIHEDRAL} == on_disk


def _generated_image(width: int, height: int) -> Image.Image:
    """A smooth benign RGB pattern: sums of cosines with fixed random frequencies and phases."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    channels = []
    for _ in range(3):
        f = sum(
            rng.uniform(-1, 1)
            * np.cos(np.pi * (rng.integers(1, 6) * x + rng.integers(0, 6) * y) + rng.uniform(0, 6))
            for _ in range(6)
        )
        channels.append((f - f.min()) / (f.max() - f.min()) * 255)
    return Image.fromarray(np.round(np.stack(channels, axis=-1)).astype(np.uint8), "RGB")


def test_dihedral_hashes_equal_hashes_of_transformed_images() -> None:
    # 330x270: both box windows are odd (3) and neither side is a multiple of 128, so the reference's
    # blur and decimation are mirror-symmetric and a transformed image must give exactly the derived hash.
    image = _generated_image(330, 270)
    _, quality, dihedral = reference_hash(image)
    assert quality > 50
    transformed = [reference_hash(image if op is None else image.transpose(op))[0] for op in TRANSPOSES]
    assert [d.hex() for d in dihedral] == [t.hex() for t in transformed]
    assert len(set(dihedral)) == 8


def test_images_under_five_pixels_get_the_zero_hash() -> None:
    digest, quality, dihedral = reference_hash(Image.new("RGB", (4, 40), (90, 120, 30)))
    assert (digest, quality) == (bytes(32), 0)
    assert dihedral == [bytes(32)] * 8


def test_large_images_are_sampled_top_left_aligned_to_512() -> None:
    ramp = np.tile(np.arange(1030, dtype=np.uint32) % 256, (600, 1)).astype(np.uint8)
    pixels = reference_pixels(Image.fromarray(ramp, "L"))
    assert pixels.shape == (512, 512)
    assert list(pixels[0, :4]) == [0, 2, 4, 6]  # floor(x * 1030 / 512)
    assert pixels[0, 511] == (511 * 1030 // 512) % 256


def test_all_grey_rgb_is_delivered_as_one_grey_channel() -> None:
    grey = Image.fromarray(np.arange(60 * 80, dtype=np.uint32).reshape(60, 80).astype(np.uint8), "L")
    assert reference_pixels(grey.convert("RGB")).shape == (60, 80)
    assert reference_hash(grey.convert("RGB")) == reference_hash(grey)
