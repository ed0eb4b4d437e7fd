"""Benign generated pictures for the demo: gradients, shapes and texture, deterministic from a seed.

They stand in for "known" material in the demo bank: nothing real is ever shipped or fetched.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageOps


def picture(seed: int, size: tuple[int, int] = (1024, 768)) -> Image.Image:
    """A photo-like RGB picture: a smooth colour field, a few shapes, mild noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.28)
        wave = np.sin(x / width * fx * 6.28 + phase) * np.cos(y / height * fy * 6.28)
        channels.append(127 + 90 * wave)
    base = np.stack(channels, axis=-1) + rng.normal(0, 6, (height, width, 3))
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 9))):
        x0, y0 = int(rng.integers(0, width - 50)), int(rng.integers(0, height - 50))
        x1, y1 = x0 + int(rng.integers(40, width // 2)), y0 + int(rng.integers(40, height // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return image


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _resized(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)


def _greyscale(image: Image.Image) -> Image.Image:
    return ImageOps.grayscale(image).convert("RGB")


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resized": _resized,
    "recompressed": lambda image: Image.open(io.BytesIO(jpeg_bytes(image, quality=40))).convert("RGB"),
    "greyscale": _greyscale,
    "mirrored": ImageOps.mirror,
    "rotated": lambda image: image.transpose(Image.Transpose.ROTATE_90),
}
"""Copies that a perceptual hash should still match; mirrored and rotated need --dihedral."""
