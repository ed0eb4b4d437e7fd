"""scan_batch at the edges of both filters: head-first (one query per call) and four-word (batches)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tutela.matching import kernels as k

U8 = npt.NDArray[np.uint8]
QMAX = 31
LQ = 8
N = 2 * k.BATCH_BLOCK_ROWS + 700


def flipped(h: U8, head: int, tail: int, rng: np.random.Generator) -> U8:
    """`h` with `head` bits flipped in bytes 0-15 (words 0-1) and `tail` bits flipped in bytes 16-31."""
    bits = np.unpackbits(h)
    bits[rng.choice(128, head, replace=False)] ^= 1
    bits[128 + rng.choice(128, tail, replace=False)] ^= 1
    return np.packbits(bits)


def rows_around(q: U8, rng: np.random.Generator) -> U8:
    """Block 0: pairs at the filter edges among random rows; block 1 and 16 more rows pass the filters."""
    edges = [(31, 0), (31, 1), (30, 1), (32, 0), (0, 31), (0, 32), (16, 15), (16, 16), (0, 0), (8, 0), (9, 0)]
    rows = rng.integers(0, 256, (N, 32), dtype=np.uint8)
    for i, (head, tail) in enumerate(edges * 20):
        rows[i * 5] = flipped(q, head, tail, rng)
    for i in range(k.BATCH_BLOCK_ROWS, 2 * k.BATCH_BLOCK_ROWS + 16):
        head = int(rng.integers(0, QMAX + 1))
        rows[i] = flipped(q, head, int(rng.integers(0, QMAX + 4 - head)), rng)
    return rows


def expected(
    hashes: U8, lo: int, hi: int, slots: npt.NDArray[np.uint16], flags: npt.NDArray[np.uint8],
    queries: U8, qlq: npt.NDArray[np.bool_], bank_thr: npt.NDArray[np.int64], bank_on: npt.NDArray[np.uint8],
) -> list[tuple[int, int, int]]:  # fmt: skip
    """The match rule written as plain numpy over unpacked bits."""
    found = []
    for j, q in enumerate(queries):
        dist = np.unpackbits(hashes[lo:hi] ^ q, axis=1).sum(axis=1)
        rows = np.arange(lo, hi)
        thr = bank_thr[slots[rows]]
        lq_pair = ((flags[rows] & k.FLAG_LOW_QUALITY) != 0) | bool(qlq[j])
        thr = np.where(lq_pair, np.minimum(thr, LQ), thr)
        ok = ((flags[rows] & k.FLAG_ENABLED) != 0) & (bank_on[slots[rows]] != 0) & (dist <= thr)
        found += [(j, int(r), int(d)) for r, d in zip(rows[ok], dist[ok], strict=True)]
    return sorted(found)


@pytest.mark.parametrize("nq", [1, 2, 3, 6])
@pytest.mark.parametrize("seed", [0, 1])
def test_scan_equals_plain_numpy_at_filter_edges(nq: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 256, 32, dtype=np.uint8)
    hashes = rows_around(q, rng)
    words = np.ascontiguousarray(hashes.view(np.uint64).T)
    slots = rng.integers(0, 3, N).astype(np.uint16)
    flags = np.where(rng.random(N) < 0.2, k.FLAG_ENABLED | k.FLAG_LOW_QUALITY, k.FLAG_ENABLED)
    flags = np.where(rng.random(N) < 0.1, 0, flags).astype(np.uint8)
    bank_thr = np.array([QMAX, 12, QMAX], dtype=np.int64)
    bank_on = np.array([1, 1, 0], dtype=np.uint8)
    queries = np.array([q] + [flipped(q, int(rng.integers(0, 3)), 1, rng) for _ in range(nq - 1)])
    qlq = np.arange(nq) % 3 == 2
    qmax = np.where(qlq, LQ, QMAX).astype(np.int64)
    qwords = queries.view(np.uint64).copy()
    assert k.HEAD_FIRST_MAX_QUERIES == 1  # nq 1 takes the head-first filter, 2, 3 and 6 the four-word one
    # (1020, 2046): a 2-row last block after a block of survivors, with survivors just past `hi`
    for lo, hi in [(0, N), (3, N - 5), (1000, 2100), (1020, 2046), (1030, 1031), (7, 7)]:
        out = k.scan_batch(words, lo, hi, slots, flags, qwords, qmax, qlq, bank_thr, bank_on, LQ)
        got = sorted(map(tuple, out.tolist()))
        assert got == expected(hashes, lo, hi, slots, flags, queries, qlq, bank_thr, bank_on)
