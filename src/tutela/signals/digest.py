"""Exact cryptographic digests of the raw bytes (MD5, SHA-1, SHA-256).

Many hash lists (NCMEC's among them) are MD5 or SHA-1: they catch only byte-identical copies, but cost nothing
to check. The three types differ only in algorithm and length, so they share this one implementation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tutela.errors import InvalidSignal
from tutela.signals.base import Comparison, Signal


@dataclass(frozen=True)
class DigestSignalType:
    """A hex digest of the raw bytes with hashlib algorithm `algorithm`; distance is 0 or 1."""

    name: str
    algorithm: str
    hex_length: int

    def validate(self, value: str) -> str:
        canonical = value.strip().lower()
        if len(canonical) != self.hex_length or not re.fullmatch(r"[0-9a-f]+", canonical):
            raise InvalidSignal(f"{self.name} value must be {self.hex_length} hex digits, got {value[:80]!r}")
        return canonical

    def compare(self, a: str, b: str, threshold: int | None = None) -> Comparison:
        same = self.validate(a) == self.validate(b)
        return Comparison(match=same, distance=0 if same else 1)

    def examples(self) -> Sequence[str]:
        return [hashlib.new(self.algorithm, text).hexdigest() for text in (b"", b"tutela")]

    def from_bytes(self, data: bytes) -> Signal:
        return Signal(type=self.name, value=hashlib.new(self.algorithm, data).hexdigest())
