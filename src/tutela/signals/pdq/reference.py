"""PDQ reference mode: the front half of Meta's C++ `pdq-photo-hasher`, reproduced bit for bit.

Hash banks shared between organisations are mostly computed with Meta's tool, so Tutela offers a mode whose
hashes are identical to it, not merely within a few bits. The tool (pdq/cpp in facebook/ThreatExchange)
decodes through ImageMagick into 8-bit channels, then:

1. an image wider or taller than 512 px is resized to exactly 512x512 by nearest neighbour, sampling source
   pixel floor(x*W/512), floor(y*H/512); smaller images are hashed at their own size;
2. three or more channels become float32 luma 0.299 R + 0.587 G + 0.114 B (float32 products, summed left to
   right); a single grey channel is used as is, which is not the same float as the RGB formula on R=G=B;
3. two passes of a running-sum box filter (Jarosz) along rows then columns, window ceil(N / 128);
4. decimation to 64x64 at the centres of 64 equal strips, then `core` does the DCT, bits and quality.

Step 3 (and the DCT in `core`) accumulates in float32 in the C++ order (numba kernels, no fastmath), since
a different summation order moves coefficients by rounding errors and can flip the bit of a coefficient at
the median.
Below 5 px on a side the tool returns the all-zero hash with quality 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit
from PIL import Image

from tutela.signals.pdq.core import (
    F32,
    HASH_BYTES,
    bits_from_dct,
    dct16,
    dihedral_dcts,
    hash_bytes_from_bits,
    quality,
)

__all__ = ["MAX_SIDE", "MIN_SIDE", "reference_buffer", "reference_hash", "reference_pixels"]

MAX_SIDE = 512
"""Images larger than this on either side are resized to MAX_SIDE x MAX_SIDE, as the C++ tool does."""
MIN_SIDE = 5
"""Images smaller than this on either side get the all-zero hash and quality 0, as in the C++ tool."""

U8 = npt.NDArray[np.uint8]
_BUFFER = 64
_JAROSZ_PASSES = 2


def _window(old: int, new: int) -> int:
    """The reference's box window: old / (2 * new), rounded up (two passes make one full strip)."""
    return (old + 2 * new - 1) // (2 * new)


@njit(cache=True)
def _box_down(src: F32, dst: F32, window: int) -> None:  # pragma: no cover - compiled
    """Running-sum box filter down every column of `src` into `dst`, the window shrinking at both ends.

    Per column this is the reference's loop: a float32 sum gains the entering value and loses the leaving
    one, and each output is that sum divided by the current window length, so rounding is identical. All
    columns advance together, so memory is read row by row.
    """
    n, m = src.shape
    half = (window + 2) // 2
    total = np.zeros(m, dtype=np.float32)
    count = 0
    left = 0
    right = 0
    out = 0
    for _ in range(half - 1):
        for j in range(m):
            total[j] += src[right, j]
        count += 1
        right += 1
    for _ in range(window - half + 1):
        count += 1
        for j in range(m):
            total[j] += src[right, j]
            dst[out, j] = total[j] / np.float32(count)
        right += 1
        out += 1
    for _ in range(n - window):
        for j in range(m):
            total[j] += src[right, j]
            total[j] -= src[left, j]
            dst[out, j] = total[j] / np.float32(count)
        left += 1
        right += 1
        out += 1
    for _ in range(half - 1):
        count -= 1
        for j in range(m):
            total[j] -= src[left, j]
            dst[out, j] = total[j] / np.float32(count)
        left += 1
        out += 1


@njit(cache=True)
def _blur_and_decimate(luma: F32, along_rows: int, along_cols: int, passes: int) -> F32:  # pragma: no cover
    """Jarosz passes (along rows, then along columns, `passes` times), then decimation to 64x64.

    The row pass runs down the columns of the transpose. Decimation picks the pixel at the centre of each
    of 64 equal strips, the index computed in double and truncated, as the reference does.
    """
    rows, cols = luma.shape
    a = luma.copy()
    for _ in range(passes):
        t = np.ascontiguousarray(a.T)
        u = np.empty_like(t)
        _box_down(t, u, along_rows)
        b = np.ascontiguousarray(u.T)
        _box_down(b, a, along_cols)
    out = np.empty((64, 64), dtype=np.float32)
    for oi in range(64):
        ii = int(((oi + 0.5) * rows) / 64)
        for oj in range(64):
            jj = int(((oj + 0.5) * cols) / 64)
            out[oi, oj] = a[ii, jj]
    return out


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey modes to 8-bit grey, rounding to nearest as ImageMagick's quantum scaling does.

    I;16 holds the full 16-bit range and is scaled by 1/257 (ImageMagick's 16 -> 8 bit mapping). I and F
    follow Pillow's convention that their values are already on the 0..255 scale, and are clipped to it.
    No reference vector covers these in-memory modes (the tool only ever sees files).
    """
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        values = values / 257.0
    return Image.fromarray(np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8), "L")


def reference_pixels(image: Image.Image) -> U8:
    """8-bit pixels as the C++ tool receives them from ImageMagick: HxW (grey) or HxWx3 (colour).

    Alpha is dropped, never blended; palette, CMYK, YCbCr, LAB and HSV images become RGB; an RGB image whose
    pixels are all grey is delivered as one grey channel, as ImageMagick writes it as a greymap. EXIF
    orientation is ignored. The resize to 512x512 is applied here, on the 8-bit pixels, as in the tool.
    """
    mode = image.mode
    if mode == "La":  # premultiplied: undo it as far as 8 bits allow, as a file would store it
        image, mode = image.convert("LA"), "LA"
    if mode in ("1", "L", "LA"):
        grey = image.getchannel(0) if mode == "LA" else image.convert("L")
        return _resize(np.asarray(grey, dtype=np.uint8))
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _resize(np.asarray(_to_8bit(image), dtype=np.uint8))
    # Pillow's CMYK -> RGB, round((255 - C) * (255 - K) / 255), is ImageMagick's formula; Adobe's inverted
    # CMYK JPEGs are already un-inverted by Pillow's decoder.
    rgb = np.asarray(image if mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
    small = _resize(rgb)
    # A grey full image implies grey resized pixels, so the full-size check runs only when it can succeed.
    if _all_grey(small) and (small is rgb or _all_grey(rgb)):
        return np.ascontiguousarray(small[..., 0])
    return small


def _all_grey(rgb: U8) -> bool:
    """True when every pixel has R == G == B."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]))


def _resize(pixels: U8) -> U8:
    """Nearest-neighbour resize to 512x512 (top-left aligned) when either side exceeds 512 px."""
    height, width = pixels.shape[:2]
    if height <= MAX_SIDE and width <= MAX_SIDE:
        return pixels
    ys = (np.arange(MAX_SIDE) * height) // MAX_SIDE
    xs = (np.arange(MAX_SIDE) * width) // MAX_SIDE
    resized: U8 = np.take(np.take(pixels, ys, axis=0), xs, axis=1)
    return resized


def _luma(pixels: U8) -> F32:
    """Float32 luma exactly as the reference computes it (grey is used unchanged)."""
    if pixels.ndim == 2:
        return pixels.astype(np.float32)
    r, g, b = (pixels[..., c].astype(np.float32) for c in range(3))
    return (np.float32(0.299) * r + np.float32(0.587) * g) + np.float32(0.114) * b  # type: ignore[no-any-return]


def reference_buffer(image: Image.Image, *, dihedral: bool = False) -> F32:
    """The 64x64 float32 luma buffer the C++ tool hashes for this image.

    The tool's plain hash path copies a 64x64 luma image straight through while its dihedral path (which
    prints all 8 hashes) always blurs; `dihedral` picks which. Only a 64x64 image tells them apart. Raises
    ValueError below 5 px on a side, where the tool hashes nothing.
    """
    luma = _luma(reference_pixels(image))
    rows, cols = luma.shape
    if rows < MIN_SIDE or cols < MIN_SIDE:
        raise ValueError(f"image is {cols}x{rows}; PDQ needs at least {MIN_SIDE} px on each side")
    if not dihedral and rows == _BUFFER and cols == _BUFFER:
        return np.ascontiguousarray(luma)
    windows = (_window(cols, _BUFFER), _window(rows, _BUFFER))
    return _blur_and_decimate(np.ascontiguousarray(luma), *windows, _JAROSZ_PASSES)


def reference_hash(image: Image.Image) -> tuple[bytes, int, list[bytes]]:
    """(hash, quality, 8 dihedral hashes) exactly as `pdq-photo-hasher` prints them for this image.

    The dihedral order is the tool's: original, rotated 90 ccw, 180, 270 ccw, flipped top-bottom, mirrored
    left-right, transposed, anti-transposed. Images under 5 px on a side give all-zero hashes, quality 0.
    For a 64x64 image the hash and quality come from the tool's plain path and the 8 dihedral hashes from
    its dihedral path, which blurs, so dihedral[0] may then differ from the hash by a rounding-level bit.
    """
    width, height = image.size
    if width < MIN_SIDE or height < MIN_SIDE:
        zero = bytes(HASH_BYTES)
        return zero, 0, [zero] * 8
    buffer = reference_buffer(image, dihedral=True)
    dihedral = [hash_bytes_from_bits(bits_from_dct(d)) for d in dihedral_dcts(dct16(buffer))]
    if width == _BUFFER and height == _BUFFER:
        plain = reference_buffer(image)
        return hash_bytes_from_bits(bits_from_dct(dct16(plain))), quality(plain), dihedral
    return dihedral[0], quality(buffer), dihedral
