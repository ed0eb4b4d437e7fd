"""PdqIndex multi-index hashing: exactly the scan's results (ids, banks, distances, order); its memory."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tutela.matching import PdqHits, PdqIndex
from tutela.matching import kernels as k
from tutela.matching.pdq_index import MIH_MAX_QUERIES

U8 = npt.NDArray[np.uint8]
LQ = 8


def correlated(n: int, rng: np.random.Generator) -> U8:
    """As bench/matching.py: sign bits of a fixed 256x16 projection of 16-dimensional gaussians."""
    proj = np.random.default_rng(20240601).standard_normal((256, 16)).astype(np.float32)
    return np.packbits(rng.standard_normal((n, 16), dtype=np.float32) @ proj.T > 0, axis=1)


def data(kind: str, n: int, rng: np.random.Generator) -> U8:
    return correlated(n, rng) if kind == "correlated" else rng.integers(0, 256, (n, 32), dtype=np.uint8)


def flip(h: U8, nbits: int, rng: np.random.Generator) -> U8:
    bits = np.unpackbits(h)
    bits[rng.choice(256, nbits, replace=False)] ^= 1
    return np.packbits(bits)


def lists(hits: list[PdqHits]) -> list[tuple[list[int], list[int], list[int]]]:
    return [(h.entry_ids.tolist(), h.bank_ids.tolist(), h.distances.tolist()) for h in hits]


class Counting:
    """Wraps kernels.mih_query to count the segment probes it answered (True) and handed back (False)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answered = 0
        self.declined = 0
        self.inner = k.mih_query
        monkeypatch.setattr(k, "mih_query", self)

    def __call__(self, *args: Any) -> tuple[npt.NDArray[np.int64], bool]:
        out, ok = self.inner(*args)
        if ok:
            self.answered += 1
        else:
            self.declined += 1
        return out, ok


def both(index: PdqIndex, queries: U8, qlq: npt.NDArray[np.bool_]) -> tuple[list[Any], list[Any]]:
    index.mih = False
    scan = lists(index.query(queries, qlq))
    index.mih = True
    mih = lists(index.query(queries, qlq))
    return scan, mih


def planted(db: U8, rng: np.random.Generator, max_d: int) -> U8:
    """One query per distance 0..max_d, each a random stored row with that many bits flipped."""
    return np.array([flip(db[rng.integers(len(db))], d, rng) for d in range(max_d + 1)])


BANK_SETS = [
    [(0, True)],
    [(8, True), (0, True), (31, False)],  # loosest enabled 8; a disabled looser bank
    [(31, True), (8, True), (40, False)],
    [(40, True), (31, True), (0, True)],  # radius 40: two bits per chunk
    [(47, True), (8, True)],  # the largest radius the tables serve
    [(48, True), (31, True)],  # radius 48: every segment falls back to the scan
    [(31, False)],  # no enabled bank
]


@pytest.mark.parametrize("kind", ["uniform", "correlated"])
@pytest.mark.parametrize("banks", range(len(BANK_SETS)))
@pytest.mark.parametrize("fraction", [1 / 128, 1 / 8, 1.0])
def test_mih_equals_scan(kind: str, banks: int, fraction: float, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng([banks, int(fraction * 8), kind == "uniform"])
    counting = Counting(monkeypatch)
    index = PdqIndex(low_quality_threshold=LQ, threads=1, mih=True)
    index._mih_min_rows = 1000
    index._mih_sync_build = True
    index._mih_candidate_fraction = fraction
    cfg = BANK_SETS[banks]
    for b, (thr, on) in enumerate(cfg):
        index.set_bank(100 + b, threshold=thr, enabled=on)

    def add(n: int) -> U8:
        first = (index._store.last_id() or 0) + 1
        ids = first + np.cumsum(rng.integers(1, 4, n))
        db = data(kind, n, rng)
        index.add(ids, 100 + rng.integers(0, len(cfg), n), db, rng.random(n) < 0.2)
        return db

    db = add(3000)  # one sealed segment with tables
    for _ in range(3):  # then a growing segment (scanned)
        db = np.vstack([db, add(100)])
    ids = index._store.sealed[0].ids
    for i in rng.choice(3000, 150, replace=False).tolist():
        index.set_enabled(int(ids[i]), False)
    for i in rng.choice(3000, 40, replace=False).tolist():
        index.remove(int(ids[i]))  # below the compaction ratio: rows stay, flagged removed

    def check() -> None:
        queries = planted(db, rng, 50)
        qlq = rng.random(len(queries)) < 0.3
        scan, mih = both(index, queries, qlq)
        assert mih == scan
        for size in range(1, MIH_MAX_QUERIES + 2):  # small batches (MIH) and one above the limit
            for a in range(0, len(queries) - size + 1, 7):
                s, m = both(index, queries[a : a + size], qlq[a : a + size])
                assert m == s == scan[a : a + size]
        for q, lq, expected in zip(queries, qlq.tolist(), scan, strict=True):
            index.mih = True
            assert lists([index.query_one(q.tobytes(), lq)]) == [expected]

    check()
    assert index._store.sealed[0].mih is not None or not any(on for _, on in cfg)
    # Changes after the tables were built: flags, a bank switch, a new sealed segment and new growing rows.
    for i in rng.choice(3000, 100, replace=False).tolist():
        index.set_enabled(int(ids[i]), bool(rng.random() < 0.5))
    thr, on = cfg[-1]
    index.set_bank(100 + len(cfg) - 1, threshold=thr, enabled=not on)
    db = np.vstack([db, add(2500), add(50)])
    check()
    if any(on for _, on in cfg) and max(t for t, on in cfg if on) <= 47 and fraction == 1.0:
        assert counting.answered > 0
        assert counting.declined == 0
    if max((t for t, on in cfg if on), default=0) >= 48:
        assert counting.declined > 0  # low-quality queries (radius 8) still use the tables


def test_mih_tables_sorted_and_memory_counted() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    db = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    index = PdqIndex(threads=1, mih=True)
    index._mih_min_rows = 1000
    index._mih_sync_build = True
    index.set_bank(1, threshold=31, enabled=True)
    index.add(np.arange(n), np.ones(n, np.int64), db)
    before = index.nbytes
    assert [h.entry_ids.tolist() for h in index.query(db[:2])] == [[0], [1]]
    assert index.nbytes - before == 16 * n * 4 + 16 * 65537 * 4
    seg = index._store.sealed[0]
    assert seg.mih is not None
    offsets, rows = seg.mih
    words = seg.words
    for c in range(16):
        chunk = (words[c // 4] >> np.uint64(16 * (c % 4))) & np.uint64(0xFFFF)
        assert sorted(rows[c].tolist()) == list(range(n))
        assert np.all(np.diff(chunk[rows[c]].astype(np.int64)) >= 0)
        counts = np.bincount(chunk.astype(np.int64), minlength=65536)
        assert offsets[c].tolist() == [0, *np.cumsum(counts).tolist()]


def test_mih_skips_small_and_growing_segments() -> None:
    rng = np.random.default_rng(4)
    index = PdqIndex(threads=1, mih=True)
    index.set_bank(1, threshold=31, enabled=True)
    db = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    index.add(np.arange(3000), np.ones(3000, np.int64), db)
    index.query(db[:1])
    assert index._store.sealed[0].mih is None  # below MIH_MIN_ROWS
    index._mih_min_rows = 10
    index._mih_sync_build = True
    index.add(np.array([5000]), np.ones(1, np.int64), db[:1])
    assert [h.entry_ids.tolist() for h in index.query(db[:1])] == [[0, 5000]]
    growing = index._store.growing
    assert growing is not None
    assert growing.mih is None  # words may still be appended
    assert index._store.sealed[0].mih is not None


def test_mih_queries_while_the_index_changes() -> None:
    """Concurrent MIH queries, table builds and mutations: results stay a consistent view."""
    rng = np.random.default_rng(5)
    db = rng.integers(0, 256, (12000, 32), dtype=np.uint8)
    index = PdqIndex(threads=1, mih=True)
    index._mih_min_rows = 1000
    index.set_bank(1, threshold=31, enabled=True)
    index.add(np.arange(3000), np.ones(3000, np.int64), db[:3000])
    errors: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        try:
            for a in range(3000, 12000, 1500):  # each add seals a new segment; the last ones merge
                index.add(np.arange(a, a + 1500), np.ones(1500, np.int64), db[a : a + 1500])
                index.set_enabled(7, False)
                index.set_enabled(7, True)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def read() -> None:
        try:
            while not stop.is_set():
                for row, hits in zip([0, 7, 2999], index.query(db[[0, 7, 2999]]), strict=True):
                    assert hits.entry_ids.tolist() in ([], [row])
                assert index.query_one(db[0].tobytes()).entry_ids.tolist() == [0]
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    writer = threading.Thread(target=write)
    for t in [*readers, writer]:
        t.start()
    for t in [writer, *readers]:
        t.join()
    assert not errors
    rows = [0, 7, 4500, 11999]
    for _ in range(500):  # tables are built in the background; queries scan until they are there
        assert [h.entry_ids.tolist() for h in index.query(db[rows])] == [[r] for r in rows]
        if all(seg.mih is not None for seg in index._store.sealed):
            break
        time.sleep(0.01)
    assert all(seg.mih is not None for seg in index._store.sealed)
    assert not index._mih_building
    assert [h.entry_ids.tolist() for h in index.query(db[rows])] == [[r] for r in rows]
