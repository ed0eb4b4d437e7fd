"""PDQ fast mode: the full-resolution PDQ buffer from a reduced decode, as two small matrix products.

Why: full-resolution PDQ (Meta's C++, what pdqhash, HMA and most banks compute) decodes every pixel, makes
float luma and runs two box-filter passes per axis over the whole image before keeping 64x64 samples; for a
1080p photo that is ~50 ms. Everything before the median threshold is linear and separable, so the 64x64
buffer is `A @ luma @ B.T`, with A (64 x rows) and B (64 x cols) fixed per image size. A JPEG decoded at 1/s
scale in the DCT domain (Pillow `draft`) yields the s x s block means of its luma for little more than the
entropy decoding; composing the operators with an estimate of each pixel from the block means around it
gives operators for that reduced grid. The reduced pixel is kept at most 2/3 of the reference's box window
(size / 128), which keeps the hash within about a bit of the full-resolution one (docs/performance.md).

Like the reference tools, fast mode hashes the stored pixels: no EXIF rotation, alpha ignored.
"""

from __future__ import annotations

import io
from functools import cache, lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image

from tutela.signals.pdq.core import F32, hash_and_quality

__all__ = [
    "JPEG_MIN_REDUCED_SIDE",
    "decode_for_fast",
    "draft_size",
    "fast_buffer",
    "fast_hash",
    "reduction_scale",
    "row_operator",
]

JPEG_MIN_REDUCED_SIDE = 192
"""Shortest side a JPEG is reduced to. The reference's box window is size / 128 px; a reduced pixel at most
2/3 of it keeps 1080p within ~0.7 bits of pdqhash (1/4 scale), where 1/8 (pixel ~ window) gave ~2 bits."""
OTHER_MIN_REDUCED_SIDE = 512
"""Shortest side other formats are reduced to: their full decode costs more than an exact product."""
MIN_HASHABLE_SIDE = 5
"""Below this the reference hashes nothing: an all-zero hash with quality 0."""
_SCALES = (8, 4, 2)
_RIDGE = 1e-3  # block means carry JPEG quantisation noise, ~1e-3 of a photo's luma variance
_TAPS = 8  # neighbour blocks used on each side


def reduction_scale(full_size: tuple[int, int], min_side: int = JPEG_MIN_REDUCED_SIDE) -> int:
    """The largest of 8, 4, 2 that keeps the shortest side at least `min_side`; else 1."""
    shortest = min(full_size)
    return next((s for s in _SCALES if shortest >= min_side * s), 1)


def draft_size(full_size: tuple[int, int], min_side: int = JPEG_MIN_REDUCED_SIDE) -> tuple[int, int] | None:
    """The size to ask Pillow's JPEG `draft` for (it then decodes at exactly 1/scale); None: full size."""
    scale = reduction_scale(full_size, min_side)
    return None if scale == 1 else (full_size[0] // scale, full_size[1] // scale)


def _box_transpose(rows: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """rows @ F, where F is the reference's 1-D box filter (mean over a clipped window), n x n.

    Output i of F averages the inputs i - after .. i + before that exist (before = half - 1, after =
    window - half, half = (window + 2) // 2), so input j feeds outputs j - before .. j + after: applying
    F.T is a plain window sum of inputs divided by their output's count, done with prefix sums.
    """
    n = rows.shape[1]
    half = (window + 2) // 2
    before, after = half - 1, window - half
    idx = np.arange(n)
    counts = np.minimum(idx + before, n - 1) - np.maximum(idx - after, 0) + 1
    prefix = np.zeros((rows.shape[0], n + 1))
    np.cumsum(rows / counts, axis=1, out=prefix[:, 1:])
    upper = np.concatenate([prefix[:, after + 1 :], np.repeat(prefix[:, -1:], after, axis=1)], axis=1)
    lower = np.concatenate([np.zeros((rows.shape[0], before)), prefix[:, : n - before]], axis=1)
    return np.asarray(upper - lower)


def _full_rows(full: int) -> npt.NDArray[np.float64]:
    """64 x full: two box passes (window (full + 127) // 128), then rows int((i + 0.5) * full / 64)."""
    window = (full + 2 * 64 - 1) // (2 * 64)
    picks = np.zeros((64, full))
    picks[np.arange(64), [int((i + 0.5) * full / 64) for i in range(64)]] = 1.0
    return _box_transpose(_box_transpose(picks, window), window)


@cache
def _phase_weights(scale: int) -> npt.NDArray[np.float64]:
    """(scale, 2 * _TAPS + 1): pixel p of a block as a weighted sum of that block's and neighbours' means.

    The best linear (kriging) estimate under a stationary prior: Matern-3/2 covariance of range 2 blocks
    (continuous but rough, like photos), so neighbours tell the slope inside a block. Solved once per scale
    on a long strip and read off its middle block; the weights shrink ~2.5x per block, so the tails beyond
    _TAPS are dropped and each row renormalised to sum 1 (a flat image stays flat).
    """
    blocks = 6 * _TAPS
    x = np.arange(blocks * scale)
    lag = np.abs(x[:, None] - x[None, :]) / (2.0 * scale)
    cov = (1 + np.sqrt(3) * lag) * np.exp(-np.sqrt(3) * lag)
    means = np.repeat(np.eye(blocks), scale, axis=1) / scale
    cov_dt = cov @ means.T
    estimator = np.linalg.solve(means @ cov_dt + _RIDGE * np.eye(blocks), cov_dt.T).T
    mid = blocks // 2
    weights = estimator[mid * scale : (mid + 1) * scale, mid - _TAPS : mid + _TAPS + 1]
    return np.asarray(weights / weights.sum(axis=1, keepdims=True))


@lru_cache(maxsize=64)
def row_operator(full: int, scale: int = 1) -> F32:
    """64 x ceil(full / scale) float32: one axis of the reference's blur-and-decimate on a 1/scale grid.

    Scale 1 is exact. On a reduced grid each pixel is its block's mean and pixels are estimated from the
    block means with `_phase_weights`, blocks past an edge taken as the edge block. Cached, read-only.
    """
    operator = _full_rows(full)
    if scale > 1:
        reduced = -(-full // scale)
        padded = np.zeros((64, reduced * scale))
        padded[:, :full] = operator
        taps = padded.reshape(64 * reduced, scale) @ _phase_weights(scale)
        taps = taps.reshape(64, reduced, 2 * _TAPS + 1)
        extended = np.zeros((64, reduced + 2 * _TAPS))
        for t in range(2 * _TAPS + 1):
            extended[:, t : t + reduced] += taps[:, :, t]
        operator = extended[:, _TAPS : _TAPS + reduced].copy()
        operator[:, 0] += extended[:, :_TAPS].sum(axis=1)
        operator[:, -1] += extended[:, _TAPS + reduced :].sum(axis=1)
    result = operator.astype(np.float32)
    result.setflags(write=False)
    return result


def _luma(image: Image.Image) -> Image.Image:
    """Mode L: luma 0.299R + 0.587G + 0.114B rounded by Pillow, alpha ignored, palette looked up."""
    if image.mode == "L":
        return image
    if image.mode == "YCbCr":
        return image.getchannel(0)
    if image.mode in ("P", "PA"):
        return image.convert("RGB").convert("L")
    return image.convert("L")


def _scale_of(reduced: tuple[int, int], full_size: tuple[int, int]) -> int:
    """The JPEG scale s (2, 4 or 8) at which a full_size image decodes to `reduced` (ceil(side / s))."""
    for scale in _SCALES:
        if all(-(-f // scale) == r for f, r in zip(full_size, reduced, strict=True)):
            return scale
    raise ValueError(f"image size {reduced} is not a 1/s reduction of the full size {full_size}")


def fast_buffer(image: Image.Image, full_size: tuple[int, int]) -> F32:
    """The 64x64 float32 PDQ buffer of a `full_size` image from `image`, its full or draft-reduced decode.

    A full-size image that is large is reduced here first (Pillow `reduce`, C code, box means).
    """
    if min(full_size) < MIN_HASHABLE_SIDE:
        return np.zeros((64, 64), dtype=np.float32)
    luma = _luma(image)
    if image.size == full_size:
        scale = reduction_scale(full_size, OTHER_MIN_REDUCED_SIDE)
        if scale > 1:
            luma = luma.reduce(scale)
    else:
        scale = _scale_of(image.size, full_size)
    rows = row_operator(full_size[1], scale)
    cols = row_operator(full_size[0], scale)
    buffer: F32 = (rows @ np.asarray(luma, dtype=np.float32)) @ cols.T
    return buffer


def decode_for_fast(
    data: bytes, jpeg_min_side: int = JPEG_MIN_REDUCED_SIDE
) -> tuple[Image.Image, tuple[int, int]]:
    """Decode the first frame, JPEG at a reduced scale in luma only; returns (image, full size).

    No size or time limits: for tests and benchmarks. Untrusted bytes go through tutela.media.
    """
    image = Image.open(io.BytesIO(data))
    full_size = image.size
    request = draft_size(full_size, jpeg_min_side)
    if image.format == "JPEG":
        image.draft("L", request)
    image.load()
    return image, full_size


def fast_hash(data: bytes, jpeg_min_side: int = JPEG_MIN_REDUCED_SIDE) -> tuple[bytes, int]:
    """PDQ hash bytes and quality of encoded image bytes, in fast mode (no decode limits)."""
    image, full_size = decode_for_fast(data, jpeg_min_side)
    return hash_and_quality(fast_buffer(image, full_size))
