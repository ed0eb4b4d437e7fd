"""Safe decoding: every kind of garbage gets its typed error, and every supported mode decodes."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from tests import malformed
from tutela.demo.images import picture
from tutela.errors import CorruptMedia, DecodeTimeout, EmptyMedia, MediaTooLarge, UnsupportedMedia
from tutela.media import MediaFormat, MediaLimits, open_media, sniff


def test_zero_bytes_is_empty_media(limits: MediaLimits) -> None:
    with pytest.raises(EmptyMedia, match="0 bytes"):
        open_media(b"", limits)


def test_text_file_named_jpg_is_unsupported(limits: MediaLimits) -> None:
    with pytest.raises(UnsupportedMedia, match="unrecognised content"):
        open_media(b"this is a text file, whatever its name says\n", limits)


def test_wrong_magic_is_unsupported(limits: MediaLimits) -> None:
    data = bytearray(malformed.jpeg())
    data[0:3] = b"\x00\x00\x00"
    with pytest.raises(UnsupportedMedia):
        open_media(bytes(data), limits)


@pytest.mark.parametrize("build", [malformed.jpeg, malformed.png])
def test_truncated_image_is_corrupt(build: object, limits: MediaLimits) -> None:
    assert callable(build)
    data = malformed.truncated(build((640, 480)), 0.3)
    with pytest.raises(CorruptMedia):
        open_media(data, limits).image()


def test_truncated_header_is_corrupt(limits: MediaLimits) -> None:
    with pytest.raises(CorruptMedia):
        open_media(malformed.jpeg()[:20], limits)


def test_header_claiming_huge_dimensions_refused_before_decoding(limits: MediaLimits) -> None:
    with pytest.raises(MediaTooLarge, match="100000x100000") as info:
        open_media(malformed.png_header_only(100_000, 100_000), limits)
    assert info.value.setting == "max_media_pixels"
    assert "TUTELA_MAX_MEDIA_PIXELS" in str(info.value)


def test_real_decompression_bomb_refused(limits: MediaLimits) -> None:
    bomb = malformed.png_bomb()
    assert len(bomb) < 1_000_000
    with pytest.raises(MediaTooLarge, match="pixel count"):
        open_media(bomb, limits)


def test_decompressed_size_limit(limits: MediaLimits) -> None:
    tight = dataclasses.replace(limits, max_decoded_bytes=1000)
    with pytest.raises(MediaTooLarge, match="decoded size") as info:
        open_media(malformed.png((100, 100)), tight)
    assert info.value.limit == 1000


def test_gif_with_10000_frames_refused(limits: MediaLimits) -> None:
    with pytest.raises(MediaTooLarge, match="frame count") as info:
        open_media(malformed.gif_frames(10_000), limits)
    assert info.value.value == 10_000


def test_gif_frames_counted_and_first_frame_decoded(limits: MediaLimits) -> None:
    media = open_media(malformed.gif_frames(3), limits)
    assert media.format is MediaFormat.GIF
    assert media.frames == 3
    assert media.image().size == (1, 1)


def test_byte_limit(limits: MediaLimits) -> None:
    tight = dataclasses.replace(limits, max_media_bytes=100)
    with pytest.raises(MediaTooLarge, match="size in bytes"):
        open_media(malformed.jpeg(), tight)


def test_format_from_magic_not_name(limits: MediaLimits) -> None:
    assert open_media(malformed.png(), limits).format is MediaFormat.PNG
    assert sniff(malformed.jpeg()) is MediaFormat.JPEG


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("WEBP", MediaFormat.WEBP),
        ("BMP", MediaFormat.BMP),
        ("TIFF", MediaFormat.TIFF),
        ("GIF", MediaFormat.GIF),
        ("AVIF", MediaFormat.AVIF),
        ("HEIF", MediaFormat.HEIF),
    ],
)
def test_formats_sniffed_and_decoded(fmt: str, expected: MediaFormat, limits: MediaLimits) -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, fmt)
    media = open_media(out.getvalue(), limits)
    assert media.format is expected
    assert media.image().size == (40, 30)


@pytest.mark.parametrize(
    "mode", ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I;16", "I", "F"]
)
def test_every_mode_decodes(mode: str, limits: MediaLimits) -> None:
    image = Image.new(mode, (33, 17))
    out = io.BytesIO()
    fmt = {"CMYK": "JPEG", "YCbCr": "JPEG", "F": "TIFF", "I": "TIFF", "PA": "WEBP"}.get(mode, "PNG")
    if mode == "PA":
        image = image.convert("RGBA")
    image.save(out, fmt)
    media = open_media(out.getvalue(), limits)
    assert media.image().size == (33, 17)


def test_exif_orientation_recorded(limits: MediaLimits) -> None:
    image = Image.new("RGB", (32, 16), "navy")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    media = open_media(out.getvalue(), limits)
    assert media.orientation == 6
    assert media.image().size == (32, 16)  # stored pixels, not rotated


def _rotated() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif


@pytest.mark.parametrize("where", ["before", "after"])
def test_png_exif_orientation_recorded_before_or_after_the_pixels(where: str, limits: MediaLimits) -> None:
    out = io.BytesIO()
    if where == "before":
        Image.new("RGB", (32, 16), "navy").save(out, "PNG", exif=_rotated())  # Pillow writes eXIf first
        data = out.getvalue()
    else:
        Image.new("RGB", (32, 16), "navy").save(out, "PNG")
        data = malformed.png_exif_after_pixels(out.getvalue(), _rotated().tobytes())
    kinds = [kind for kind, _ in malformed.png_chunks(data)]
    assert (kinds.index(b"eXIf") < kinds.index(b"IDAT")) == (where == "before")
    media = open_media(data, limits)
    assert media.orientation == 6
    assert media.image().size == (32, 16)


def _slow_png(exif: Image.Exif | None) -> bytes:
    """640x640 grey noise whose pixel data is cut into 1-byte IDAT chunks: over a second to decode."""
    pixels = np.random.default_rng(11).integers(0, 256, (640, 640), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", **({} if exif is None else {"exif": exif}))
    return malformed.png_slow_to_decode(out.getvalue())


def test_png_header_read_that_decodes_stops_at_the_decode_time_limit(limits: MediaLimits) -> None:
    """Without an eXIf chunk before the pixels, reading the EXIF decodes the image: under the time limit."""
    tight = dataclasses.replace(limits, max_decode_seconds=0.1)
    with pytest.raises(DecodeTimeout, match="TUTELA_MAX_DECODE_SECONDS"):
        open_media(_slow_png(None), tight)


def test_png_with_exif_before_its_pixels_is_not_decoded_by_the_header_read(limits: MediaLimits) -> None:
    tight = dataclasses.replace(limits, max_decode_seconds=0.1)
    media = open_media(_slow_png(_rotated()), tight)
    assert media.orientation == 6
    with pytest.raises(DecodeTimeout):
        media.image()


def test_jpeg_draft_decodes_reduced(limits: MediaLimits) -> None:
    media = open_media(malformed.jpeg((1920, 1080)), limits)
    assert media.image(draft=(240, 135)).size == (240, 135)


def test_jpeg_luma_decode(limits: MediaLimits) -> None:
    media = open_media(malformed.jpeg((640, 480)), limits)
    assert media.image(luma=True).mode == "L"
    assert media.image(draft=(160, 120), luma=True).size == (160, 120)
    assert media.image().mode == "RGB"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF"])
def test_header_checked_image_decoded_once_as_a_fresh_one(fmt: str, limits: MediaLimits) -> None:
    """A JPEG's or PNG's header-checked image is what the first `image()` decodes, with the pixels a fresh
    decode gives (reduced and luma-only too); later calls, and other formats, open the data again."""
    out = io.BytesIO()
    picture(5, (640, 480)).save(out, fmt)
    media = open_media(out.getvalue(), limits)
    assert (media.opened is not None) == (fmt != "GIF")

    def decode() -> Image.Image:
        return media.image(draft=(160, 120), luma=True) if fmt == "JPEG" else media.image()

    first = decode()
    assert media.opened is None
    assert first.tobytes() == decode().tobytes()
    assert first.size == ((160, 120) if fmt == "JPEG" else (640, 480))
