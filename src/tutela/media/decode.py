"""Safe decoding of untrusted media.

Order of checks: byte size, magic bytes, header (dimensions, mode, frame count) against the limits, and only
then metadata and pixel decoding, each under the time limit. Nothing is decoded from a header that claims too
many pixels or frames, so a decompression bomb costs a header parse. Only the first frame of an animation is
decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image, ImageFile, UnidentifiedImageError

from tutela.errors import CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedMedia
from tutela.media.deadline import deadline
from tutela.media.limits import MediaLimits
from tutela.media.sniff import MediaFormat, sniff

# Tutela checks pixels itself (max_media_pixels) before decoding, with its own error and setting name.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False

_EXIF_ORIENTATION = 0x0112
_REUSED = frozenset({MediaFormat.JPEG, MediaFormat.PNG})
"""Formats whose header-checked image `Media.image()` decodes rather than opening the data again: a JPEG
header costs ~50 us to parse twice (of ~4 ms per upload), and reading a PNG's EXIF in `open_media` already
decoded it when its eXIf chunk may follow the pixels (Pillow loads the image to look): decoding it again cost
a second full decode. Other formats are opened afresh, as reading their frame count or EXIF may have moved
the reader (a GIF seeks through every frame)."""
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2}


def _register_optional_codecs() -> None:
    """HEIF through pillow-heif when its wheel is installed; AVIF is built into Pillow >= 11.2."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - depends on the platform's wheels
        pass


_register_optional_codecs()


@dataclass(slots=True)
class Media:
    """A header-checked image: metadata now, pixels on demand (`image()`), never more than the limits."""

    data: bytes = field(repr=False)
    format: MediaFormat
    width: int
    height: int
    mode: str
    frames: int
    orientation: int | None
    limits: MediaLimits = field(repr=False)
    opened: Image.Image | None = field(default=None, repr=False, compare=False)
    """The image `open_media` read the header of, for the first `image()` to decode (`_REUSED`)."""

    def image(self, draft: tuple[int, int] | None = None, *, luma: bool = False) -> Image.Image:
        """Decode the first frame; `draft` lets JPEG decode at 1/2-1/8 scale in the DCT domain.

        With a draft size the returned image may be smaller than (width, height), never smaller than draft.
        `luma` asks a colour JPEG for its Y channel only (mode L), skipping chroma upsampling and colour
        conversion; other formats and modes are decoded as stored. Raises CorruptMedia for truncated or
        malformed data, DecodeTimeout past the time limit.
        """
        with deadline(self.limits.max_decode_seconds):
            try:
                image = self.opened
                self.opened = None
                if image is None:
                    image = Image.open(io.BytesIO(self.data), formats=[self.format.value])
                if self.format is MediaFormat.JPEG and (draft is not None or luma):
                    wants_luma = luma and image.mode in ("RGB", "YCbCr", "L")
                    image.draft("L" if wants_luma else image.mode, draft or image.size)
                image.load()
            except (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError) as exc:
                raise CorruptMedia(f"{self.format.value} data is truncated or malformed: {exc}") from exc
        return image


def open_media(data: bytes, limits: MediaLimits) -> Media:
    """Check `data` against the limits and read its header; raises a MediaError subclass on refusal.

    The header read runs under the decode time limit (DecodeTimeout), after the size and frame limits
    and only then reading EXIF: for a PNG whose eXIf chunk is not before its pixel data (most PNGs have
    none), Pillow decodes the whole image to look for one after it, and counting a GIF's frames reads
    every frame.
    """
    if not data:
        raise EmptyMedia("empty content (0 bytes)")
    if len(data) > limits.max_media_bytes:
        raise MediaTooLarge("size in bytes", len(data), limits.max_media_bytes, "max_media_bytes")
    media_format = sniff(data)
    if media_format is None:
        raise UnsupportedMedia(
            f"unrecognised content (first bytes {data[:8].hex()}); supported formats: "
            + ", ".join(f.value for f in MediaFormat)
        )
    try:
        with deadline(limits.max_decode_seconds):
            image = Image.open(io.BytesIO(data), formats=[media_format.value])
            width, height = image.size
            _check_size(width, height, image.mode, limits)
            frames = int(getattr(image, "n_frames", 1))
            if frames > limits.max_media_frames:
                raise MediaTooLarge("frame count", frames, limits.max_media_frames, "max_media_frames")
            orientation = image.getexif().get(_EXIF_ORIENTATION)
    except (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError) as exc:
        raise CorruptMedia(f"{media_format.value} header is malformed: {exc}") from exc
    return Media(
        data=data,
        format=media_format,
        width=width,
        height=height,
        mode=image.mode,
        frames=frames,
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else None,
        limits=limits,
        opened=image if media_format in _REUSED else None,
    )


def _check_size(width: int, height: int, mode: str, limits: MediaLimits) -> None:
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"header declares an empty image ({width}x{height})")
    pixels = width * height
    if pixels > limits.max_media_pixels:
        raise MediaTooLarge(
            f"pixel count ({width}x{height})", pixels, limits.max_media_pixels, "max_media_pixels"
        )
    decoded = pixels * _BYTES_PER_PIXEL.get(mode, 4)
    if decoded > limits.max_decoded_bytes:
        raise MediaTooLarge(
            f"decoded size in bytes ({width}x{height} {mode})",
            decoded,
            limits.max_decoded_bytes,
            "max_decoded_bytes",
        )
