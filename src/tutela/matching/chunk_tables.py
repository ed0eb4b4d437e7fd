"""Multi-index hashing tables for a sealed segment: a query reads a few thousand rows instead of all of them.

Why: one query against a scanned segment streams 16 bytes of every row (1.6-2.3 ms at 1M rows, most of the
index's cost in an upload lookup), and concurrent uploads rarely arrive together to share a scan. Multi-index
hashing (Norouzi, Punjani, Fleet, CVPR 2012) cuts the 256 bits into 16 chunks of 16 bits: two hashes within
distance d differ by at most d // 16 bits in at least one chunk (pigeonhole), so every match sits in a bucket
of some chunk's table at most `d // 16` bits away from the query's chunk. For threshold 31 that is the
query's own bucket and its 16 one-bit neighbours in each of the 16 tables: 272 buckets, about 4,200 rows at
1M uniformly random rows, each verified in full. Measured at 1M uniform rows, one thread: 0.21 ms against
1.6-1.8 ms for the head-first scan.

The answer stays exact: candidates are verified with the full distance and the same `accept` rule as the
scan, and a row reached through several chunks is reported once, from the first chunk within the radius.
Clustered hashes (real PDQ banks are not uniform) fill some buckets far beyond the average, so a query first
adds up the sizes of its buckets and the caller scans the segment instead when that exceeds its limit.

Cost: 64 bytes per row (one uint32 row number per chunk, rows sorted by chunk value) plus 4 MiB of bucket
offsets per segment, which is why tables are optional and built only for large sealed segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from tutela.matching.kernels import I64, Rule, accept, append, popcount, prefetch

__all__ = ["CHUNKS", "MAX_RADIUS", "ChunkTables", "build_tables", "probe_batch", "probe_sizes"]

CHUNKS = 16
CHUNK_BITS = 16
BUCKETS = 1 << CHUNK_BITS
MAX_RADIUS = 2
"""Largest per-chunk radius probed (thresholds up to 47); beyond it the buckets cover most rows anyway."""


def _near_masks() -> npt.NDArray[np.uint64]:
    """Every 16-bit mask with at most MAX_RADIUS bits set, by bit count (1, 17, 137 within radius 0-2)."""
    masks = sorted(range(BUCKETS), key=lambda m: (m.bit_count(), m))
    return np.array([m for m in masks if m.bit_count() <= MAX_RADIUS], dtype=np.uint64)


NEAR_MASKS = _near_masks()
MASKS_WITHIN = np.array([sum(1 for m in NEAR_MASKS.tolist() if m.bit_count() <= r) for r in range(3)])
"""MASKS_WITHIN[r]: how many of NEAR_MASKS are within radius r."""


@dataclass(frozen=True, slots=True)
class ChunkTables:
    """`order[t]`: the segment's rows sorted by chunk t; rows of chunk value v are `offsets[t, v:v + 2]`."""

    offsets: npt.NDArray[np.uint32]  # (CHUNKS, BUCKETS + 1)
    order: npt.NDArray[np.uint32]  # (CHUNKS, rows)

    @property
    def nbytes(self) -> int:
        return self.offsets.nbytes + self.order.nbytes


@njit(nogil=True, cache=True, inline="always")
def _chunk(words: npt.NDArray[np.uint64], t: int, row: int) -> int:
    """Chunk t (bits 16 * (t % 4) .. of word t // 4) of a row of (4, n) words."""
    return int((words[t >> 2, row] >> np.uint64(CHUNK_BITS * (t & 3))) & np.uint64(BUCKETS - 1))


@njit(nogil=True, cache=True, inline="always")
def _qchunk(query: npt.NDArray[np.uint64], t: int) -> int:
    return int((query[t >> 2] >> np.uint64(CHUNK_BITS * (t & 3))) & np.uint64(BUCKETS - 1))


@njit(nogil=True, cache=True)
def _build(
    words: npt.NDArray[np.uint64], n: int, offsets: npt.NDArray[np.uint32], order: npt.NDArray[np.uint32]
) -> None:
    """Counting sort of rows 0..n by each chunk, into zeroed `offsets` and `order`."""
    for t in range(CHUNKS):
        bounds = offsets[t]
        for r in range(n):
            bounds[_chunk(words, t, r) + 1] += 1
        for v in range(BUCKETS):
            bounds[v + 1] += bounds[v]
        fill = bounds[:BUCKETS].copy()
        for r in range(n):
            v = _chunk(words, t, r)
            order[t, fill[v]] = r
            fill[v] += 1


def build_tables(words: npt.NDArray[np.uint64], n: int) -> ChunkTables:
    """Tables for rows 0..n of (4, capacity) word columns (n < 2**32).

    The arrays are numpy's, not allocated inside the kernel: numpy asks for transparent huge pages on large
    arrays (numba's allocator does not), and a probe's scattered reads then miss the TLB far less: at 1M
    rows, 240-290 against 300-360 us per query warm, 420-590 against 510-710 us after 64 MB of other
    memory was touched."""
    offsets = np.zeros((CHUNKS, BUCKETS + 1), dtype=np.uint32)
    order = np.empty((CHUNKS, n), dtype=np.uint32)
    _build(words, n, offsets, order)
    return ChunkTables(offsets, order)


@njit(nogil=True, cache=True)
def probe_sizes(offsets: npt.NDArray[np.uint32], queries: npt.NDArray[np.uint64], qmax: I64) -> I64:
    """Rows each query's buckets hold (with repeats across chunks); -1 where its radius is too wide."""
    sizes = np.empty(queries.shape[0], dtype=np.int64)
    for j in range(queries.shape[0]):
        radius = qmax[j] // CHUNKS
        if qmax[j] < 0 or radius > MAX_RADIUS:
            sizes[j] = -1
            continue
        total = 0
        for t in range(CHUNKS):
            base = _qchunk(queries[j], t)
            for m in range(MASKS_WITHIN[radius]):
                v = base ^ int(NEAR_MASKS[m])
                total += int(offsets[t, v + 1]) - int(offsets[t, v])
        sizes[j] = total
    return sizes


@njit(nogil=True, cache=True)
def probe_batch(
    words: npt.NDArray[np.uint64], offsets: npt.NDArray[np.uint32], order: npt.NDArray[np.uint32], rule: Rule
) -> I64:
    """Matches of every query of `rule` through the tables; (n, 3) int64 rows (query, row, distance), as
    `scan_batch` returns them.

    Every query's radius must be at most MAX_RADIUS (`probe_sizes` is not -1). A query's candidates are
    gathered first with their head words prefetched, then verified: the misses overlap instead of queueing.
    """
    slots, flags, queries, qmax, qlq, bank_thr, bank_on, lq_thr = rule
    out = np.empty((256, 3), dtype=np.int64)
    k = 0
    head0 = words[0]
    head1 = words[1]
    cand = np.empty(4096, dtype=np.int64)
    chunk_of = np.empty(4096, dtype=np.int64)
    for j in range(queries.shape[0]):
        q = queries[j]
        qm = qmax[j]
        radius = qm // CHUNKS
        nc = 0
        for t in range(CHUNKS):
            base = _qchunk(q, t)
            for m in range(MASKS_WITHIN[radius]):
                v = base ^ int(NEAR_MASKS[m])
                lo = int(offsets[t, v])
                hi = int(offsets[t, v + 1])
                if nc + hi - lo > cand.shape[0]:
                    size = max(cand.shape[0] * 2, nc + hi - lo)
                    cand = np.concatenate((cand[:nc], np.empty(size - nc, dtype=np.int64)))
                    chunk_of = np.concatenate((chunk_of[:nc], np.empty(size - nc, dtype=np.int64)))
                for p in range(lo, hi):
                    r = int(order[t, p])
                    prefetch(head0, r)
                    prefetch(head1, r)
                    cand[nc] = r
                    chunk_of[nc] = t
                    nc += 1
        for c in range(nc):
            r = cand[c]
            d = popcount(head0[r] ^ q[0]) + popcount(head1[r] ^ q[1])
            if d > qm:
                continue
            d += popcount(words[2, r] ^ q[2]) + popcount(words[3, r] ^ q[3])
            if d > qm:
                continue
            first = chunk_of[c]
            for t in range(first):  # reported from its first chunk within the radius only
                if popcount(np.uint64(_chunk(words, t, r) ^ _qchunk(q, t))) <= radius:
                    first = -1
                    break
            if first >= 0 and accept(r, d, qlq[j], slots, flags, bank_thr, bank_on, lq_thr):
                out, k = append(out, k, j, r, d)
    return out[:k]
