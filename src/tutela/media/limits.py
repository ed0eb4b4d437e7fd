"""Decoding limits as a small picklable value, taken from Settings, handed to worker processes."""

from __future__ import annotations

from dataclasses import dataclass

from tutela.settings import Settings


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """The limits one decode runs under; each field mirrors the setting of the same name."""

    max_media_bytes: int
    max_media_pixels: int
    max_media_frames: int
    max_decoded_bytes: int
    max_decode_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        return cls(
            max_media_bytes=settings.max_media_bytes,
            max_media_pixels=settings.max_media_pixels,
            max_media_frames=settings.max_media_frames,
            max_decoded_bytes=settings.max_decoded_bytes,
            max_decode_seconds=settings.max_decode_seconds,
        )
