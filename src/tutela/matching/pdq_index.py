"""Exact PDQ range search over every enabled bank, each at its own threshold.

Contract: a query returns every enabled entry of every enabled bank whose Hamming distance is at most the
bank's threshold (at most `min(threshold, low_quality_threshold)` when the entry or the query is low quality),
with the distance; nothing is pruned approximately, so recall is 1.0. Adding, disabling, enabling or removing
an entry and changing a bank are visible to the next query, with no rebuild, so the index can follow the bank
change feed. Dihedral matching is the caller's: query the eight variants as one batch.

Memory is about 39 bytes per entry (32 hash + 4 id + 2 bank slot + 1 flags) plus bounded growth slack;
`nbytes` reports every byte held for entries. With `chunk_tables=True`, large sealed segments also get
multi-index hashing tables (`chunk_tables.py`, 64 more bytes per entry), through which a single query reads a
few thousand rows instead of scanning all of them when the hashes are spread out; a query whose buckets are
crowded scans as before, so the answer and its worst case do not change.

Entry ids must be below 2**32 and added in increasing order (database primary keys); see `segments.py`.

Threads: batches are split by query across `threads` workers, a single query by rows; the kernels release the
GIL. Queries may run concurrently with each other and with mutations; mutations are serialised by a lock.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tutela.matching import chunk_tables as ct
from tutela.matching import kernels as k
from tutela.matching.segments import Segment, SegmentStore
from tutela.ops.thread_names import name_this_thread

MAX_BANKS = 1 << 16  # bank slots are uint16
MAX_THRESHOLD = 256
PARALLEL_MIN_ROWS = 1 << 16  # below this, thread hand-off costs more than it saves
TABLE_MIN_ROWS = 1 << 16
"""Sealed segments this large get chunk tables when the index builds them: 4 MiB of bucket offsets per
segment is at most 64 bytes per row here, and a smaller segment scans in ~0.1 ms anyway."""
PROBE_ROWS_PER_CANDIDATE = 32  # one query probes when its candidates are at most 1/32 of the segment's rows
PROBE_ROWS_PER_CANDIDATE_BATCH = 128  # ... and a query of a batch at most 1/128 (see PdqIndex._plan)
Words = npt.NDArray[np.uint64]


class _BankTable(NamedTuple):
    ids: npt.NDArray[np.int64]
    thr: npt.NDArray[np.int64]
    on: npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class PdqHits:
    """Matches of one query, sorted by distance then entry id."""

    entry_ids: npt.NDArray[np.int64]
    bank_ids: npt.NDArray[np.int64]
    distances: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.entry_ids.shape[0])


def _as_words(hashes: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """(n, 32) uint8 hashes as (n, 4) uint64; the word byte order is irrelevant to Hamming distance."""
    arr = np.ascontiguousarray(hashes)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != 32:
        raise ValueError(f"PDQ hashes must be an (n, 32) uint8 array, got {arr.dtype} {arr.shape}")
    words = arr.view(np.uint64)
    # One compiled kernel signature: numba types aligned and read-only arrays apart (bytes give read-only).
    return words if words.flags.aligned and words.flags.writeable else words.copy()


def _flags_of(low_quality: npt.ArrayLike | None, n: int) -> npt.NDArray[np.bool_]:
    if low_quality is None:
        return np.zeros(n, dtype=bool)
    lq = np.asarray(low_quality, dtype=bool)
    if lq.shape != (n,):
        raise ValueError(f"low_quality must have shape ({n},), got {lq.shape}")
    return lq


class PdqIndex:
    """In-memory exact PDQ index for all banks; see the module docstring for the contract."""

    def __init__(
        self, *, low_quality_threshold: int = 8, threads: int | None = None, chunk_tables: bool = False
    ) -> None:
        if not 0 <= low_quality_threshold <= MAX_THRESHOLD:
            raise ValueError(
                f"low_quality_threshold must be in 0..{MAX_THRESHOLD}, got {low_quality_threshold}"
            )
        self.low_quality_threshold = low_quality_threshold
        self.threads = max(1, threads if threads is not None else len(os.sched_getaffinity(0)))
        self.chunk_tables = chunk_tables
        self._store = SegmentStore(TABLE_MIN_ROWS if chunk_tables else None)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._slot_of: dict[int, int] = {}
        # slot -> (bank id, threshold, enabled), swapped as one tuple when a bank is added
        self._banks = _BankTable(
            np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
        )

    # -- banks and entries -------------------------------------------------------------------------------

    def set_bank(self, bank_id: int, *, threshold: int, enabled: bool) -> None:
        """Create or update a bank; entries can only be added to banks set here."""
        if not 0 <= threshold <= MAX_THRESHOLD:
            raise ValueError(f"bank {bank_id}: threshold must be in 0..{MAX_THRESHOLD}, got {threshold}")
        with self._lock:
            slot = self._slot_of.get(bank_id)
            if slot is None:
                if len(self._slot_of) >= MAX_BANKS:
                    raise ValueError(f"at most {MAX_BANKS} banks per index")
                slot = len(self._slot_of)
                self._slot_of[bank_id] = slot
                # A new table, swapped in one assignment: a running query keeps the one it started with.
                old = self._banks
                self._banks = _BankTable(
                    np.append(old.ids, bank_id),
                    np.append(old.thr, threshold),
                    np.append(old.on, np.uint8(enabled)),
                )
            else:
                self._banks.thr[slot] = threshold
                self._banks.on[slot] = enabled

    def add(
        self,
        entry_ids: npt.ArrayLike,
        bank_ids: npt.ArrayLike,
        hashes: npt.ArrayLike,
        low_quality: npt.ArrayLike | None = None,
    ) -> None:
        """Append enabled entries; ids must be strictly increasing and above every id already added."""
        words = _as_words(hashes)
        n = words.shape[0]
        ids = np.asarray(entry_ids, dtype=np.int64)
        banks = np.asarray(bank_ids, dtype=np.int64)
        if ids.shape != (n,) or banks.shape != (n,):
            raise ValueError(f"entry_ids and bank_ids must have shape ({n},)")
        lq = _flags_of(low_quality, n)
        if n == 0:
            return
        if ids[0] < 0 or ids[-1] >= 1 << 32 or (n > 1 and bool(np.any(np.diff(ids) <= 0))):
            raise ValueError("entry ids must be strictly increasing and in 0..2**32-1")
        with self._lock:
            last = self._store.last_id()
            if last is not None and int(ids[0]) <= last:
                raise ValueError(f"entry id {int(ids[0])} is not above the last id added ({last})")
            unknown = set(np.unique(banks).tolist()) - self._slot_of.keys()
            if unknown:
                raise ValueError(f"unknown bank ids {sorted(unknown)[:5]}: call set_bank first")
            known = np.array(sorted(self._slot_of), dtype=np.int64)
            slot_of_known = np.array([self._slot_of[b] for b in known.tolist()], dtype=np.uint16)
            seg = Segment(
                words=np.ascontiguousarray(words.T),
                ids=ids.astype(np.uint32),
                slots=slot_of_known[np.searchsorted(known, banks)],
                flags=np.where(lq, k.FLAG_ENABLED | k.FLAG_LOW_QUALITY, k.FLAG_ENABLED).astype(np.uint8),
                size=n,
            )
            self._store.append(seg)

    def set_enabled(self, entry_id: int, enabled: bool) -> bool:
        """Enable or disable one entry (false-positive control); False if the id is unknown or removed."""
        with self._lock:
            found = self._store.find(entry_id)
            if found is None or found[0].flags[found[1]] & k.FLAG_REMOVED:
                return False
            seg, row = found
            f = int(seg.flags[row])
            seg.flags[row] = (f | k.FLAG_ENABLED) if enabled else (f & ~k.FLAG_ENABLED)
            return True

    def remove(self, entry_id: int) -> bool:
        """Remove one entry for good; its row is reclaimed at the next merge. False if unknown."""
        with self._lock:
            found = self._store.find(entry_id)
            if found is None or found[0].flags[found[1]] & k.FLAG_REMOVED:
                return False
            seg, row = found
            seg.flags[row] = k.FLAG_REMOVED
            self._store.removed += 1
            if self._store.removed * 32 > self._store.rows:
                self._store.compact()
            return True

    def compact(self) -> None:
        """Merge every row into one segment (dropping removed rows), with chunk tables if the index builds
        them. Call it after a bulk load that came in several `add` calls: each call's rows are a segment of
        their own, and segments below TABLE_MIN_ROWS are scanned. Queries go on meanwhile."""
        with self._lock:
            self._store.compact()

    def __len__(self) -> int:
        return self._store.rows - self._store.removed

    @property
    def nbytes(self) -> int:
        """Every byte held for entries: segment columns at capacity (growth slack included) and bank table."""
        banks = self._banks
        return self._store.nbytes + banks.ids.nbytes + banks.thr.nbytes + banks.on.nbytes

    # -- queries -----------------------------------------------------------------------------------------

    def query_one(self, hash32: bytes, low_quality: bool = False) -> PdqHits:
        """Matches of one 32-byte PDQ hash; the scan of the rows is split across threads."""
        return self.query(np.frombuffer(hash32, dtype=np.uint8).reshape(1, 32), [low_quality])[0]

    def query(self, hashes: npt.ArrayLike, low_quality: npt.ArrayLike | None = None) -> list[PdqHits]:
        """Matches of each row of an (n, 32) uint8 array, in order."""
        q = _as_words(hashes)
        qlq = _flags_of(low_quality, q.shape[0])
        # Rows first, then the bank table: every row's bank slot existed before the row was added, so the
        # table read afterwards covers every slot the kernels will index.
        snap = self._store.snapshot()
        bank_ids, bank_thr, bank_on = self._banks
        live = bank_thr[bank_on != 0]
        if q.shape[0] == 0 or live.size == 0:
            return _split([], q.shape[0], bank_ids)
        loosest = int(live.max())
        qmax = np.where(qlq, min(loosest, self.low_quality_threshold), loosest).astype(np.int64)
        n = q.shape[0]
        plans = self._plan(snap, q, qmax)
        # One list of tasks per worker; the calling thread runs the first list itself (one hand-off fewer).
        # A lone query's probes run here whatever their segment's size, so only its scanned rows count: a
        # hand-off to workers with nothing to do cost ~30 us and two thread wake-ups per upload lookup.
        workers: list[list[Task]]
        shared = sum(size for _, size, _, probe in plans if not (probe and n == 1))
        if self.threads == 1 or shared < PARALLEL_MIN_ROWS:
            workers = [[(seg, 0, size, sel, probe) for seg, size, sel, probe in plans]]
        elif n == 1:  # one query: probes run here, every worker takes a share of every scanned segment's rows
            workers = [[] for _ in range(self.threads)]
            for seg, size, sel, probe in plans:
                if probe:
                    workers[0].append((seg, 0, size, sel, True))
                    continue
                cuts = np.linspace(0, size, self.threads + 1).astype(int).tolist()
                for w, (lo, hi) in enumerate(itertools.pairwise(cuts)):
                    workers[w].append((seg, lo, hi, sel, False))
        else:  # a batch: split the queries, each worker scans all rows block by block or probes
            workers = [[] for _ in range(self.threads)]
            for seg, size, sel, probe in plans:
                for w, part in enumerate(np.array_split(sel, min(self.threads, sel.size))):
                    workers[w].append((seg, 0, size, part, probe))
            workers = [tasks for tasks in workers if tasks]

        def run(tasks: list[Task]) -> list[Found]:
            found = []
            for seg, lo, hi, sel, probe in tasks:
                qs, qm, ql = (q, qmax, qlq) if sel.size == n else (q[sel], qmax[sel], qlq[sel])
                if probe:
                    assert seg.tables is not None
                    rule = (seg.slots, seg.flags, qs, qm, ql, bank_thr, bank_on, self.low_quality_threshold)
                    out = ct.probe_batch(seg.words, seg.tables.offsets, seg.tables.order, rule)
                else:
                    out = k.scan_batch(
                        seg.words, lo, hi, seg.slots, seg.flags, qs, qm, ql,
                        bank_thr, bank_on, self.low_quality_threshold,
                    )  # fmt: skip
                if sel.size != n:
                    out[:, 0] = sel[out[:, 0]]
                found.append((seg, out))
            return found

        if len(workers) == 1:
            return _split(run(workers[0]), n, bank_ids)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.threads - 1, thread_name_prefix="tutela-pdq", initializer=name_this_thread
            )
        others = [self._pool.submit(run, tasks) for tasks in workers[1:]]
        found = run(workers[0])
        for fut in others:
            found += fut.result()
        return _split(found, n, bank_ids)

    @staticmethod
    def _plan(snap: list[tuple[Segment, int]], q: Words, qmax: k.I64) -> list[Plan]:
        """Per segment, the queries that probe its chunk tables and those that scan it.

        A query probes when its buckets hold few enough rows that reading them at random beats streaming
        the segment: about 50 ns per candidate against ~1.7 ns per scanned row for one query, and a third
        of that per row in a batch, whose queries share each block of rows (measured, 1M rows).
        """
        n = q.shape[0]
        every = np.arange(n)
        plans: list[Plan] = []
        for seg, size in snap:
            if seg.tables is None:
                plans.append((seg, size, every, False))
                continue
            sizes = ct.probe_sizes(seg.tables.offsets, q, qmax)
            limit = size // (PROBE_ROWS_PER_CANDIDATE if n == 1 else PROBE_ROWS_PER_CANDIDATE_BATCH)
            probe = (sizes >= 0) & (sizes <= limit)
            if probe.any():
                plans.append((seg, size, every[probe], True))
            if not probe.all():
                plans.append((seg, size, every[~probe], False))
        return plans

    def close(self) -> None:
        """Stop the worker threads (they also stop at interpreter exit)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


Found = tuple[Segment, npt.NDArray[np.int64]]
Task = tuple[Segment, int, int, npt.NDArray[np.int64], bool]  # segment, rows lo..hi, queries, probe or scan
Plan = tuple[Segment, int, npt.NDArray[np.int64], bool]  # segment, its rows, queries, probe or scan


def _split(found: list[Found], nq: int, bank_ids: npt.NDArray[np.int64]) -> list[PdqHits]:
    """Kernel output (query, row, distance) per segment -> one sorted PdqHits per query."""
    parts = [(seg, out) for seg, out in found if out.shape[0]]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return [PdqHits(empty, empty, empty)] * nq
    qidx = np.concatenate([out[:, 0] for _, out in parts])
    dist = np.concatenate([out[:, 2] for _, out in parts])
    ids = np.concatenate([seg.ids[out[:, 1]] for seg, out in parts]).astype(np.int64)
    banks = np.concatenate([bank_ids[seg.slots[out[:, 1]]] for seg, out in parts])
    order = np.lexsort((ids, dist, qidx))
    qidx, dist, ids, banks = qidx[order], dist[order], ids[order], banks[order]
    bounds = np.searchsorted(qidx, np.arange(nq + 1)).tolist()
    return [PdqHits(ids[a:b], banks[a:b], dist[a:b]) for a, b in itertools.pairwise(bounds)]
