"""Builders of hostile and malformed media for the bad-input tests (all benign, tiny or generated)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def jpeg(size: tuple[int, int] = (64, 48), colour: str = "steelblue") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def png(size: tuple[int, int] = (64, 48), colour: str = "olive") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height greyscale pixels, with one tiny data chunk."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def png_bomb(side: int = 12_000) -> bytes:
    """A real decompression bomb: side x side grey pixels of zeros, a few hundred KB compressed."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    row = b"\x00" * (side + 1)
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def gif_frames(count: int) -> bytes:
    """A 1x1 GIF with `count` frames, written by hand so that building it costs nothing."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = (
        b"\x21\xf9\x04\x04\x01\x00\x00\x00"  # graphic control: 10 ms delay
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        + b"\x02\x02\x44\x01\x00"  # LZW min code size 2: clear, index 0, end
    )
    return header + frame * count + b"\x3b"


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(1, int(len(data) * keep))]


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, payload) chunks of a PNG, in file order."""
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        chunks.append((data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(kind, payload) for kind, payload in chunks)


def png_slow_to_decode(data: bytes, idat_size: int = 1) -> bytes:
    """`data` (a PNG) with its pixel data cut into IDAT chunks of `idat_size` bytes: a legal PNG whose
    decoder does Python-level work per chunk, so that a small image takes seconds to decode."""
    chunks = png_chunks(data)
    pixels = b"".join(payload for kind, payload in chunks if kind == b"IDAT")
    first = next(i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    cut = [(b"IDAT", pixels[i : i + idat_size]) for i in range(0, len(pixels), idat_size)]
    return png_from_chunks(chunks[:first] + cut + [c for c in chunks[first:] if c[0] != b"IDAT"])


def png_exif_after_pixels(data: bytes, exif: bytes) -> bytes:
    """`data` (a PNG without EXIF) with an eXIf chunk between its pixel data and IEND."""
    chunks = png_chunks(data)
    return png_from_chunks([*chunks[:-1], (b"eXIf", exif), chunks[-1]])
