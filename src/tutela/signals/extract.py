"""Every signal Tutela extracts from one piece of content, in one call shared by CLI, scan and service.

Exact digests come from the raw bytes and need no decoding, so a file that cannot be decoded (a video, a
corrupt image) can still match an MD5 or SHA-1 list; the PDQ error is reported beside those signals.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace

from tutela.errors import MediaError, MediaTooLarge
from tutela.media import MediaLimits, open_media
from tutela.signals.base import Signal, reduce_by_fields
from tutela.signals.md5 import MD5
from tutela.signals.pdq.hasher import PdqResult, hash_media
from tutela.signals.pdq.signal import PDQ, PdqMode, pdq_signal
from tutela.signals.sha1 import SHA1
from tutela.signals.sha256 import SHA256

DIGESTS = (MD5, SHA1, SHA256)
BUT_SHA256 = (PDQ.name, MD5.name, SHA1.name)
"""Every type `extract` computes except SHA-256, for callers that already hold it (`with_sha256`)."""


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What the header said: kept with the signals, never the pixels."""

    format: str
    width: int
    height: int
    frames: int
    orientation: int | None

    __reduce__ = reduce_by_fields


@dataclass(frozen=True, slots=True)
class Extraction:
    """Signals of one content item; `error` says why PDQ is missing when it is."""

    signals: tuple[Signal, ...]
    media: MediaInfo | None = None
    pdq: PdqResult | None = None
    error: str | None = None
    error_type: str | None = field(default=None)

    __reduce__ = reduce_by_fields

    def signal(self, signal_type: str) -> Signal | None:
        return next((s for s in self.signals if s.type == signal_type), None)

    def with_sha256(self, hex_digest: str) -> Extraction:
        """This extraction (made with `types=BUT_SHA256`) with the SHA-256 its caller computed, last, where
        `extract` puts it. The pipeline hashes content for its idempotency key before extracting, and the
        decoder hashing it again cost ~0.1 ms per item."""
        return replace(self, signals=(*self.signals, Signal(SHA256.name, hex_digest)))


def extract(
    data: bytes,
    limits: MediaLimits,
    *,
    pdq_mode: PdqMode = PdqMode.FAST,
    dihedral: bool = False,
    types: Collection[str] | None = None,
) -> Extraction:
    """Digests of `data`, and PDQ when it decodes within the limits; never raises a MediaError.

    `types` limits the work to those signal type names (all when None): without "pdq" nothing is decoded.
    """
    if len(data) > limits.max_media_bytes:
        error = MediaTooLarge("size in bytes", len(data), limits.max_media_bytes, "max_media_bytes")
        return Extraction(signals=(), error=str(error), error_type=type(error).__name__)
    digests = tuple(d.from_bytes(data) for d in DIGESTS if types is None or d.name in types)
    if types is not None and PDQ.name not in types:
        return Extraction(signals=digests)
    try:
        media = open_media(data, limits)
        result = hash_media(media, pdq_mode, dihedral=dihedral)
    except MediaError as exc:
        return Extraction(signals=digests, error=str(exc), error_type=type(exc).__name__)
    info = MediaInfo(media.format.value, media.width, media.height, media.frames, media.orientation)
    signal = pdq_signal(result.hash, result.quality, pdq_mode)
    return Extraction(signals=(signal, *digests), media=info, pdq=result)
