"""Exact PDQ matching: Tutela PdqIndex (plain and +tables) against faiss and python-threatexchange PDQIndex.

Run: .venv/bin/python bench/matching.py [--large] [--n N] [--queries Q]

Two databases of N hashes: uniform random bits, and correlated ones (sign bits of a fixed 256x16 projection of
16-dimensional gaussians, which cluster like real PDQ hashes). Queries are database rows with a neighbour
planted at every distance 0..31, spread evenly. Every method answers the same queries at threshold 31, in
batches of 128 and one at a time; recall is measured against a numpy brute force, per true distance.

Tutela is measured twice: the plain PdqIndex (every segment scanned) and `PdqIndex(chunk_tables=True)`, as the
service runs it ("+tables": one bulk add is one sealed segment, which gets multi-index hashing tables from
65,536 rows on; each query then probes them or scans, see `PdqIndex._plan`). Both at all cores and at one
thread (what each server process uses). The tables row's B/entry includes the tables, and its note gives the
share of queries that probe them rather than scan: crowded buckets (correlated data) fall back to the scan.

How each peer is used:
- faiss IndexBinaryFlat.range_search(radius=32): faiss keeps distances strictly below the radius (checked at
  start-up), so 32 means <= 31.
- threatexchange PDQIndex (HMA's default; faiss IndexBinaryMultiHash): built from (hex, id) pairs and queried
  with `PDQIndex.query(hex)` as HMA does, one hash per call. It has no batch call, so its batch figure is
  128 calls; the table also lists its inner PDQMultiHashIndex batch search (one call per 128) for fairness.
"""

from __future__ import annotations

import argparse
import binascii
import ctypes
import gc
import itertools
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt
from threatexchange.signal_type.pdq.pdq_index import PDQIndex

from tutela.matching import PdqIndex
from tutela.matching.warmup import warm_up_matching

U8 = npt.NDArray[np.uint8]
THRESHOLD = 31
BATCH = 128
Answer = list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]  # per query: ids, distances


@dataclass
class Row:
    method: str
    data: str
    build_s: float
    batch_qps: float
    p50_ms: float
    p99_ms: float
    recall_min: float
    false_pos: int
    bytes_per_entry: float
    note: str = ""


def rss_bytes() -> int:
    """Resident set size after returning freed heap pages to the OS, so only live allocations count."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def make_data(kind: str, n: int, rng: np.random.Generator) -> U8:
    if kind == "uniform":
        return rng.integers(0, 256, (n, 32), dtype=np.uint8)
    proj = np.random.default_rng(20240601).standard_normal((256, 16)).astype(np.float32)
    out = np.empty((n, 32), dtype=np.uint8)
    for a in range(0, n, 1 << 20):  # chunked: the float matrix of 10M x 256 would not fit comfortably
        b = min(n, a + (1 << 20))
        out[a:b] = np.packbits(rng.standard_normal((b - a, 16), dtype=np.float32) @ proj.T > 0, axis=1)
    return out


def plant(db: U8, q: int, rng: np.random.Generator) -> U8:
    """Query i = a random row with (i mod 32) bits flipped: planted neighbours at every distance 0..31."""
    out = db[rng.integers(0, len(db), q)].copy()
    for i in range(q):
        bits = np.unpackbits(out[i])
        bits[rng.choice(256, i % 32, replace=False)] ^= 1
        out[i] = np.packbits(bits)
    return out


def brute_force(db: U8, queries: U8) -> Answer:
    """Ground truth with numpy only: every row at distance <= 31, for each query.

    Exact: the first two words' distance is a partial sum, so rows above 31 there cannot match; the other two
    words are added for the rest. Word columns keep each pass contiguous.
    """
    cols = [np.ascontiguousarray(db.view(np.uint64)[:, i]) for i in range(4)]

    def one(q: U8) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        qw = q.view(np.uint64)
        head = np.bitwise_count(cols[0] ^ qw[0])
        head += np.bitwise_count(cols[1] ^ qw[1])
        rows = np.flatnonzero(head <= THRESHOLD)
        d = head[rows] + np.bitwise_count(cols[2][rows] ^ qw[2]) + np.bitwise_count(cols[3][rows] ^ qw[3])
        keep = d <= THRESHOLD
        return rows[keep].astype(np.int64), d[keep].astype(np.int64)

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        return list(pool.map(one, queries))


def score(truth: Answer, got: Answer) -> tuple[float, int]:
    """Minimum over true distances 0..31 of the recall, and the count of wrong (id, distance) answers."""
    found = np.zeros(THRESHOLD + 1)
    total = np.zeros(THRESHOLD + 1)
    wrong = 0
    for (tid, tdist), (gid, gdist) in zip(truth, got, strict=True):
        expect = dict(zip(tid.tolist(), tdist.tolist(), strict=True))
        answer = dict(zip(gid.tolist(), gdist.tolist(), strict=True))
        np.add.at(total, tdist, 1)
        for i, d in expect.items():
            found[d] += answer.get(i) == d
        wrong += sum(1 for i, d in answer.items() if expect.get(i) != d)
    return float((found[total > 0] / total[total > 0]).min()), wrong


def timed_batches(
    run: Callable[[U8], Answer], queries: U8, repeat: int, omp_options: list[int]
) -> tuple[float, Answer, int]:
    """Queries/s over all queries in batches of 128: best of `repeat` passes and of the OpenMP thread counts.

    Peers get their best of 1 and all faiss OpenMP threads: on a machine shared with other work, OpenMP
    workers waiting at a barrier can make the multi-threaded run far slower than one thread.
    """
    omp = faiss.omp_get_max_threads()
    best, best_omp = float("inf"), omp
    try:
        for threads in omp_options:
            faiss.omp_set_num_threads(threads)
            run(queries[:BATCH])  # warm-up: thread pools, numba cache load
            for _ in range(repeat):
                out: Answer = []
                t = time.perf_counter()
                for a in range(0, len(queries), BATCH):
                    out += run(queries[a : a + BATCH])
                if time.perf_counter() - t < best:
                    best, best_omp = time.perf_counter() - t, threads
    finally:
        faiss.omp_set_num_threads(omp)
    return len(queries) / best, out, best_omp


def timed_single(run: Callable[[U8], Answer], queries: U8, repeat: int) -> tuple[float, float]:
    """p50 and p99 ms of one-query calls; each query timed `repeat` times and its fastest kept.

    faiss runs with one OpenMP thread here: its range searches parallelise over queries only, so a lone query
    uses one thread anyway, and idle OpenMP workers spinning at a barrier only add latency on a busy machine.
    """
    times = np.full(len(queries), np.inf)
    omp = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for _ in range(repeat):
            for i, q in enumerate(queries):
                t = time.perf_counter()
                run(q[None, :])
                times[i] = min(times[i], time.perf_counter() - t)
    finally:
        faiss.omp_set_num_threads(omp)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


Runner = Callable[[U8], Answer]
Describe = Callable[[U8], str] | None  # a note on how the built index answers these queries
Built = tuple[list[tuple[str, Runner]], float, Describe]  # named query modes over one index, bytes/entry


def tutela_method(db: U8) -> Built:
    return _tutela(db, chunk_tables=False)


def tutela_tables_method(db: U8) -> Built:
    return _tutela(db, chunk_tables=True)


def _tutela(db: U8, chunk_tables: bool) -> Built:
    index = PdqIndex(chunk_tables=chunk_tables)
    index.set_bank(1, threshold=THRESHOLD, enabled=True)
    index.add(np.arange(len(db)), np.ones(len(db), np.int64), db)

    def runner(threads: int) -> Runner:
        def run(q: U8) -> Answer:
            index.threads = threads
            hits = [index.query_one(q[0].tobytes())] if len(q) == 1 else index.query(q)
            return [(h.entry_ids, h.distances) for h in hits]

        return run

    cores = index.threads
    name = "tutela PdqIndex+tables" if chunk_tables else "tutela PdqIndex"
    modes = [(f"{name} {cores}T", runner(cores))]
    if cores > 1:  # comparable with the peers' one-thread OpenMP runs
        modes.append((f"{name} 1T", runner(1)))
    return modes, index.nbytes / len(index), (lambda q: probe_note(index, q)) if chunk_tables else None


def probe_note(index: PdqIndex, queries: U8) -> str:
    """Share of the tabled segments' (segment, query) pairs that the index's own plan sends to the tables,
    for one-query calls and for batches of 128 (`PdqIndex._plan`, which queries call with the same inputs)."""
    snap = index._store.snapshot()
    tabled = sum(seg.tables is not None for seg, _ in snap)
    if not tabled:
        return "no segment has tables"
    words = np.ascontiguousarray(queries).view(np.uint64)
    qmax = np.full(len(words), THRESHOLD, dtype=np.int64)

    def probed(step: int) -> float:
        count = 0
        for a in range(0, len(words), step):
            plan = PdqIndex._plan(snap, words[a : a + step], qmax[a : a + step])
            count += sum(sel.size for _, _, sel, probe in plan if probe)
        return count / (len(words) * tabled)

    return f"tables probed by {probed(1):.0%} single, {probed(BATCH):.0%} batch queries"


def faiss_flat_method(db: U8) -> Built:
    index = faiss.IndexBinaryFlat(256)
    index.add(db)

    def run(q: U8) -> Answer:
        lims, dist, ids = index.range_search(q, THRESHOLD + 1)
        return [(ids[a:b], dist[a:b].astype(np.int64)) for a, b in itertools.pairwise(lims)]

    return [("faiss IndexBinaryFlat", run)], index.ntotal * index.code_size / len(db), None


def pdq_index_method(db: U8) -> Built:
    hexes = [binascii.hexlify(h.tobytes()).decode() for h in db]
    index = PDQIndex(entries=zip(hexes, range(len(db)), strict=True))

    def as_answer(pairs: list[tuple[int, int]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def public(q: U8) -> Answer:
        qh = [binascii.hexlify(h.tobytes()).decode() for h in q]
        return [as_answer([(m.metadata, m.similarity_info.distance) for m in index.query(h)]) for h in qh]

    def inner(q: U8) -> Answer:
        qh = [binascii.hexlify(h.tobytes()).decode() for h in q]
        res = index.index.search_with_distance_in_result(qh, THRESHOLD)
        # keyed by hex: a repeated query hash appears once, so look each one up again
        return [as_answer([(int(i), int(d)) for i, _, d in res[h]]) for h in qh]

    return [("tx PDQIndex.query", public), ("tx PDQIndex inner batch", inner)], float("nan"), None


def check_faiss_radius() -> None:
    """faiss range_search keeps distance < radius: with radius 32 a pair at 31 is returned, one at 32 not."""
    base = np.zeros((1, 32), np.uint8)
    d31 = np.packbits(np.arange(256) < 31)[None, :]
    d32 = np.packbits(np.arange(256) < 32)[None, :]
    index = faiss.IndexBinaryFlat(256)
    index.add(np.vstack([d31, d32]))
    _, dist, ids = index.range_search(base, 32)
    if ids.tolist() != [0] or dist.tolist() != [31]:
        raise SystemExit(f"faiss range_search semantics changed: ids {ids}, distances {dist}")


def bench(kind: str, n: int, nq: int, args: argparse.Namespace, rng: np.random.Generator) -> list[Row]:
    db = make_data(kind, n, rng)
    queries = plant(db, nq, rng)
    t = time.perf_counter()
    truth = brute_force(db, queries)
    print(f"\n[{kind}] ground truth by numpy brute force in {time.perf_counter() - t:.1f} s", flush=True)
    print(
        f"{'method':<26} {'data':<10} {'build s':>8} {'q/s b128':>10} {'p50 ms':>9} {'p99 ms':>9} "
        f"{'recall':>7} {'wrong':>5} {'B/entry':>8}"
    )
    rows = []
    for build in (tutela_method, tutela_tables_method, faiss_flat_method, pdq_index_method):
        rss0 = rss_bytes()
        t = time.perf_counter()
        runners, nbytes, describe = build(db)
        build_s = time.perf_counter() - t
        rss_per = (rss_bytes() - rss0) / n
        method_note = describe(queries) if describe else ""
        for name, run in runners:
            ours = name.startswith("tutela")
            omp_options = [faiss.omp_get_max_threads()] if ours else sorted({1, faiss.omp_get_max_threads()})
            qps, got, omp = timed_batches(run, queries, args.repeat, omp_options)
            recall, wrong = score(truth, got)
            inner = name.endswith("inner batch")  # its single query is PDQIndex.query, timed above
            limit = nq if ours else min(args.peer_single, nq)
            sub = queries[: 0 if inner else limit]
            p50, p99 = timed_single(run, sub, args.repeat) if len(sub) else (float("nan"), float("nan"))
            note = f"RSS {rss_per:.0f} B/entry" + ("" if ours else f"; batch best at omp={omp}")
            if 0 < len(sub) < nq:
                note += f"; single on first {len(sub)} queries (d 0..31 evenly)"
            if method_note:
                note += f"; {method_note}"
            per_entry = nbytes if nbytes == nbytes else rss_per
            row = Row(name, kind, build_s, qps, p50, p99, recall, wrong, per_entry, note)
            rows.append(row)
            print_row(row)
        del runners
    return rows


def print_row(r: Row) -> None:
    print(
        f"{r.method:<26} {r.data:<10} {r.build_s:>8.2f} {r.batch_qps:>10.0f} {r.p50_ms:>9.2f} "
        f"{r.p99_ms:>9.2f} {r.recall_min:>7.3f} {r.false_pos:>5d} {r.bytes_per_entry:>8.1f}  {r.note}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--large", action="store_true", help="10M hashes instead of 1M")
    ap.add_argument("--n", type=int, default=None, help="database size (default 1M, 10M with --large)")
    ap.add_argument("--queries", type=int, default=1000, help="number of queries (default 1000)")
    ap.add_argument("--peer-single", type=int, default=200, help="queries the peers are timed on one by one")
    ap.add_argument("--repeat", type=int, default=1, help="time every pass this often, keep the fastest")
    ap.add_argument("--data", choices=["uniform", "correlated", "both"], default="both")
    args = ap.parse_args()
    n = args.n or (10_000_000 if args.large else 1_000_000)
    print("command:", shlex.join([os.path.relpath(sys.executable), *sys.argv]))
    print(f"machine: nproc={os.cpu_count()} cpu={cpu_model()!r} load average={os.getloadavg()}")
    print(f"n={n:,} queries={args.queries} threshold={THRESHOLD} batch={BATCH} repeat={args.repeat} "
          f"tutela threads={PdqIndex().threads} faiss omp threads="
          f"{faiss.omp_get_max_threads()}")  # fmt: skip
    check_faiss_radius()
    print("faiss range_search(radius=32) returns distance < 32 only: verified")
    warm_up_matching()  # as the service does at start: the tables build time then excludes numba's cache load
    rng = np.random.default_rng(1)
    kinds = ["uniform", "correlated"] if args.data == "both" else [args.data]
    rows = [r for kind in kinds for r in bench(kind, n, args.queries, args, rng)]
    for label, prefix in (("tutela", "tutela PdqIndex "), ("tutela+tables", "tutela PdqIndex+tables ")):
        print(f"\nratios {label} / peer (batch q/s; single p50 latency peer/{label}):")
        for kind in kinds:
            ours = next(r for r in rows if r.data == kind and r.method.startswith(prefix))
            for r in rows:
                if r.data == kind and not r.method.startswith("tutela"):
                    lat = r.p50_ms / ours.p50_ms if r.p50_ms == r.p50_ms else float("nan")
                    ratio = ours.batch_qps / r.batch_qps
                    print(f"  {kind:<10} vs {r.method:<24} batch x{ratio:6.1f}  single x{lat:6.1f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
