"""PDQ quality: flat images are flagged and kept, photos are not, and every Pillow mode hashes in both modes.

The low-quality threshold is measured by bench/low_quality.py; here a small fixed set of unrelated flat and
near-uniform images checks that the default keeps them apart. The match index applying it is tested elsewhere.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tutela.app import Tutela
from tutela.banks import BankCategory
from tutela.media import MediaLimits
from tutela.settings import Settings
from tutela.signals.extract import extract
from tutela.signals.pdq import PdqMode, core, hamming
from tutela.signals.pdq.fast import fast_buffer
from tutela.signals.pdq.reference import reference_hash

U8 = npt.NDArray[np.uint8]
MODES = list(PdqMode)
SETTINGS = Settings()


def _encode(pixels: U8 | Image.Image, fmt: str = "PNG", **options: int) -> bytes:
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _solid(colour: tuple[int, int, int], size: tuple[int, int] = (96, 64)) -> U8:
    return np.broadcast_to(np.asarray(colour, np.uint8), (size[1], size[0], 3)).copy()


def _gradient(colour: tuple[int, int, int], levels: float, degrees: float) -> U8:
    y, x = np.indices((64, 96), dtype=np.float64)
    angle = math.radians(degrees)
    ramp = x / 96 * math.cos(angle) + y / 64 * math.sin(angle)
    shaded = np.asarray(colour, np.float64) + (levels * (ramp - float(ramp.mean())))[..., None]
    return np.clip(shaded, 0, 255).astype(np.uint8)


def _noisy(colour: tuple[int, int, int], sigma: float, seed: int) -> U8:
    noise = np.random.default_rng(seed).normal(0.0, sigma, (64, 96, 3))
    return np.clip(np.asarray(colour) + noise, 0, 255).astype(np.uint8)


def _marked(colour: tuple[int, int, int], top: int, left: int) -> U8:
    pixels = _solid(colour)
    pixels[top : top + 2, left : left + 2] = 255 - np.asarray(colour, np.uint8)
    return pixels


def _photo(seed: int) -> U8:
    """Photo-like: a colour gradient, random filled rectangles and ellipses, a texture, and sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.indices((192, 256), dtype=np.float64)
    image = np.stack([x / 256 * 180 + 40, y / 192 * 160 + 50, (x + y) / 448 * 120 + 60], axis=-1)
    for _ in range(8):
        cy, cx, ry, rx = (
            rng.integers(10, 180),
            rng.integers(10, 240),
            rng.integers(8, 50),
            rng.integers(8, 60),
        )
        inside = (
            ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
            if rng.random() < 0.5
            else ((abs(y - cy) <= ry) & (abs(x - cx) <= rx))
        )
        image[inside] = rng.integers(0, 256, 3)
    image += (20 * np.sin(x / rng.uniform(3, 9)) * np.cos(y / rng.uniform(3, 9)))[..., None]
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


FLAT: dict[str, Callable[[], bytes]] = {
    "black": lambda: _encode(_solid((0, 0, 0))),
    "white": lambda: _encode(_solid((255, 255, 255))),
    "red": lambda: _encode(_solid((200, 30, 40))),
    "green": lambda: _encode(_solid((10, 200, 90))),
    "skin": lambda: _encode(_solid((230, 190, 160))),
    "gradient-0": lambda: _encode(_gradient((128, 128, 128), 8, 0)),
    "gradient-90": lambda: _encode(_gradient((60, 90, 200), 8, 90)),
    "gradient-45": lambda: _encode(_gradient((250, 240, 80), 16, 45)),
    "noise": lambda: _encode(_noisy((40, 40, 40), 2.0, seed=1)),
    "mark": lambda: _encode(_marked((220, 220, 220), 20, 30)),
    "jpeg-q60": lambda: _encode(_noisy((0, 128, 128), 1.0, seed=2), "JPEG", quality=60),
    "jpeg-q30": lambda: _encode(_gradient((90, 20, 120), 6, 135), "JPEG", quality=30),
}


@pytest.fixture(scope="module")
def limits() -> MediaLimits:
    return MediaLimits.from_settings(SETTINGS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", FLAT)
def test_flat_images_are_low_quality_and_keep_their_hash(
    name: str, mode: PdqMode, limits: MediaLimits
) -> None:
    extraction = extract(FLAT[name](), limits, pdq_mode=mode)
    assert extraction.pdq is not None
    assert len(extraction.pdq.hash) == 32
    assert extraction.pdq.quality < SETTINGS.pdq_min_quality
    signal = extraction.signal("pdq")
    assert signal is not None
    assert signal.value == extraction.pdq.hash.hex()
    assert signal.quality == extraction.pdq.quality


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(4))
def test_photo_like_images_are_not_low_quality(seed: int, mode: PdqMode, limits: MediaLimits) -> None:
    for data in (_encode(_photo(seed)), _encode(_photo(seed), "JPEG", quality=85)):
        extraction = extract(data, limits, pdq_mode=mode)
        assert extraction.pdq is not None
        assert extraction.pdq.quality >= SETTINGS.pdq_min_quality


def test_unrelated_solid_images_share_a_hash() -> None:
    """Why no threshold is safe for flat images: dark grey and near-white, the same PDQ hash."""
    limits = MediaLimits.from_settings(SETTINGS)
    dark = extract(_encode(_solid((56, 56, 56), (64, 64))), limits).pdq
    grey = extract(_encode(_solid((224, 224, 224), (64, 64))), limits).pdq
    assert dark is not None
    assert grey is not None
    assert hamming(dark.hash, grey.hash) == 0
    assert dark.quality < SETTINGS.pdq_min_quality
    assert grey.quality < SETTINGS.pdq_min_quality


@pytest.mark.parametrize("mode", MODES)
def test_unrelated_low_quality_images_never_match_by_default(mode: PdqMode, tmp_path: Path) -> None:
    """Default (threshold unset): a bank of flat images matches no other flat image perceptually."""
    settings = Settings(data_dir=tmp_path)
    assert settings.pdq_low_quality_threshold is None
    limits = MediaLimits.from_settings(settings)
    app = Tutela.open(settings)
    app.banks.create_bank("flat", BankCategory.OTHER)
    queries = []
    for index, make in enumerate(FLAT.values()):
        extraction = extract(make(), limits, pdq_mode=mode)
        assert extraction.pdq is not None
        if index % 2 == 0:
            app.banks.add_entry("flat", extraction.signals[0])
        else:
            queries.append(extraction)
    dark = extract(_encode(_solid((56, 56, 56), (64, 64))), limits, pdq_mode=mode)
    app.banks.add_entry("flat", dark.signals[0])
    queries.append(extract(_encode(_solid((224, 224, 224), (64, 64))), limits, pdq_mode=mode))
    assert all(matches == [] for matches in app.matcher.match_many(queries))
    app.close()


def test_a_threshold_of_zero_would_match_unrelated_flat_images(tmp_path: Path) -> None:
    """The counter-example: with the threshold set to 0, a dark grey image matches a near-white one."""
    settings = Settings(data_dir=tmp_path, pdq_low_quality_threshold=0)
    limits = MediaLimits.from_settings(settings)
    app = Tutela.open(settings)
    app.banks.create_bank("flat", BankCategory.OTHER)
    app.banks.add_entry("flat", extract(_encode(_solid((56, 56, 56), (64, 64))), limits).signals[0])
    grey = extract(_encode(_solid((224, 224, 224), (64, 64))), limits)
    assert [m.distance for m in app.matcher.match_many([grey])[0]] == [0]
    app.close()


def _base() -> Image.Image:
    return Image.fromarray(_photo(7)[:96, :128])


WRITTEN = [
    ("1", "PNG"),
    ("L", "PNG"),
    ("LA", "PNG"),
    ("P", "PNG"),
    ("RGB", "PNG"),
    ("RGBA", "PNG"),
    ("I;16", "PNG"),
    ("I", "TIFF"),
    ("F", "TIFF"),
    ("CMYK", "TIFF"),
    ("CMYK", "JPEG"),
    ("YCbCr", "JPEG"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("pillow_mode", "fmt"), WRITTEN, ids=[f"{m}-{f}" for m, f in WRITTEN])
def test_every_pillow_mode_hashes_through_extract(
    pillow_mode: str, fmt: str, mode: PdqMode, limits: MediaLimits
) -> None:
    image = _base().convert("I").convert("I;16") if pillow_mode == "I;16" else _base().convert(pillow_mode)
    data = _encode(image, fmt)
    if pillow_mode != "YCbCr":  # Pillow's JPEG reader returns YCbCr files as RGB
        assert Image.open(io.BytesIO(data)).mode == pillow_mode
    extraction = extract(data, limits, pdq_mode=mode)
    assert extraction.pdq is not None, extraction.error
    assert len(extraction.pdq.hash.hex()) == 64
    assert 0 <= extraction.pdq.quality <= 100


@pytest.mark.parametrize("pillow_mode", ["PA", "YCbCr"])
def test_in_memory_modes_hash_in_both_modes(pillow_mode: str) -> None:
    """No Pillow writer keeps PA or YCbCr, so the decoded image goes to each hasher directly."""
    image = _base().convert("P").convert("PA") if pillow_mode == "PA" else _base().convert(pillow_mode)
    assert image.mode == pillow_mode
    reference, reference_quality, _ = reference_hash(image)
    fast, fast_quality = core.hash_and_quality(fast_buffer(image, image.size))
    for digest, quality in ((reference, reference_quality), (fast, fast_quality)):
        assert len(digest.hex()) == 64
        assert 0 <= quality <= 100
