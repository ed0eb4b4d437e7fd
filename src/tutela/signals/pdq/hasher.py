"""Hash decoded media with either PDQ variant; the one place that knows which variant does what."""

from __future__ import annotations

from dataclasses import dataclass

from tutela.media import Media
from tutela.signals.base import reduce_by_fields
from tutela.signals.pdq import core
from tutela.signals.pdq.signal import VARIANTS, PdqMode


@dataclass(frozen=True, slots=True)
class PdqResult:
    """A PDQ hash with its quality, the variant that made it and, when asked, the 8 dihedral hashes."""

    hash: bytes
    quality: int
    variant: str
    dihedral: tuple[bytes, ...] | None = None

    __reduce__ = reduce_by_fields


def hash_media(media: Media, mode: PdqMode = PdqMode.FAST, *, dihedral: bool = False) -> PdqResult:
    """PDQ of the first frame of `media`; rotations and mirrors come from the DCT block, not re-hashing."""
    if mode is PdqMode.REFERENCE:
        from tutela.signals.pdq.reference import reference_hash

        hash_bytes, quality, variants = reference_hash(media.image())
        return PdqResult(hash_bytes, quality, VARIANTS[mode], tuple(variants) if dihedral else None)
    from tutela.signals.pdq.fast import draft_size, fast_buffer

    full_size = (media.width, media.height)
    buffer = fast_buffer(media.image(draft=draft_size(full_size), luma=True), full_size)
    hash_bytes, quality = core.hash_and_quality(buffer)
    dihedral_hashes = tuple(core.dihedral_hashes(buffer)) if dihedral else None
    return PdqResult(hash_bytes, quality, VARIANTS[mode], dihedral_hashes)
