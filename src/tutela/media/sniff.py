"""Media format from magic bytes, never from the file name or a declared content type.

A file called `cat.jpg` that holds a PNG is a PNG; a text file called `.jpg` is refused. Only formats listed
here reach a decoder, which keeps the attack surface of hostile uploads to a few well-fuzzed codecs.
"""

from __future__ import annotations

from enum import StrEnum


class MediaFormat(StrEnum):
    """Formats Tutela decodes; the value is Pillow's format name."""

    JPEG = "JPEG"
    PNG = "PNG"
    GIF = "GIF"
    WEBP = "WEBP"
    BMP = "BMP"
    TIFF = "TIFF"
    HEIF = "HEIF"
    AVIF = "AVIF"


_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff(data: bytes) -> MediaFormat | None:
    """The format these bytes start with, or None when no supported format matches."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return MediaFormat.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaFormat.PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaFormat.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaFormat.WEBP
    if head[:2] == b"BM" and len(head) >= 26:
        return MediaFormat.BMP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return MediaFormat.TIFF
    if head[4:8] == b"ftyp":
        return _iso_bmff_format(data)
    return None


def _iso_bmff_format(data: bytes) -> MediaFormat | None:
    """HEIF or AVIF from the major brand and compatible brands of the `ftyp` box."""
    box_size = int.from_bytes(data[0:4], "big")
    box = data[8 : min(max(box_size, 16), 256)]
    brands = {box[0:4]} | {box[i : i + 4] for i in range(8, len(box) - 3, 4)}
    if brands & _AVIF_BRANDS:
        return MediaFormat.AVIF
    if brands & _HEIF_BRANDS:
        return MediaFormat.HEIF
    return None
