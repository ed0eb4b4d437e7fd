"""Deterministic, benign, photo-like test images made with numpy and Pillow.

Why: hashing accuracy and speed depend on image content (JPEG size, edges, noise), and flat synthetic
images flatter both. These images have what photos have: smooth colour gradients, objects with soft
edges, mid-scale texture and sensor noise (mostly luminance, as cameras denoise chroma), so a 1080p
JPEG at quality 90 is a few hundred kilobytes. Tests and bench/hashing.py share them.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def photo_like(seed: int, size: tuple[int, int] = (1920, 1080)) -> Image.Image:
    """An RGB image of `size`, the same for the same seed."""
    rng = np.random.default_rng(seed)
    # Objects are drawn at half size: upscaling softens their edges like a lens (faster than a blur).
    width, height = max(1, size[0] // 2), max(1, size[1] // 2)
    grid = (int(rng.integers(3, 7)), int(rng.integers(4, 9)), 3)
    coarse = rng.integers(0, 256, size=grid, dtype=np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(6, 16))):
        x0, x1 = sorted(int(v) for v in rng.integers(-width // 4, width * 5 // 4, size=2))
        y0, y1 = sorted(int(v) for v in rng.integers(-height // 4, height * 5 // 4, size=2))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            corners = rng.integers(0, (width, height), size=(int(rng.integers(3, 7)), 2))
            draw.polygon([(int(x), int(y)) for x, y in corners], fill=colour)
    image = image.resize(size, Image.Resampling.BICUBIC)
    width, height = size
    pixels = np.asarray(image, dtype=np.float32)
    texture = rng.standard_normal((height // 16 + 1, width // 16 + 1), dtype=np.float32)
    texture_full = np.asarray(Image.fromarray(texture, mode="F").resize(size))
    luma_noise = rng.standard_normal((height, width), dtype=np.float32) * rng.uniform(1.5, 5.0)
    grain = texture_full * np.float32(rng.uniform(4.0, 12.0)) + luma_noise
    pixels += grain[..., None]
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """The image saved in `fmt` (JPEG defaults to quality 90) as bytes."""
    if fmt == "JPEG":
        params.setdefault("quality", 90)
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()
