"""Exact-digest lookup (md5, sha1, sha256): digest -> entries, with the same bank and entry switches as PDQ.

A dictionary is the right structure here: lookups are O(1), and these lists are small enough that memory is
not the constraint it is for PDQ. Entries are keyed by (signal type, digest), so equal bytes of different
digest types never meet. The semantics mirror `PdqIndex` with distance always 0: an entry matches when it
and its bank are enabled.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class ExactHits:
    """Matches of one digest, sorted by entry id."""

    entry_ids: npt.NDArray[np.int64]
    bank_ids: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.entry_ids.shape[0])


@dataclass(slots=True)
class _Entry:
    key: tuple[str, bytes]  # (signal type, digest)
    bank_id: int
    enabled: bool


class ExactIndex:
    """Digest -> bank entries; see the module docstring."""

    def __init__(self) -> None:
        self._by_digest: dict[tuple[str, bytes], list[int]] = {}
        self._entries: dict[int, _Entry] = {}
        self._banks: dict[int, bool] = {}
        self._types: Counter[str] = Counter()
        self._lock = threading.Lock()

    def set_bank(self, bank_id: int, *, enabled: bool) -> None:
        """Create or update a bank; entries can only be added to banks set here."""
        with self._lock:
            self._banks[bank_id] = enabled

    def add(self, entries: Iterable[tuple[int, int, str, bytes]]) -> None:
        """Add (entry_id, bank_id, signal type, digest), enabled; an id already present is an error."""
        with self._lock:
            for entry_id, bank_id, signal_type, digest in entries:
                if bank_id not in self._banks:
                    raise ValueError(f"unknown bank id {bank_id}: call set_bank first")
                if entry_id in self._entries:
                    raise ValueError(f"entry id {entry_id} is already in the index")
                key = (signal_type, bytes(digest))
                self._entries[entry_id] = _Entry(key, bank_id, True)
                self._by_digest.setdefault(key, []).append(entry_id)
                self._types[signal_type] += 1

    def set_enabled(self, entry_id: int, enabled: bool) -> bool:
        """Enable or disable one entry; False if the id is unknown."""
        entry = self._entries.get(entry_id)
        if entry is None:
            return False
        entry.enabled = enabled
        return True

    def remove(self, entry_id: int) -> bool:
        """Remove one entry; False if the id is unknown."""
        with self._lock:
            entry = self._entries.pop(entry_id, None)
            if entry is None:
                return False
            ids = self._by_digest[entry.key]
            ids.remove(entry_id)
            if not ids:
                del self._by_digest[entry.key]
            self._types[entry.key[0]] -= 1
            return True

    def holds(self, signal_type: str) -> bool:
        """Whether any entry (enabled or not) is of `signal_type`: a caller may skip computing a digest
        that could match nothing (an upload lookup skips MD5 when no bank holds one)."""
        return self._types[signal_type] > 0

    def query(self, signal_type: str, digest: bytes) -> ExactHits:
        """Enabled entries of enabled banks whose digest of `signal_type` equals `digest`."""
        found = []
        for entry_id in tuple(self._by_digest.get((signal_type, bytes(digest)), ())):
            entry = self._entries.get(entry_id)
            if entry is not None and entry.enabled and self._banks.get(entry.bank_id, False):
                found.append((entry_id, entry.bank_id))
        found.sort()
        return ExactHits(
            np.array([e for e, _ in found], dtype=np.int64),
            np.array([b for _, b in found], dtype=np.int64),
        )

    def query_many(self, signal_type: str, digests: Iterable[bytes]) -> list[ExactHits]:
        return [self.query(signal_type, d) for d in digests]

    def __len__(self) -> int:
        return len(self._entries)
