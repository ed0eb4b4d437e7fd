"""Row storage for the PDQ index: exactly sized sealed segments plus one growing segment of bounded capacity.

Why segments: a single array grown by doubling wastes up to half its memory, and the budget is 40 bytes per
entry with the slack included. A bulk load becomes one sealed segment of exactly its size; small appends
fill a growing segment whose capacity is about 1/64 of the index (so slack stays under one byte per entry);
when it fills it is sealed, and when too many sealed segments pile up they are merged, which also drops
removed rows.

Why no per-entry dict: entry ids are database primary keys and arrive in increasing order, so every segment's
`ids` column is sorted and the segments are ordered; an id is found by two binary searches.

Sealed segments of at least `table_min_rows` rows get multi-index hashing tables (`chunk_tables.py`) when the
store is given that option: sealed rows never move, so tables built once stay valid (flags are read from the
segment when candidates are verified).

Readers never lock: `snapshot()` returns the segments with their current sizes. Appends write rows past a
reader's size before publishing the new size, and sealing or merging builds new arrays instead of editing old
ones. Flag changes are single-byte writes, visible to the next query.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tutela.matching.chunk_tables import ChunkTables, build_tables
from tutela.matching.kernels import FLAG_REMOVED

MIN_GROWING_ROWS = 1024
MAX_GROWING_ROWS = 1 << 16
GROWING_FRACTION = 64  # growing capacity is about live rows / 64: slack below 40/64 bytes per entry
MAX_SEALED = 8  # merge all sealed segments when there are more than this many


@dataclass(slots=True)
class Segment:
    """Rows in id order: `words` (4, capacity) uint64 columns of the hash, and one value per row."""

    words: npt.NDArray[np.uint64]
    ids: npt.NDArray[np.uint32]
    slots: npt.NDArray[np.uint16]
    flags: npt.NDArray[np.uint8]
    size: int
    tables: ChunkTables | None = None

    @classmethod
    def empty(cls, capacity: int) -> Segment:
        return cls(
            words=np.empty((4, capacity), dtype=np.uint64),
            ids=np.empty(capacity, dtype=np.uint32),
            slots=np.empty(capacity, dtype=np.uint16),
            flags=np.empty(capacity, dtype=np.uint8),
            size=0,
        )

    @property
    def capacity(self) -> int:
        return int(self.ids.shape[0])

    @property
    def nbytes(self) -> int:
        columns = self.words.nbytes + self.ids.nbytes + self.slots.nbytes + self.flags.nbytes
        return columns + (self.tables.nbytes if self.tables is not None else 0)


def _concat(parts: list[Segment], keep_removed: bool) -> Segment:
    """One exactly sized segment from the used rows of `parts`, optionally without removed rows."""
    keep = [
        np.ones(p.size, dtype=bool) if keep_removed else (p.flags[: p.size] & FLAG_REMOVED) == 0
        for p in parts
    ]
    n = int(sum(int(m.sum()) for m in keep))
    words = np.empty((4, n), dtype=np.uint64)
    words[:] = np.concatenate([p.words[:, : p.size][:, m] for p, m in zip(parts, keep, strict=True)], axis=1)
    return Segment(
        words=words,
        ids=np.concatenate([p.ids[: p.size][m] for p, m in zip(parts, keep, strict=True)]),
        slots=np.concatenate([p.slots[: p.size][m] for p, m in zip(parts, keep, strict=True)]),
        flags=np.concatenate([p.flags[: p.size][m] for p, m in zip(parts, keep, strict=True)]),
        size=n,
    )


class SegmentStore:
    """The ordered segments of one index; mutations are serialised by the caller."""

    def __init__(self, table_min_rows: int | None = None) -> None:
        self.table_min_rows = table_min_rows
        self.sealed: list[Segment] = []
        self.growing: Segment | None = None
        self.rows = 0  # rows stored, removed ones included
        self.removed = 0

    def last_id(self) -> int | None:
        for seg in ([self.growing] if self.growing else []) + self.sealed[::-1]:
            if seg.size:
                return int(seg.ids[seg.size - 1])
        return None

    def append(self, segment: Segment) -> None:
        """Append an exactly sized batch of rows (ids already checked to follow every stored id)."""
        n = segment.size
        g = self.growing
        if g is not None and g.size + n <= g.capacity:
            s = g.size
            g.words[:, s : s + n] = segment.words
            g.ids[s : s + n] = segment.ids
            g.slots[s : s + n] = segment.slots
            g.flags[s : s + n] = segment.flags
            g.size = s + n  # published last: readers see whole rows only
        elif g is None and n < self._growing_capacity():
            g = Segment.empty(self._growing_capacity())
            self.growing = g
            self.append(segment)
            return
        else:
            parts = [g, segment] if g is not None and g.size else [segment]
            self.sealed.append(self._sealed(_concat(parts, keep_removed=True) if len(parts) > 1 else segment))
            self.growing = None
            if len(self.sealed) > MAX_SEALED:
                self.compact()
        self.rows += n

    def compact(self) -> None:
        """Merge every segment into one exactly sized sealed segment without removed rows."""
        parts = [s for s in self.sealed + ([self.growing] if self.growing else []) if s.size]
        self.sealed = [self._sealed(_concat(parts, keep_removed=False))] if parts else []
        self.growing = None
        self.rows -= self.removed
        self.removed = 0

    def _sealed(self, segment: Segment) -> Segment:
        """`segment` with chunk tables when it is large enough and the store builds them."""
        if self.table_min_rows is not None and segment.size >= self.table_min_rows:
            segment.tables = build_tables(segment.words, segment.size)
        return segment

    def _growing_capacity(self) -> int:
        return min(MAX_GROWING_ROWS, max(MIN_GROWING_ROWS, (self.rows - self.removed) // GROWING_FRACTION))

    def segments(self) -> list[Segment]:
        return self.sealed + ([self.growing] if self.growing is not None else [])

    def snapshot(self) -> list[tuple[Segment, int]]:
        return [(s, s.size) for s in self.segments() if s.size]

    def find(self, entry_id: int) -> tuple[Segment, int] | None:
        """The segment and row holding `entry_id` (removed rows included), by binary search."""
        segs = [s for s in self.segments() if s.size]
        firsts = [int(s.ids[0]) for s in segs]
        i = bisect.bisect_right(firsts, entry_id) - 1
        if i < 0:
            return None
        seg = segs[i]
        row = int(np.searchsorted(seg.ids[: seg.size], entry_id))
        if row < seg.size and int(seg.ids[row]) == entry_id:
            return seg, row
        return None

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.segments())
