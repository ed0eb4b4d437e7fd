"""The shared back half of PDQ: 64x64 luma buffer -> 16x16 DCT -> hash bits, dihedral variants, quality.

Both hasher variants (reference and fast) produce a 64x64 float32 luma buffer and hand it here, so they
cannot disagree on anything but the buffer. Hashes must match Meta's C++ reference (pdqhashing.cpp) bit for
bit, and a coefficient that sits within a rounding error of the median flips a bit, so the arithmetic is
float32 in the reference's own order: the DCT is two sequential float32 dot-product loops (a BLAS matmul
sums in a different order), compiled with numba without fastmath so nothing is reassociated or fused.

Bit layout (as the reference): coefficient (i, j) of the 16x16 DCT block is bit k = 16*i + j; bit k lives in
16-bit word k // 16 at position k % 16; the hex string prints word 15 first, each word as 4 hex digits.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

F32 = npt.NDArray[np.float32]

HASH_BYTES = 32
HASH_BITS = 256


def _dct_matrix() -> F32:
    """16x64 DCT-II rows 1..16 (the DC row is skipped), as the reference builds it.

    The reference rounds the scale sqrt(2/64) to float32 first, multiplies it by a double cosine, and rounds
    the product to float32; math.cos is the C library's cos, as in the reference.
    """
    scale = float(np.float32(math.sqrt(2.0 / 64.0)))
    out = np.empty((16, 64), dtype=np.float32)
    for i in range(16):
        for j in range(64):
            out[i, j] = np.float32(scale * math.cos((math.pi / 2.0 / 64.0) * (i + 1) * (2 * j + 1)))
    return out


DCT16x64: F32 = _dct_matrix()


@njit(cache=True)
def _dct16_kernel(a: F32, d: F32) -> F32:  # pragma: no cover - compiled
    """B = (D A) D^T with each dot product summed left to right in float32, as the reference loops do."""
    t = np.empty((16, 64), dtype=np.float32)
    for i in range(16):
        for j in range(64):
            s = np.float32(0.0)
            for k in range(64):
                s += d[i, k] * a[k, j]
            t[i, j] = s
    b = np.empty((16, 16), dtype=np.float32)
    for i in range(16):
        for j in range(16):
            s = np.float32(0.0)
            for k in range(64):
                s += t[i, k] * d[j, k]
            b[i, j] = s
    return b


def dct16(buffer64: F32) -> F32:
    """16x16 low-frequency DCT block of a 64x64 buffer: D @ B @ D^T in the reference's summation order."""
    return _dct16_kernel(np.ascontiguousarray(buffer64, dtype=np.float32), DCT16x64)


def bits_from_dct(dct: F32) -> npt.NDArray[np.bool_]:
    """256 bits, bit k = 16*i + j set when coefficient (i, j) is strictly greater than the median.

    The reference's median (Torben's algorithm) of 256 values is the 128th smallest, the lower middle one.
    """
    flat = dct.reshape(256)
    median = np.partition(flat, 127)[127]
    return flat > median  # type: ignore[no-any-return]


def hash_bytes_from_bits(bits: npt.NDArray[np.bool_]) -> bytes:
    """32 bytes in hex-string order (the first byte holds bits 255..248)."""
    words = np.packbits(bits.reshape(16, 16)[:, ::-1], axis=1).reshape(16, 2)
    return words[::-1].reshape(32).tobytes()


def dihedral_dcts(dct: F32) -> list[F32]:
    """The 16x16 DCT blocks of the 8 dihedral images, in the reference tool's order.

    Order: original, rotated 90 ccw, 180, 270 ccw, flipped top-bottom, mirrored left-right, transposed,
    anti-transposed. Reversing the rows negates the odd-frequency rows of the block (frequency is i + 1,
    so even i), reversing the columns does the same to columns, and transposing the image transposes the
    block; the rotations compose these. Pure sign flips and transposes, so no rounding is involved.
    """
    sign = np.where(np.arange(16) % 2 == 0, np.float32(-1.0), np.float32(1.0)).astype(np.float32)
    flip_rows = dct * sign[:, None]  # flipped top-bottom
    flip_cols = dct * sign[None, :]  # mirrored left-right
    both = flip_rows * sign[None, :]  # rotated 180
    return [
        dct,
        np.ascontiguousarray(flip_cols.T),  # rotate 90 ccw = mirror left-right, then transpose
        both,
        np.ascontiguousarray(flip_rows.T),  # rotate 270 ccw = flip top-bottom, then transpose
        flip_rows,
        flip_cols,
        np.ascontiguousarray(dct.T),
        np.ascontiguousarray(both.T),
    ]


def quality(buffer64: F32) -> int:
    """Gradient-sum quality 0..100 of the 64x64 buffer: low for flat images, whose hashes are noise.

    Each neighbour difference is scaled by 100 then divided by 255 in float32 and truncated toward zero
    before summing, as in the reference, so small gradients count for nothing.
    """
    b = np.asarray(buffer64, dtype=np.float32)
    dv = (((b[:-1, :] - b[1:, :]) * np.float32(100.0)) / np.float32(255.0)).astype(np.int64)
    dh = (((b[:, :-1] - b[:, 1:]) * np.float32(100.0)) / np.float32(255.0)).astype(np.int64)
    gradient_sum = int(np.abs(dv).sum() + np.abs(dh).sum())
    return min(100, gradient_sum // 90)


def hash_and_quality(buffer64: F32) -> tuple[bytes, int]:
    """Hash bytes and quality from a 64x64 float32 luma buffer."""
    return hash_bytes_from_bits(bits_from_dct(dct16(buffer64))), quality(buffer64)


def dihedral_hashes(buffer64: F32) -> list[bytes]:
    """The 8 dihedral hashes of a 64x64 buffer, in the order of `dihedral_dcts`."""
    return [hash_bytes_from_bits(bits_from_dct(d)) for d in dihedral_dcts(dct16(buffer64))]
