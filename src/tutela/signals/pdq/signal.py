"""The `pdq` signal type: Meta's 256-bit perceptual photo hash with a 0-100 quality.

Values are 64 lower-case hex digits; distance is the Hamming distance. Two hasher variants exist and every
extracted signal records which one made it: `pdq-reference/1` reproduces Meta's C++ tool bit for bit (images
above 512 px resized to 512x512 first), `pdq-fast/1` approximates a full-resolution hash (what HMA and most
banks hold) from a DCT-domain reduced JPEG decode, within a few bits, at a fraction of the cost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from tutela.errors import InvalidSignal
from tutela.signals.base import Comparison, Signal

DEFAULT_THRESHOLD = 31
_HEX64 = re.compile(r"[0-9a-f]{64}")


class PdqMode(StrEnum):
    """Which PDQ hasher to run."""

    FAST = "fast"
    REFERENCE = "reference"


VARIANTS = {PdqMode.FAST: "pdq-fast/1", PdqMode.REFERENCE: "pdq-reference/1"}


def hamming(a: bytes, b: bytes) -> int:
    """Number of differing bits between two equal-length byte strings."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


@dataclass(frozen=True)
class PdqSignalType:
    """Validation, comparison and examples for PDQ values."""

    name: str = "pdq"

    def validate(self, value: str) -> str:
        canonical = value.strip().lower()
        if not _HEX64.fullmatch(canonical):
            raise InvalidSignal(f"pdq value must be 64 hex digits (256 bits), got {value[:80]!r}")
        return canonical

    def compare(self, a: str, b: str, threshold: int | None = None) -> Comparison:
        limit = DEFAULT_THRESHOLD if threshold is None else threshold
        distance = hamming(bytes.fromhex(self.validate(a)), bytes.fromhex(self.validate(b)))
        return Comparison(match=distance <= limit, distance=distance)

    def examples(self) -> Sequence[str]:
        return [
            "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22",
            "f" * 64,
            "0" * 64,
        ]


PDQ = PdqSignalType()


def pdq_signal(hash_bytes: bytes, quality: int, mode: PdqMode) -> Signal:
    """A Signal for a computed hash, recording the hasher variant."""
    return Signal(type=PDQ.name, value=hash_bytes.hex(), quality=quality, variant=VARIANTS[mode])
