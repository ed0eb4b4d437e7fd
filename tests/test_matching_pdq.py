"""PdqIndex: exactness against a numpy brute force, the bank/entry/quality rules, live updates, memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.matching import PdqHits, PdqIndex

U8 = npt.NDArray[np.uint8]
LQ = 8
FAST = settings(max_examples=40, deadline=None)


def hamming(a: U8, b: U8) -> npt.NDArray[np.int64]:
    """The naive definition: count differing bits after unpacking."""
    bits = np.unpackbits(np.bitwise_xor(a, b), axis=-1)
    return np.asarray(bits.sum(axis=-1), dtype=np.int64)


def flip(h: U8, nbits: int, rng: np.random.Generator) -> U8:
    bits = np.unpackbits(h)
    bits[rng.choice(256, nbits, replace=False)] ^= 1
    return np.packbits(bits)


def correlated(n: int, rng: np.random.Generator) -> U8:
    """Hashes that cluster like real PDQ: signs of random projections of 16-dimensional gaussians."""
    proj = np.random.default_rng(7).standard_normal((256, 16))
    return np.packbits(rng.standard_normal((n, 16)) @ proj.T > 0, axis=1)


@dataclass
class Model:
    """The index's contract written as plain numpy, used as the reference."""

    banks: dict[int, tuple[int, bool]] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    bank_of: list[int] = field(default_factory=list)
    hashes: list[U8] = field(default_factory=list)
    lq: list[bool] = field(default_factory=list)
    enabled: list[bool] = field(default_factory=list)

    def query(self, q: U8, qlq: bool) -> tuple[list[int], list[int], list[int]]:
        if not self.ids:
            return [], [], []
        dist = hamming(np.array(self.hashes), q)
        hits = []
        for i, d in enumerate(dist.tolist()):
            thr, on = self.banks[self.bank_of[i]]
            if self.lq[i] or qlq:
                thr = min(thr, LQ)
            if on and self.enabled[i] and d <= thr:
                hits.append((d, self.ids[i], self.bank_of[i]))
        hits.sort()
        return [h[1] for h in hits], [h[2] for h in hits], [h[0] for h in hits]


def as_lists(h: PdqHits) -> tuple[list[int], list[int], list[int]]:
    return h.entry_ids.tolist(), h.bank_ids.tolist(), h.distances.tolist()


def build(rng: np.random.Generator, n: int, kind: str, nbanks: int = 3) -> tuple[PdqIndex, Model, U8]:
    index, model = PdqIndex(low_quality_threshold=LQ, threads=1), Model()
    for b in range(nbanks):
        cfg = (int(rng.integers(0, 40)), bool(rng.random() < 0.8))
        model.banks[100 + b] = cfg
        index.set_bank(100 + b, threshold=cfg[0], enabled=cfg[1])
    db = correlated(n, rng) if kind == "correlated" else rng.integers(0, 256, (n, 32), dtype=np.uint8)
    ids = np.cumsum(rng.integers(1, 5, n))
    banks = 100 + rng.integers(0, nbanks, n)
    lq = rng.random(n) < 0.2
    index.add(ids, banks, db, lq)
    model.ids, model.bank_of, model.hashes = ids.tolist(), banks.tolist(), list(db)
    model.lq, model.enabled = lq.tolist(), [True] * n
    for i in rng.choice(n, n // 10, replace=False).tolist():
        assert index.set_enabled(model.ids[i], False)
        model.enabled[i] = False
    return index, model, db


def near_queries(db: U8, rng: np.random.Generator, m: int) -> U8:
    return np.array([flip(db[rng.integers(len(db))], int(rng.integers(0, 40)), rng) for _ in range(m)])


@pytest.mark.parametrize("kind", ["uniform", "correlated"])
@given(seed=st.integers(0, 2**32 - 1))
@FAST
def test_equals_brute_force_single_and_batch(kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    index, model, db = build(rng, int(rng.integers(1, 400)), kind)
    queries = near_queries(db, rng, 9)
    qlq = rng.random(9) < 0.3
    batch = index.query(queries, qlq)
    for q, lq, hits in zip(queries, qlq.tolist(), batch, strict=True):
        expected = model.query(q, lq)
        assert as_lists(hits) == expected
        assert as_lists(index.query_one(q.tobytes(), lq)) == expected


@given(
    a=st.binary(min_size=32, max_size=32),
    b=st.binary(min_size=32, max_size=32),
)
@FAST
def test_distance_is_symmetric_and_naive(a: bytes, b: bytes) -> None:
    ha, hb = np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8)
    dists = []
    for stored, probe in ((ha, hb), (hb, ha)):
        index = PdqIndex(threads=1)
        index.set_bank(1, threshold=256, enabled=True)
        index.add(np.array([5]), np.array([1]), stored[None, :])
        dists.append(index.query_one(probe.tobytes()).distances.tolist())
    assert dists[0] == dists[1] == [int(hamming(ha, hb))]


@given(seed=st.integers(0, 2**32 - 1), threshold=st.integers(0, 64), data=st.data())
@FAST
def test_planted_neighbour_found_iff_within_threshold(seed: int, threshold: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    db = correlated(300, rng)
    index = PdqIndex(threads=1)
    index.set_bank(1, threshold=threshold, enabled=True)
    index.add(np.arange(300), np.ones(300, np.int64), db)
    target = int(rng.integers(300))
    d = data.draw(st.integers(0, threshold + 8))
    hits = index.query_one(flip(db[target], d, rng).tobytes())
    assert (target in hits.entry_ids.tolist()) == (d <= threshold)
    assert int(hits.distances.max(initial=0)) <= threshold


def test_per_bank_thresholds_and_switches() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, 32, dtype=np.uint8)
    index = PdqIndex(threads=1)
    index.set_bank(1, threshold=10, enabled=True)
    index.set_bank(2, threshold=20, enabled=True)
    index.add(np.array([1, 2]), np.array([1, 2]), np.array([flip(base, 15, rng), flip(base, 15, rng)]))
    assert index.query_one(base.tobytes()).entry_ids.tolist() == [2]
    index.set_bank(1, threshold=31, enabled=True)
    assert sorted(index.query_one(base.tobytes()).entry_ids.tolist()) == [1, 2]
    index.set_bank(2, threshold=31, enabled=False)
    assert index.query_one(base.tobytes()).entry_ids.tolist() == [1]
    assert index.set_enabled(1, False)
    assert len(index.query_one(base.tobytes())) == 0
    assert index.set_enabled(1, True)
    assert index.query_one(base.tobytes()).bank_ids.tolist() == [1]
    assert not index.set_enabled(99, False)


def test_low_quality_rule() -> None:
    rng = np.random.default_rng(2)
    base = rng.integers(0, 256, 32, dtype=np.uint8)
    index = PdqIndex(low_quality_threshold=5, threads=1)
    index.set_bank(1, threshold=31, enabled=True)
    near, far = flip(base, 4, rng), flip(base, 20, rng)
    index.add(np.array([1, 2, 3]), np.ones(3, np.int64), np.array([near, far, far]), np.array([0, 1, 0]))
    assert index.query_one(base.tobytes()).entry_ids.tolist() == [1, 3]  # lq entry 2 needs <= 5
    assert index.query_one(base.tobytes(), low_quality=True).entry_ids.tolist() == [1]


def test_add_remove_visible_to_next_query() -> None:
    rng = np.random.default_rng(3)
    index = PdqIndex(threads=1)
    index.set_bank(1, threshold=31, enabled=True)
    db = rng.integers(0, 256, (50, 32), dtype=np.uint8)
    index.add(np.arange(50), np.ones(50, np.int64), db)
    assert len(index.query_one(db[0].tobytes())) == 1
    index.add(np.array([50]), np.array([1]), db[:1])
    assert index.query_one(db[0].tobytes()).entry_ids.tolist() == [0, 50]
    assert index.remove(0)
    assert not index.remove(0)
    assert not index.set_enabled(0, True)
    assert index.query_one(db[0].tobytes()).entry_ids.tolist() == [50]
    assert len(index) == 50


def test_rejects_bad_input() -> None:
    index = PdqIndex(threads=1)
    index.set_bank(1, threshold=31, enabled=True)
    h = np.zeros((2, 32), np.uint8)
    with pytest.raises(ValueError, match="strictly increasing"):
        index.add(np.array([2, 2]), np.ones(2, np.int64), h)
    with pytest.raises(ValueError, match="set_bank"):
        index.add(np.array([1, 2]), np.array([1, 9]), h)
    with pytest.raises(ValueError, match=r"\(n, 32\) uint8"):
        index.query(np.zeros((1, 31), np.uint8))
    index.add(np.array([5]), np.array([1]), h[:1])
    with pytest.raises(ValueError, match="not above the last id"):
        index.add(np.array([5]), np.array([1]), h[:1])


@pytest.mark.parametrize("appends", [1, 2000])
def test_memory_per_entry_and_threaded_queries(appends: int) -> None:
    """<= 40 bytes per entry bulk loaded or grown in small steps; the threaded paths equal brute force."""
    rng = np.random.default_rng(appends)
    n = 200_000
    db = correlated(n, rng)
    index = PdqIndex(threads=2)
    index.set_bank(1, threshold=31, enabled=True)
    for part in np.array_split(np.arange(n), appends):
        index.add(part, np.ones(len(part), np.int64), db[part])
    assert len(index) == n
    assert index.nbytes / len(index) <= 40
    queries = near_queries(db, rng, 4)
    for q, hits in zip(queries, index.query(queries), strict=True):
        dist = np.bitwise_count(db ^ q).sum(axis=1, dtype=np.int64)  # same as hamming(), 10x faster
        expected = np.flatnonzero(dist <= 31)
        expected = expected[np.lexsort((expected, dist[expected]))]
        assert hits.entry_ids.tolist() == expected.tolist()
        assert index.query_one(q.tobytes()).entry_ids.tolist() == expected.tolist()


def test_removals_are_compacted() -> None:
    rng = np.random.default_rng(4)
    n = 5000
    db = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    index = PdqIndex(threads=1)
    index.set_bank(1, threshold=0, enabled=True)
    index.add(np.arange(n), np.ones(n, np.int64), db)
    before = index.nbytes
    for i in range(0, n, 2):
        assert index.remove(i)
    assert len(index) == n // 2
    assert index.nbytes < before * 0.6
    found = [h.entry_ids.tolist() for h in index.query(db[:6])]
    assert found == [[], [1], [], [3], [], [5]]
    assert index.set_enabled(4999, False)
    assert len(index.query_one(db[4999].tobytes())) == 0


def test_queries_run_while_the_index_changes() -> None:
    """Readers take no lock: a query during appends, bank changes and merges sees a consistent prefix."""
    rng = np.random.default_rng(5)
    db = rng.integers(0, 256, (6000, 32), dtype=np.uint8)
    index = PdqIndex(threads=1)
    index.set_bank(0, threshold=0, enabled=True)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for a in range(0, 6000, 30):
                index.set_bank(a // 30 + 1, threshold=0, enabled=True)  # new bank table each time
                index.add(np.arange(a, a + 30), np.full(30, a // 30 + 1), db[a : a + 30])
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        for row, hits in zip([0, 2999, 5999], index.query(db[[0, 2999, 5999]]), strict=True):
            assert hits.entry_ids.tolist() in ([], [row])
    writer.join()
    assert not errors
    assert [h.entry_ids.tolist() for h in index.query(db[[0, 5999]])] == [[0], [5999]]
