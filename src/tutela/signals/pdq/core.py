"""The shared back half of PDQ: 64x64 luma buffer -> 16x16 DCT -> hash bits, dihedral variants, quality.

Both hasher variants (reference and fast) produce a 64x64 float32 luma buffer and hand it here, so they
cannot disagree on anything but the buffer. Arithmetic is float32 like Meta's C++ reference (pdqhashing.cpp).

Bit layout (as the reference): coefficient (i, j) of the 16x16 DCT block is bit k = 16*i + j; bit k lives in
16-bit word k // 16 at position k % 16; the hex string prints word 15 first, each word as 4 hex digits.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

HASH_BYTES = 32
HASH_BITS = 256


def _dct_matrix() -> F32:
    """16x64 DCT-II rows 1..16 (the DC row is skipped), scaled by sqrt(2/64), in float32."""
    scale = math.sqrt(2.0 / 64.0)
    out = np.empty((16, 64), dtype=np.float32)
    for i in range(16):
        for j in range(64):
            out[i, j] = np.float32(scale * math.cos((math.pi / 2 / 64.0) * (i + 1) * (2 * j + 1)))
    return out


DCT16x64: F32 = _dct_matrix()


def dct16(buffer64: F32) -> F32:
    """16x16 low-frequency DCT block of a 64x64 buffer: D @ B @ D^T."""
    return (DCT16x64 @ buffer64.astype(np.float32, copy=False) @ DCT16x64.T).astype(np.float32)


def bits_from_dct(dct: F32) -> npt.NDArray[np.bool_]:
    """256 bits, bit k = 16*i + j set when coefficient (i, j) exceeds the median of all 256."""
    flat = dct.reshape(256)
    median = np.float32(np.sort(flat)[127])  # torben median of 256 values: the lower middle one
    return flat > median


def hash_bytes_from_bits(bits: npt.NDArray[np.bool_]) -> bytes:
    """32 bytes in hex-string order (the first byte holds bits 255..248)."""
    words = np.packbits(bits.reshape(16, 16)[:, ::-1], axis=1).reshape(16, 2)
    return words[::-1].reshape(32).tobytes()


def dihedral_dcts(dct: F32) -> list[F32]:
    """The 16x16 DCT blocks of the 8 dihedral images, in the reference tool's order.

    Order: original, rotated 90 ccw, 180, 270 ccw, flipped top-bottom, mirrored left-right, transposed,
    anti-transposed. Mirroring a row negates the odd-frequency coefficients; transposing transposes the block.
    """
    sign = np.where(np.arange(16) % 2 == 0, np.float32(-1.0), np.float32(1.0)).astype(np.float32)
    # Frequency index is i + 1, so even i means odd frequency: those flip sign under a mirror.
    flip_rows = dct * sign[:, None]  # flip top-bottom
    flip_cols = dct * sign[None, :]  # mirror left-right
    both = dct * sign[:, None] * sign[None, :]
    return [
        dct,
        flip_rows.T,  # rotate 90 ccw = transpose then flip top-bottom
        both,
        flip_cols.T,
        flip_rows,
        flip_cols,
        dct.T,
        both.T,
    ]


def quality(buffer64: F32) -> int:
    """Gradient-sum quality 0..100 of the 64x64 buffer: low for flat images, whose hashes are noise."""
    b = buffer64.astype(np.float32, copy=False)
    dv = np.abs(((b[:-1, :] - b[1:, :]) * np.float32(100.0)) / np.float32(255.0)).astype(np.int64)
    dh = np.abs(((b[:, :-1] - b[:, 1:]) * np.float32(100.0)) / np.float32(255.0)).astype(np.int64)
    gradient_sum = int(dv.sum() + dh.sum())
    return min(100, gradient_sum // 90)


def hash_and_quality(buffer64: F32) -> tuple[bytes, int]:
    """Hash bytes and quality from a 64x64 float32 luma buffer."""
    return hash_bytes_from_bits(bits_from_dct(dct16(buffer64))), quality(buffer64)
