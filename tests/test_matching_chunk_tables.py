"""Chunk tables (multi-index hashing) answer exactly what the scan answers, and are used when they pay."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tutela.matching import chunk_tables as ct
from tutela.matching import kernels as k
from tutela.matching.pdq_index import TABLE_MIN_ROWS, PdqIndex
from tutela.matching.segments import Segment

from .test_matching_pdq import as_lists, correlated, flip, hamming

U8 = npt.NDArray[np.uint8]


def words_of(hashes: U8) -> npt.NDArray[np.uint64]:
    return np.ascontiguousarray(hashes.view(np.uint64).T)


def test_tables_sort_rows_by_each_chunk() -> None:
    rng = np.random.default_rng(3)
    db = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    db[:50] = db[0]  # repeated rows share buckets
    tables = ct.build_tables(words_of(db), len(db))
    keys = db.view(np.uint16)  # 16 little-endian chunks per row, in chunk order on little-endian machines
    for t in range(ct.CHUNKS):
        order = tables.order[t]
        assert sorted(order.tolist()) == list(range(len(db)))
        assert np.all(np.diff(keys[order, t].astype(np.int64)) >= 0)
        counts = np.bincount(keys[:, t], minlength=ct.BUCKETS)
        assert np.array_equal(np.diff(tables.offsets[t].astype(np.int64)), counts)


@pytest.mark.parametrize("threshold", [0, 15, 16, 31, 47])
@pytest.mark.parametrize("kind", ["uniform", "correlated"])
def test_probe_equals_brute_force_at_every_radius(kind: str, threshold: int) -> None:
    """Probing finds every row within the threshold once, with its distance, and nothing else."""
    rng = np.random.default_rng(threshold)
    n = 3000
    db = correlated(n, rng) if kind == "correlated" else rng.integers(0, 256, (n, 32), dtype=np.uint8)
    # neighbours of row 0 at every distance up to past the threshold, and an exact duplicate
    planted = [flip(db[0], d, rng) for d in range(threshold + 4)] + [db[0]]
    db = np.concatenate([db, np.array(planted)])
    flags = np.full(len(db), k.FLAG_ENABLED, dtype=np.uint8)
    flags[5] = 0  # a disabled row is never reported
    slots = np.zeros(len(db), dtype=np.uint16)
    words = words_of(db)
    tables = ct.build_tables(words, len(db))
    queries = np.array([db[0], flip(db[0], 3, rng), flip(db[5], 1, rng), db[7], flip(db[9], threshold, rng)])
    qmax = np.full(len(queries), threshold, dtype=np.int64)
    assert (ct.probe_sizes(tables.offsets, queries.view(np.uint64), qmax) >= 0).all()
    flags_off = np.zeros(len(queries), dtype=bool)
    rule = (
        slots,
        flags,
        queries.view(np.uint64),
        qmax,
        flags_off,
        np.array([threshold]),
        np.ones(1, np.uint8),
        0,
    )
    out = ct.probe_batch(words, tables.offsets, tables.order, rule)
    got = sorted(map(tuple, out.tolist()))
    want = sorted(
        (j, r, int(d))
        for j, q in enumerate(queries)
        for r, d in enumerate(hamming(db, q).tolist())
        if d <= threshold and flags[r]
    )
    assert got == want
    assert any(j == 0 and d == threshold for j, _, d in want)  # the edge distance was exercised


def test_probe_sizes_marks_radii_too_wide() -> None:
    db = np.random.default_rng(1).integers(0, 256, (100, 32), dtype=np.uint8)
    tables = ct.build_tables(words_of(db), 100)
    q = db[:3].view(np.uint64)
    sizes = ct.probe_sizes(tables.offsets, q, np.array([31, 47, 48]))
    keys = db.view(np.uint16).astype(np.int64)  # (rows, 16 chunks)
    for j, radius in ((0, 1), (1, 2)):  # rows within the radius in each chunk, summed over chunks
        near = np.bitwise_count(keys ^ keys[j]) <= radius
        assert sizes[j] == int(near.sum())
    assert sizes[2] == -1  # threshold 48: radius 3, not probed


def big_index(kind: str, tables: bool, seed: int = 11) -> tuple[PdqIndex, U8, npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    n = TABLE_MIN_ROWS + 4000
    db = correlated(n, rng) if kind == "correlated" else rng.integers(0, 256, (n, 32), dtype=np.uint8)
    ids = np.cumsum(rng.integers(1, 3, n))
    index = PdqIndex(low_quality_threshold=8, threads=1, chunk_tables=tables)
    index.set_bank(1, threshold=31, enabled=True)
    index.set_bank(2, threshold=20, enabled=True)
    index.add(ids, 1 + (ids % 2), db, ids % 7 == 0)
    return index, db, ids


@pytest.mark.parametrize("kind", ["uniform", "correlated"])
def test_index_with_tables_answers_as_without(kind: str) -> None:
    """Same answers, single and batched, through disable, remove, appends and compaction."""
    rng = np.random.default_rng(2)
    plain, db, ids = big_index(kind, tables=False)
    tabled, _, _ = big_index(kind, tables=True)
    assert tabled.nbytes > plain.nbytes + 64 * len(db)
    picks = rng.integers(len(db), size=40).tolist()
    queries = np.array([flip(db[i], int(rng.integers(0, 36)), rng) for i in picks])
    qlq = rng.random(40) < 0.2

    def same() -> None:
        for q, lq in zip(queries, qlq.tolist(), strict=True):
            assert as_lists(tabled.query_one(q.tobytes(), lq)) == as_lists(plain.query_one(q.tobytes(), lq))
        batch_t, batch_p = tabled.query(queries, qlq), plain.query(queries, qlq)
        assert [as_lists(h) for h in batch_t] == [as_lists(h) for h in batch_p]

    same()
    for index in (plain, tabled):
        index.set_enabled(int(ids[3]), False)
        index.remove(int(ids[10]))
        index.set_bank(2, threshold=31, enabled=True)
        index.add(np.array([ids[-1] + 1]), np.array([1]), queries[:1])  # appended: scanned, not in a table
    same()
    tabled.compact()
    same()


def test_spread_out_hashes_probe_and_crowded_ones_scan() -> None:
    rng = np.random.default_rng(4)
    index, db, _ = big_index("uniform", tables=True)
    q = db[:1].view(np.uint64)
    snap = index._store.snapshot()
    assert snap[0][0].tables is not None
    [(_, _, sel, probe)] = index._plan(snap, q, np.array([31]))
    assert probe
    assert sel.tolist() == [0]
    n = TABLE_MIN_ROWS
    crowded = Segment(
        words=words_of(np.repeat(db[:1], n, axis=0)),  # every row in the same buckets
        ids=np.arange(n, dtype=np.uint32),
        slots=np.zeros(n, dtype=np.uint16),
        flags=np.ones(n, dtype=np.uint8),
        size=n,
    )
    crowded.tables = ct.build_tables(crowded.words, n)
    near = flip(db[0], 2, rng)[None].view(np.uint64)
    [(_, _, sel, probe)] = index._plan([(crowded, n)], near, np.array([31]))
    assert not probe
    assert sel.tolist() == [0]
    [(_, _, _, probe)] = index._plan(snap, q, np.array([60]))  # radius 3: beyond the tables
    assert not probe


def test_a_lone_probed_query_stays_on_the_calling_thread() -> None:
    """Probes of one query run where it was asked: a hand-off to idle workers cost more than the probe."""
    rng = np.random.default_rng(5)
    index, db, ids = big_index("uniform", tables=True)
    plain, _, _ = big_index("uniform", tables=False)
    index.threads = plain.threads = 2
    index.add(np.array([ids[-1] + 1]), np.array([1]), db[:1])  # a small scanned segment beside the table
    plain.add(np.array([ids[-1] + 1]), np.array([1]), db[:1])
    query = flip(db[0], 4, rng).tobytes()
    assert as_lists(index.query_one(query)) == as_lists(plain.query_one(query))
    assert index._pool is None
    assert plain._pool is not None  # the scan of every row is shared out
